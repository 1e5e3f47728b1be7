//! Links the bare-metal kernel with `link.ld`: a static executable at fixed addresses in the
//! top 2 GiB, loadable both by bootloader 0.11 and by QEMU's direct boot (see
//! `src/arch/pvh.rs`), whose ELF entry for bootloader is `cella_entry` (`src/boot.rs`: SSE on
//! before the first Rust instruction). The host build (unit tests, clippy) links as usual.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link.ld");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        println!("cargo:rustc-link-arg-bins=-T{dir}/link.ld");
        // The target links a static position-independent executable; QEMU's loader wants
        // fixed physical addresses.
        println!("cargo:rustc-link-arg-bins=--no-pie");
        println!("cargo:rustc-link-arg-bins=--entry=cella_entry");
    }
}
