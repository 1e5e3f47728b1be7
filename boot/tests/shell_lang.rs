//! The POSIX shell language as scripts use it: every script below runs as a file under
//! Cella's `sh` (all in one boot, to keep QEMU runs few) and under the host's `dash`, the
//! model of a small POSIX shell, and the two must agree on stdout and exit status; the
//! scripts of [`ERROR_CASES`] run with `2>&1`, so that dash's wording of errors
//! (`cases/x.sh: 3: foo: not found`) is compared too. A script finds a scratch directory of
//! its own in `$W`. Needs `dash` on the host (boot/setup.sh installs it).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Scratch, cella_with};

/// Scripts compared on stdout and status.
const CASES: &[(&str, &str)] = &[
    (
        "arithmetic",
        r#"echo $((1 + 2 * 3)) $(( (1 + 2) * 3 )) $((7 / 2)) $((-7 % 3)) $((2 << 3)) $((255 >> 4))
echo $((1 < 2)) $((2 <= 1)) $((3 == 3)) $((3 != 3)) $((6 & 3)) $((6 | 3)) $((6 ^ 3)) $((~0))
echo $((!0)) $((!7)) $((1 && 0)) $((0 || 2)) $((1 ? 10 : 20)) $((0 ? 10 : 20))
echo $((010)) $((0x1F)) $((-(-3)))
i=5; echo $((i * 2)) $(($i + 1)) $((i += 3)) $i $((i -= 1)) $((i *= 2)) $((i /= 3)) $((i %= 3)) $i
j=$((k = 4)); echo $j $k
unset u; echo $((u + 1))
n=3; echo $((n<<=2)) $((n>>=1)) $((n&=5)) $((n|=8)) $((n^=1))
echo $(( 0 && (z = 1) )) "z=${z-unset}"
echo $((9223372036854775807 + 1))
"#,
    ),
    (
        "background",
        r#"{ echo "bg group"; } > "$W/bg" & wait; cat "$W/bg"
(exit 3) & wait $!; echo "waited $?"
x=1; { x=2; echo "bg sees x=$x"; } > "$W/bg2" & wait; echo "x=$x"; cat "$W/bg2"
true && echo "chain in bg" > "$W/bg3" & wait; cat "$W/bg3"
"#,
    ),
    (
        "case_patterns",
        r#"for w in apple banana cherry "two words" '*' x.tar.gz .hidden Q ''; do
  case $w in
    a*) echo "$w: a-word" ;;
    b?n*|c*) echo "$w: b or c" ;;
    "two words") echo "$w: quoted" ;;
    \*) echo "$w: star" ;;
    *.tar.*) echo "$w: tarball" ;;
    .*) echo "$w: dot" ;;
    [A-Z]) echo "$w: capital" ;;
    '') echo "empty" ;;
  esac
done
case x in (x) echo paren;; esac
case y in x) echo no;; esac; echo "no match $?"
p='*'; case abc in $p) echo "var pattern";; esac
case abc in "$p") echo no;; *) echo "quoted var is literal";; esac
case a in a) ;; esac; echo "empty arm $?"
"#,
    ),
    (
        "dot_eval_trap",
        r#"echo 'sourced_var=from-file; sourced_fn() { echo "sourced fn $1"; }' > "$W/lib.sh"
. "$W/lib.sh"
echo "$sourced_var"; sourced_fn arg
echo 'echo "dot args $# $1"; return 4; echo not' > "$W/ret.sh"
. "$W/ret.sh"; echo "dot status $?"
cmd='echo evaluated; x=9'
eval "$cmd"; echo "x=$x"
false; eval 'echo "eval sees $?"'; eval ''; echo "empty eval $?"
eval 'for i in 1 2; do echo "eval loop $i"; done'
trap 'echo "exit trap $?"' EXIT
trap
echo "before exit"
exit 3
"#,
    ),
    (
        "for_lists",
        r#"set -- "a b" c
for x; do echo "[$x]"; done
for x in; do echo never; done; echo "empty list $?"
for x in "$@" d; do echo "<$x>"; done
L="1 2  3"
for x in $L; do echo "field $x"; done
for x in "$L"; do echo "whole $x"; done
"#,
    ),
    (
        "functions",
        r#"greet() { echo "hello $1 ($#)"; }
greet world
greet "big world" extra
fact() {
  if [ $1 -le 1 ]; then echo 1; return; fi
  echo $(( $1 * $(fact $(($1 - 1))) ))
}
echo "5! = $(fact 5)"
st() { return $1; }
st 7; echo "return $?"
counter=0
bump() { counter=$((counter + 1)); }
bump; bump; echo "counter $counter"
args() { echo "inner $*"; }
set -- outer params
args a b; echo "outer $*"
early() { for i in 1 2 3; do [ $i = 2 ] && return 5; echo "early $i"; done; }
early; echo "early $?"
sub() (x=changed; echo "in subshell fn $x")
x=orig; sub; echo "x $x"
f2() { echo "redirected"; } > /dev/null
f2; echo "f2 $?"
"#,
    ),
    (
        "heredocs",
        r#"name=world
cat <<EOT
hello $name
sum $((1 + 2)) sub $(echo cmd)
escaped \$name and \\ backslash
EOT
cat <<'EOT'
literal $name $(echo no)
EOT
cat <<-EOT
	tabs stripped $name
	EOT
cat <<A; cat <<B
first
A
second
B
while read line; do echo "read: $line"; done <<EOF
one
two
EOF
f() { cat; }
f <<EOF
to function
EOF
"#,
    ),
    (
        "if_else",
        r#"for n in 1 2 3 4; do
  if [ $n -eq 1 ]; then echo one
  elif [ $n = 2 ]
  then
    echo two
  elif false; then echo never
  else echo "other $n"; fi
done
if false; then echo x; fi; echo "status after empty if: $?"
if ! false; then echo negated; fi
if true && false || true; then echo chain; fi
"#,
    ),
    (
        "loops",
        r#"i=0
while [ $i -lt 5 ]; do i=$((i + 1)); [ $i -eq 2 ] && continue; echo "while $i"; done
until [ $i -eq 0 ]; do i=$((i - 1)); if [ $i -eq 2 ]; then break; fi; echo "until $i"; done
for a in 1 2 3; do
  for b in x y z; do
    [ $b = y ] && continue 2
    [ $a = 3 ] && break 2
    echo "$a$b"
  done
done
echo "after $a $b"
n=0; while :; do n=$((n+1)); [ $n -ge 100 ] && break; done; echo "n=$n"
while false; do :; done; echo "empty while $?"
"#,
    ),
    (
        "params",
        r#"unset U; E=; V=value; P=/usr/lib/file.tar.gz
echo "${U-dash} ${U:-colon} [${E-set}] ${E:-empty} ${V:-unused}"
echo "${U+plus}|${E+plus}|${E:+colon}|${V:+alt}"
echo "${U=assigned} $U"; echo "${E:=filled} $E"
echo "${#V} ${#U} ${#P}"
echo "${P%.*} ${P%%.*} ${P#*/} ${P##*/}"
echo "${P%.gz}" "${P#/usr}" "${P%nomatch}"
x=aXbXc; echo "${x%X*} ${x%%X*} ${x#*X} ${x##*X}"
echo "${V:-a b}" ${U:-x y}
set -- one two three four five six seven eight nine ten eleven
echo "$1 $9 ${10} ${11} $10"
echo "${#}"
"#,
    ),
    (
        "pipelines",
        r#"echo "a b c" | while read x y z; do echo "$z $y $x"; done
for i in 3 1 2; do echo $i; done | sort
echo hi | { read v; echo "got $v"; }
x=outer; echo y | x=inner; echo "x=$x"
f() { while read l; do echo "f:$l"; done; }
{ echo 1; echo 2; } | f
! echo ok | grep -q nope; echo "negated pipeline $?"
if echo needle | grep -q needle; then echo found; fi
echo data > "$W/in"; while read d; do echo "loop read $d"; done < "$W/in"
case $(echo abc | wc -c) in *4*) echo "four chars";; esac
true | false; echo "last stage $?"
"#,
    ),
    (
        "read_builtin",
        r#"read a b <<EOF
first second third
EOF
echo "a=$a b=$b"
read -r raw <<'EOF'
back\slash
EOF
echo "raw=$raw"
read cooked <<'EOF'
back\slash
EOF
echo "cooked=$cooked"
IFS=: read x y z <<EOF
1:2:3:4
EOF
echo "x=$x y=$y z=$z"
read one <<EOF
  padded  
EOF
echo "one=[$one]"
echo "no newline at end" > "$W/partial"
read p < "$W/partial"; echo "p=$p status=$?"
read q < /dev/null; echo "empty status=$?"
while read n rest; do echo "$n|$rest"; done <<EOF
1 a b
2 c
EOF
"#,
    ),
    (
        "redirections",
        r#"echo one > "$W/f"; echo two >> "$W/f"; cat < "$W/f"
{ echo out; echo err >&2; } 2>&1 > /dev/null | cat
if true; then echo "if to file"; fi > "$W/g"; cat "$W/g"
for i in 1 2; do echo "loop $i"; done > "$W/h"; cat "$W/h"
while read l; do echo "<$l>"; done < "$W/f"
cat < "$W/missing"; echo "missing input $?"
echo "to stderr" 1>&2 2>/dev/null
: > "$W/empty"; cat "$W/empty"; echo "truncated"
"#,
    ),
    (
        "set_options",
        r#"set -- x y z
echo "$# $2"
shift; echo "$# $1"
shift 2; echo "$#"
set -- 1 2 3 4 5; shift 3; echo "$*"
set a b; echo "$1$2"
set -u
echo "${unset_var:-default ok}"
set +u
echo "[$unset_var]"
case $- in *u*) echo "u is on";; *) echo "u is off";; esac
(set -e; false; echo "not reached"); echo "set -e subshell $?"
(set -e; false || true; if false; then :; fi; ! true; echo "conditions survive"); echo "status $?"
(set -e; f() { false; echo no; }; f; echo no2); echo "function $?"
"#,
    ),
    (
        "special_params",
        r#"set -- "a b" c "" d
echo "$#"
for a in "$@"; do echo "@[$a]"; done
for a in $@; do echo "u[$a]"; done
for a in "$*"; do echo "*[$a]"; done
IFS=,; echo "$*"; IFS=' 	
'
false; echo "$?"; true; echo "$?"
[ "$$" = "$(echo $$)" ] && echo "subshell sees parent pid"
set --; echo "none: $#"; for a in "$@"; do echo never; done
echo "end"
"#,
    ),
    (
        "splitting_globs",
        r#"cd "$W" && mkdir -p globdir && cd globdir && : > a.txt && : > b.txt && : > c.log && : > .hidden
echo *.txt
echo *
echo .h*
echo "*.txt" '*.txt' \*.txt
echo nomatch*
echo [ab].txt [!a].txt ?.log
pat='*.log'; echo $pat "$pat"
IFS=:; v="x:y::z"; for f in $v; do echo "<$f>"; done
IFS=' :'; v=" a : b  c:"; for f in $v; do echo "{$f}"; done
unset IFS; v="  p   q  "; for f in $v; do echo "($f)"; done
IFS=; v="no split"; for f in $v; do echo "/$f/"; done
"#,
    ),
    (
        "subshells",
        r#"x=1
(x=2; echo "inside $x"; exit 3); echo "outside $x status $?"
{ x=4; echo "group $x"; }; echo "after group $x"
hidden=notexported
(echo "sees $hidden")
f() { echo "function in subshell"; }
(f)
( cd /; pwd )
{ echo a; echo b; } | cat
{ echo first; echo second; } > "$W/grp"; cat "$W/grp"
(echo sub-out; echo sub-err >&2) 2>/dev/null
echo "$( (exit 6); echo $? )"
( set -- p q; echo "$# $1" ); echo "$#"
"#,
    ),
    (
        "substitution",
        r#"x=$(echo hello)
echo "$x" `echo back quoted` "$(echo "nested $(echo deep)")"
lines=$(echo a; echo; echo b; echo; echo)
echo "[$lines]"
y=$(exit 3); echo "assignment status $?"
echo $(echo "a   b")
echo "$(echo "a   b")"
echo `echo \`echo inner\``
z=$(cat <<EOF
from heredoc
EOF
)
echo "$z"
count=$(for i in 1 2 3; do echo $i; done | wc -l)
echo "count $count"
echo "$(case a in a) echo case-in-subst;; esac)"
v=outer; out=$(v=inner; set -- z; echo "$v $1"); echo "$out / $v $#"
f() { echo "function output"; }; echo "$(f)"
before=$(pwd); x=$(cd / && pwd); [ "$(pwd)" = "$before" ] && echo "cwd kept, inner $x"
e=$(echo partial; exit 4; echo never); echo "$e status $?"
t=$(trap 'echo trapped' EXIT; echo body); echo "$t"
"#,
    ),
    (
        "test_builtin",
        r#"t() { if "$@"; then echo "T: $*"; else echo "F($?): $*"; fi; }
cd "$W" && : > empty && echo x > full && mkdir -p dir
t test -n abc; t test -z ""; t test abc; t test ""; t test
t [ a = a ]; t [ a != a ]; t [ 3 -eq 3 ]; t [ 2 -ne 2 ]; t [ 1 -lt 2 ]; t [ 2 -le 1 ]; t [ 3 -gt 2 ]; t [ 2 -ge 3 ]
t [ -e full ]; t [ -f dir ]; t [ -d dir ]; t [ -s empty ]; t [ -s full ]; t [ -e nope ]
t [ ! -e nope ]; t [ -n x -a -z "" ]; t [ -z x -o -n x ]; t [ \( a = b \) -o b = b ]
t [ ! a = a ]; t [ x ]; t [ -n ]
"#,
    ),
    (
        "unterminated_if",
        r#"echo before
if true; then
echo x
"#,
    ),
    (
        "unterminated_quote",
        r#"echo before
echo "a
(echo x
"#,
    ),
];

/// Scripts compared on stdout and stderr together, and status: errors as dash words them.
const ERROR_CASES: &[(&str, &str)] = &[
    (
        "cd_error",
        r#"cd /nonexistent
echo "cd $?"
"#,
    ),
    (
        "division_by_zero",
        r#"echo start
echo $((1/0))
echo never
"#,
    ),
    (
        "errexit",
        r#"echo start
set -e
true
false
echo never
"#,
    ),
    (
        "not_found",
        r#"echo before
nosuch_command_xyz arg
echo "status $?"
/no/such/path
echo "status $?"
"#,
    ),
    (
        "nounset",
        r#"set -u
echo start
echo "$nope"
echo never
"#,
    ),
    (
        "param_error",
        r#"echo start
echo ${X:?custom message}
echo never
"#,
    ),
    (
        "shift_error",
        r#"shift 3
echo never
"#,
    ),
    (
        "test_errors",
        r#"test 1 -eq x
echo "status $?"
[ a = a
echo "status $?"
"#,
    ),
    (
        "unexpected_word",
        r#"echo before
if true; then echo x; fi
done
echo after
"#,
    ),
    (
        "xtrace",
        r#"set -x
echo a b
x=1
f() { echo in f; }
f
"#,
    ),
];

/// Where the scripts are, relative to the directory both shells start in.
const CASE_DIR: &str = "cases";
/// The line that starts a script's output in the session, then its name.
const BEGIN: &str = "==case ";
/// The line that ends it, then its status.
const END: &str = "==status ";

/// What `sh cases/NAME.sh` (with `2>&1` when `merge_stderr`) gives, as the block the
/// session prints for it.
fn block(name: &str, output: &str, status: i32) -> String {
    format!("{BEGIN}{name}\n{output}{END}{status}\n")
}

/// Runs one script under dash in `dir`, with a fresh `$W`.
fn dash(dir: &Path, name: &str, merge_stderr: bool) -> String {
    let work = dir.join("work").join(name);
    fs::create_dir_all(&work).expect("create dash's work directory");
    let script = format!("{CASE_DIR}/{name}.sh");
    let mut command = Command::new("sh");
    let redirect = if merge_stderr { " 2>&1" } else { "" };
    command
        .args(["-c", &format!("dash {script}{redirect}")])
        .current_dir(dir)
        .env("W", &work)
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    let output = command
        .output()
        .expect("cannot run dash: install it (boot/setup.sh does)");
    block(
        name,
        &String::from_utf8_lossy(&output.stdout),
        output.status.code().unwrap_or(-1),
    )
}

/// The session line that runs one script on Cella, in the same way.
fn session_line(name: &str, merge_stderr: bool) -> String {
    let redirect = if merge_stderr { " 2>&1" } else { "" };
    format!(
        "echo '{BEGIN}{name}'; mkdir -p /tmp/w/{name}; \
         W=/tmp/w/{name} sh {CASE_DIR}/{name}.sh < /dev/null{redirect}; echo \"{END}$?\"\n"
    )
}

#[test]
fn scripts_agree_with_dash() {
    let scratch = Scratch::new("shell-lang");
    let cases_dir = scratch.path(CASE_DIR);
    fs::create_dir_all(&cases_dir).expect("create the case directory");
    let all: Vec<(&str, &str, bool)> = CASES
        .iter()
        .map(|&(name, script)| (name, script, false))
        .chain(
            ERROR_CASES
                .iter()
                .map(|&(name, script)| (name, script, true)),
        )
        .collect();
    let mut session = String::from("cd /\n");
    for &(name, script, merge) in &all {
        fs::write(cases_dir.join(format!("{name}.sh")), script).expect("write a case");
        session.push_str(&session_line(name, merge));
    }
    let dir_arg = scratch.arg(CASE_DIR, &format!("/{CASE_DIR}"));
    let run = cella_with(&["--dir", &dir_arg], session.as_bytes(), &[]);
    let stdout = run.stdout();
    // Cella's blocks by script name.
    let mut cella: BTreeMap<String, String> = BTreeMap::new();
    for piece in stdout.split(BEGIN).skip(1) {
        let name = piece.lines().next().unwrap_or_default().to_string();
        cella.insert(name, format!("{BEGIN}{piece}"));
    }
    let mut differences = Vec::new();
    for &(name, _, merge) in &all {
        let expected = dash(scratch.path("").as_path(), name, merge);
        let got = cella.get(name).cloned().unwrap_or_default();
        if got != expected {
            differences.push(format!(
                "--- {name}: dash\n{expected}--- {name}: Cella\n{got}"
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} scripts differ from dash:\n{}\nCella's stderr:\n{}",
        differences.len(),
        all.len(),
        differences.join("\n"),
        run.stderr
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
}
