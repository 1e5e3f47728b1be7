//! Names the kernel ELF's entry: `cella_entry` (kernel/src/boot.rs) turns SSE on before the
//! first Rust instruction runs. Host builds (the unit tests of the pure modules) keep theirs.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo::rustc-link-arg-bins=--entry=cella_entry");
    }
}
