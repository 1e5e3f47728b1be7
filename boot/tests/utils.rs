//! The coreutils that scripts need, in Cella's shell: one booted session runs them in
//! pipelines, with what only Cella has — `xargs` starting programs through `cella_process`,
//! `df` asking the kernel for the file system's size and use, `uname`, `/bin/[` as another
//! name for `test` — and checks the whole output. (`gnu.rs` compares each tool with GNU's
//! on the host.)

mod common;

use common::{Run, cella_with};

/// Runs `script` through the shell of a freshly booted Cella.
fn session(script: &str) -> Run {
    let no_args: &[&str] = &[];
    cella_with(no_args, script.as_bytes(), &[])
}

#[test]
fn coreutils_in_pipelines() {
    let run = session(concat!(
        "printf '%s\\n' banana apple cherry > /tmp/f.txt\n",
        "cat /tmp/f.txt | tr a-z A-Z | cut -c1-3 | sort | tee /tmp/g.txt | tr -d '\\n'; echo\n",
        "cat /tmp/g.txt | xargs\n",
        "/bin/[ -f /tmp/f.txt ] && echo file\n",
        "/bin/test -d /tmp/f.txt; echo \"not a dir $?\"\n",
        "/bin/[ -d /tmp; echo \"no bracket $?\"\n",
        "expr 6 '*' 7 + 1; expr /tmp/f.txt : '.*/\\(.*\\)\\.txt'\n",
        "basename /tmp/f.txt .txt; dirname /tmp/f.txt\n",
        "mkdir -p /tmp/t/sub; printf x > /tmp/t/a.c; printf 2000 > /tmp/t/sub/b.c\n",
        "find /tmp/t -name '*.c' | xargs cat; echo\n",
        "find /tmp/t -type f | xargs -n 1 basename\n",
        "echo a b c d e | xargs -n 2 echo pair\n",
        "printf 'one\\ntwo\\n' | xargs -I X echo item X.\n",
        "printf 'q\\0r s\\0' | xargs -0 -t echo\n",
        "echo | xargs -r echo never; echo \"nothing to run $?\"\n",
        "echo x | xargs false; echo \"false gives $?\"\n",
        "echo x | xargs nosuch; echo \"nosuch gives $?\"\n",
        "seq 3 | xargs -n 1 expr 10 +\n",
        "du -s /tmp/t; du -a /tmp/t\n",
        "date -u -d @86400 '+%F %T %a'\n",
        "uname; uname -a; uname -sm\n",
        "which sh ls; which -a nosuch; echo \"which $?\"\n",
        "df / /tmp/f.txt\n",
        "df -h /nonexistent; echo \"df $?\"\n",
    ));
    let out = run.stdout();
    let (df, rest) = out
        .split_once("Filesystem ")
        .unwrap_or_else(|| panic!("no df header in:\n{out}\nstderr:\n{}", run.stderr));
    let expected = concat!(
        "APPBANCHE\n",
        "APP BAN CHE\n",
        "file\n",
        "not a dir 1\n",
        "no bracket 2\n",
        "43\n",
        "f\n",
        "f\n",
        "/tmp\n",
        "x2000\n",
        "a.c\n",
        "b.c\n",
        "pair a b\n",
        "pair c d\n",
        "pair e\n",
        "item one.\n",
        "item two.\n",
        "q r s\n",
        "nothing to run 0\n",
        "false gives 123\n",
        "nosuch gives 127\n",
        "11\n",
        "12\n",
        "13\n",
        "2\t/tmp/t\n",
        "1\t/tmp/t/a.c\n",
        "1\t/tmp/t/sub/b.c\n",
        "1\t/tmp/t/sub\n",
        "2\t/tmp/t\n",
        "1970-01-02 00:00:00 Fri\n",
        "Cella\n",
        "Cella cella 0.1.0 0.1.0 x86_64 Cella\n",
        "Cella x86_64\n",
        "/bin/sh\n",
        "/bin/ls\n",
        "which 1\n",
    );
    assert_eq!(df, expected, "stderr:\n{}", run.stderr);
    // df: the header, then one line per operand with the same figures (one file system), in
    // KiB: the size is --fs-size's default (half the RAM), and /bin alone uses some.
    let lines: Vec<&str> = rest.lines().collect();
    assert!(lines[0].ends_with("Use% Mounted on"), "{rest}");
    assert_eq!(lines[1], lines[2], "{rest}");
    let fields: Vec<&str> = lines[1].split_whitespace().collect();
    let [name, size, used, available, percent, mount] = fields[..] else {
        panic!("df line {:?}", lines[1]);
    };
    let kib = |s: &str| s.parse::<u64>().unwrap_or_else(|_| panic!("{s} in {rest}"));
    let (size, used, available) = (kib(size), kib(used), kib(available));
    assert_eq!((name, mount), ("cella-vfs", "/"), "{rest}");
    assert!(size >= 64 << 10, "{rest}");
    assert!(used > 100 && used < size, "{rest}");
    assert!(available.abs_diff(size - used) <= 1, "{rest}");
    assert_eq!(
        percent,
        format!("{}%", (used * 100).div_ceil(size)),
        "{rest}"
    );
    assert_eq!(lines[3..], ["df 1"], "{rest}");
    assert!(
        run.stderr.contains("echo q r s\n")
            && run
                .stderr
                .contains("xargs: nosuch: No such file or directory\n")
            && run
                .stderr
                .contains("df: /nonexistent: No such file or directory\n"),
        "stderr:\n{}",
        run.stderr
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
}
