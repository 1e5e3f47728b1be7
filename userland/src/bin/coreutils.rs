//! `coreutils`: one module holding many of `/bin`'s tools, run as any of them: `/bin/cut`,
//! `/bin/find` and the others are hard links to it (`cella_proto::ramdisk::LINKS` lists them
//! for the image builder), and the name in `argv[0]` picks the tool, as in GNU's
//! single-binary build or BusyBox. Each tool is still its own program too
//! (`userland/src/bin/NAME.rs` is both a module here and a bin of its own, which the tests
//! and `./qemu.sh userland/NAME.wasm` run).
//!
//! Why: the ramdisk of `/bin` is packed with Zstandard, which finds the std code repeated
//! across programs only in part (each program lays it out its own way), so each small
//! program still costs 5–17 KB of the boot image. One module for these 22 tools keeps the
//! image within its 2.5 MB. Loading a module costs in proportion to its size (the kernel's
//! wasmi validates all of it at spawn), so the programs spawned most in loops, pipelines
//! and background jobs (`test`/`[`, `expr`, `echo`, `cat`, `true`, `grep`, `sleep`...) stay
//! small modules of their own.
//!
//! Run as `coreutils`, it lists the tools.
use std::io::Write;

/// Declares each tool's module (its source file in `src/bin`) and the table from the names
/// it runs as to its `main`.
macro_rules! tools {
    ($($tool:ident = $file:literal),* $(,)?) => {
        $(
            #[path = $file]
            mod $tool;
        )*
        /// The tools by the name they run as, sorted.
        const TOOLS: &[(&str, fn())] = &[$((stringify!($tool), $tool::main)),*];
    };
}

tools! {
    basename = "basename.rs",
    cp = "cp.rs",
    cut = "cut.rs",
    date = "date.rs",
    df = "df.rs",
    dirname = "dirname.rs",
    du = "du.rs",
    find = "find.rs",
    ln = "ln.rs",
    mkdir = "mkdir.rs",
    mv = "mv.rs",
    printf = "printf.rs",
    rm = "rm.rs",
    seq = "seq.rs",
    tee = "tee.rs",
    touch = "touch.rs",
    tr = "tr.rs",
    uname = "uname.rs",
    uniq = "uniq.rs",
    which = "which.rs",
    xargs = "xargs.rs",
    yes = "yes.rs",
}

fn main() {
    let invoked = std::env::args_os().next().unwrap_or_default();
    let name = std::path::Path::new(&invoked)
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default();
    if let Some((_, tool)) = TOOLS.iter().find(|(tool, _)| *tool == name) {
        tool();
        return;
    }
    let names: Vec<&str> = TOOLS.iter().map(|(tool, _)| *tool).collect();
    let _ = writeln!(
        std::io::stderr(),
        "coreutils: run me by one of the names of my tools (a link such as /bin/expr): {}",
        names.join(" ")
    );
    std::process::exit(1);
}
