//! The repository as a build: the kernel ELF, the BIOS and UEFI disk images and the userland
//! programs, each rebuilt only when missing or older than its sources.
//!
//! Every build goes to its own target directory (`target/kernel`, `target/image-builder`,
//! `userland/target`), never the workspace's `target/`: the integration tests run this
//! runner from inside `cargo test`, which keeps `target/` locked.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use cella_proto::{image, ramdisk};

/// Written after each kernel build: when it is newer than every input, cargo need not run.
const KERNEL_CHECKED: &str = "target/kernel/cella-kernel.checked";
/// The Rust target the kernel is built for: `x86_64-unknown-none` with SSE2 instead of soft
/// float (docs/dispatch.md says why), a spec file of the kernel crate, so `core`, `alloc` and
/// `compiler_builtins` are built for it too (`-Zbuild-std`, as for the bootloader's stages).
const KERNEL_TARGET: &str = "x86_64-cella-none";
/// The kernel's target spec, relative to the checkout.
const KERNEL_TARGET_SPEC: &str = "kernel/x86_64-cella-none.json";
/// The Rust target of userland programs (and of the projects `--new` makes).
pub const USERLAND_TARGET: &str = "wasm32-wasip1";
/// The C compiler for userland/c (wasi-libc's sysroot is /usr on Debian).
const CLANG: &str = "clang";
/// Programs of `userland/src/bin` that exist for the tests and benchmarks and stay out of the
/// system's `/bin`. Every other program there goes into the images' ramdisk as `/bin/NAME`.
pub const TEST_ONLY_PROGRAMS: &[&str] = &[
    "hello",
    "readfiles",
    "exhaust",
    "echoserver",
    "printargs",
    "printenv",
    "exit",
    "trap",
    "stdio",
    "clocks",
    "random",
    "alloc",
    "files",
    "fsbench",
    "bench",
    "napms",
    "oom",
    "proctest",
    "spawnloop",
    "pingpong",
    "syscalls",
    "pipebench",
    "smithrun",
];

/// Paths of a built system.
#[derive(Debug, Clone)]
pub struct Images {
    /// Disk image for BIOS boot.
    pub bios: PathBuf,
    /// Disk image for UEFI boot.
    pub uefi: PathBuf,
    /// The pieces of the ISO (`cella_proto::image::ISO_*`), taken from both images.
    pub iso_parts: PathBuf,
    /// The kernel the images hold, for QEMU's direct boot.
    pub kernel: PathBuf,
    /// The images' ramdisk (`/bin`), for QEMU's direct boot in shell mode.
    pub ramdisk: PathBuf,
}

/// The Cella source tree.
#[derive(Debug, Clone)]
pub struct Project {
    root: PathBuf,
    verbose: bool,
}

impl Project {
    /// The tree this runner was built from, or `$CELLA_ROOT` when set.
    pub fn locate(verbose: bool) -> Project {
        let root = std::env::var_os("CELLA_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default()
            });
        Project { root, verbose }
    }

    /// The checkout's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where images and per-run files live.
    pub fn output_dir(&self) -> PathBuf {
        self.root.join("target/cella")
    }

    /// Whether the kernel ELF is newer than everything it is built from: its sources (cargo's
    /// dep-info), the manifests and lock file, the toolchain file, the target spec, and the
    /// kernel's build script and linker script.
    fn kernel_up_to_date(&self, checked: &Path) -> bool {
        let inputs: Vec<PathBuf> = [
            "Cargo.toml",
            "Cargo.lock",
            "rust-toolchain.toml",
            KERNEL_TARGET_SPEC,
            "kernel/Cargo.toml",
            "kernel/build.rs",
            "kernel/link.ld",
        ]
        .iter()
        .map(|name| self.root.join(name))
        .collect();
        built_from(&self.kernel_elf(), checked, &inputs)
    }

    /// The kernel ELF as the kernel build leaves it.
    pub fn kernel_elf(&self) -> PathBuf {
        self.root
            .join("target/kernel")
            .join(KERNEL_TARGET)
            .join("release/cella-kernel")
    }

    /// Builds the kernel (cargo decides whether anything changed) and the system programs
    /// (when older than their sources) and, when the kernel or one of those programs is newer
    /// than them, the disk images, whose ramdisk holds the system programs as `/bin`, and the
    /// pieces of the ISO.
    pub fn images(&self) -> Result<Images, String> {
        let elf = self.kernel_elf();
        if !elf.exists() {
            eprintln!("cella: building the kernel (first run: this takes a minute or two)");
        }
        // Asking cargo costs a run 0.1–0.5 s, more than booting: skipped when the kernel is
        // newer than every file its last build read.
        let checked = self.root.join(KERNEL_CHECKED);
        if !self.kernel_up_to_date(&checked) {
            let spec = self.root.join(KERNEL_TARGET_SPEC);
            self.cargo(
                "the kernel",
                &[
                    "build",
                    "--release",
                    "-p",
                    "cella-kernel",
                    "--target",
                    &spec.to_string_lossy(),
                    "-Zjson-target-spec",
                    "-Zbuild-std=core,alloc,compiler_builtins",
                ],
                &self.root.join("target/kernel"),
                &self.root.join("Cargo.toml"),
                &[("RUSTC_BOOTSTRAP", "1")],
            )?;
            // Up to date now, even if cargo had nothing to do for a newer manifest.
            fs::write(&checked, b"")
                .map_err(|e| format!("cannot write {}: {e}", checked.display()))?;
        }
        let out = self.output_dir();
        let images = Images {
            bios: out.join(image::BIOS_IMAGE),
            uefi: out.join(image::UEFI_IMAGE),
            iso_parts: out.join(image::ISO_PARTS_DIR),
            kernel: out.join(image::KERNEL),
            ramdisk: out.join(image::RAMDISK),
        };
        let kernel_time =
            modified(&elf).ok_or_else(|| format!("the kernel build left no {}", elf.display()))?;
        let programs = self.system_programs()?;
        let inputs = programs
            .iter()
            .try_fold(kernel_time, |newest, program| {
                modified(program).map(|time| newest.max(time))
            })
            .ok_or("a system program was not built")?;
        // The ISO's FAT is written last.
        let fresh = [
            &images.kernel,
            &images.bios,
            &images.uefi,
            &images.iso_parts.join(image::ISO_BOOT_FAT),
        ]
        .iter()
        .all(|image| modified(image).is_some_and(|time| time >= inputs));
        if !fresh {
            self.build_images(&elf, &out, &programs)?;
        }
        Ok(images)
    }

    /// The programs of the system's `/bin` (see [`TEST_ONLY_PROGRAMS`]), as
    /// `userland/NAME.wasm`, built first when one is missing or older than the sources.
    pub fn system_programs(&self) -> Result<Vec<PathBuf>, String> {
        let userland = self.root.join("userland");
        let names = system_program_names(&userland_bin_names(&userland.join("src/bin"))?);
        let programs: Vec<PathBuf> = names
            .iter()
            .map(|name| userland.join(format!("{name}.wasm")))
            .collect();
        let sources = self.newest_userland_source();
        let stale = programs.iter().any(|program| {
            modified(program).is_none_or(|built| sources.is_some_and(|s| built < s))
        });
        if stale {
            eprintln!("cella: building the system programs (/bin)");
            self.build_userland(None)?;
        }
        Ok(programs)
    }

    fn build_images(&self, elf: &Path, out: &Path, programs: &[PathBuf]) -> Result<(), String> {
        let target_dir = self.root.join("target/image-builder");
        let builder = target_dir.join("release/cella-image");
        if !builder.exists() {
            eprintln!(
                "cella: building the disk image builder (first run: this takes a minute or two)"
            );
        }
        // bootloader's build script compiles its stages with -Zbuild-std (boot/image/Cargo.toml).
        self.cargo(
            "the image builder",
            &["build", "--release", "-p", "cella-image"],
            &target_dir,
            &self.root.join("Cargo.toml"),
            &[("RUSTC_BOOTSTRAP", "1")],
        )?;
        // The kernel build keeps its symbols (for fault reports and `boot/bench/profile.sh`,
        // which must resolve addresses of exactly the kernel that ran); the images get a
        // stripped copy, as BIOS stage 2 loads it through slow int13 calls.
        let stripped = out.join(image::KERNEL);
        fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
        let status = Command::new(llvm_strip()?)
            .arg("--strip-all")
            .arg("-o")
            .arg(&stripped)
            .arg(elf)
            .status()
            .map_err(|e| format!("cannot run llvm-strip: {e}"))?;
        if !status.success() {
            return Err("stripping the kernel failed (see above)".into());
        }
        let status = Command::new(&builder)
            .arg(&stripped)
            .arg(out)
            .args(programs)
            .status()
            .map_err(|e| format!("cannot run {}: {e}", builder.display()))?;
        if !status.success() {
            return Err("building the disk images failed (see above)".into());
        }
        Ok(())
    }

    /// If `program` names a program of this repository (`userland/NAME.wasm` with a source
    /// `userland/src/bin/NAME.rs` or `userland/c/NAME.c`), builds it when missing or older
    /// than its sources.
    pub fn refresh_userland(&self, program: &Path) -> Result<(), String> {
        if let Some(source) = self.c_source(program) {
            let fresh = modified(program)
                .is_some_and(|built| modified(&source).is_some_and(|s| built >= s));
            return if fresh { Ok(()) } else { self.build_c(&source) };
        }
        let Some(name) = self.userland_name(program) else {
            return Ok(());
        };
        let sources = self.newest_userland_source();
        let fresh = modified(program).is_some_and(|built| sources.is_some_and(|s| built >= s));
        if fresh {
            return Ok(());
        }
        self.build_userland(Some(&name))
    }

    /// Builds every userland program into `userland/NAME.wasm`: the Rust ones, and the C ones
    /// when clang is installed (`boot/setup.sh --with-c`).
    pub fn build_all_userland(&self) -> Result<(), String> {
        self.build_userland(None)?;
        let Ok(sources) = fs::read_dir(self.root.join("userland/c")) else {
            return Ok(());
        };
        if Command::new(CLANG).arg("--version").output().is_err() {
            eprintln!(
                "cella: clang not found: the C programs in userland/c are not built (boot/setup.sh --with-c)"
            );
            return Ok(());
        }
        for source in sources.flatten().map(|e| e.path()) {
            if source.extension() == Some(OsStr::new("c")) {
                self.build_c(&source)?;
            }
        }
        Ok(())
    }

    /// `userland/c/NAME.c` if `program` is `userland/NAME.wasm` and that source exists.
    fn c_source(&self, program: &Path) -> Option<PathBuf> {
        let (userland, name) = self.userland_program(program)?;
        let source = userland.join("c").join(format!("{name}.c"));
        source.exists().then_some(source)
    }

    /// The canonical `userland/` directory and NAME, if `program` is `userland/NAME.wasm`.
    fn userland_program(&self, program: &Path) -> Option<(PathBuf, String)> {
        let dir = match program.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let userland = fs::canonicalize(self.root.join("userland")).ok()?;
        if fs::canonicalize(dir).ok()? != userland
            || program.extension() != Some(OsStr::new("wasm"))
        {
            return None;
        }
        let name = program.file_stem()?.to_str()?.to_string();
        Some((userland, name))
    }

    /// Compiles a C program with clang and wasi-libc (Debian's `wasi-libc` package).
    fn build_c(&self, source: &Path) -> Result<(), String> {
        let name = source
            .file_stem()
            .and_then(OsStr::to_str)
            .unwrap_or("program");
        let userland = self.root.join("userland");
        let temp = userland.join(format!(".{name}.wasm.{}", std::process::id()));
        let output = Command::new(CLANG)
            .args([
                "--target=wasm32-wasi",
                "--sysroot=/usr",
                "-O2",
                "-Wall",
                "-Werror",
                "-o",
            ])
            .arg(&temp)
            .arg(source)
            .output()
            .map_err(|_| {
                format!(
                    "building {} needs clang and wasi-libc: run boot/setup.sh --with-c",
                    source.display()
                )
            })?;
        if !output.status.success() {
            let _ = fs::remove_file(&temp);
            return Err(format!(
                "compiling {} failed (boot/setup.sh --with-c installs clang and wasi-libc):\n{}",
                source.display(),
                String::from_utf8_lossy(&output.stderr).trim_end()
            ));
        }
        fs::rename(&temp, userland.join(format!("{name}.wasm")))
            .map_err(|e| format!("cannot write userland/{name}.wasm: {e}"))
    }

    /// NAME, if `program` is `userland/NAME.wasm` built from `userland/src/bin/NAME.rs`.
    fn userland_name(&self, program: &Path) -> Option<String> {
        let (userland, name) = self.userland_program(program)?;
        let source = userland.join("src/bin").join(format!("{name}.rs"));
        source.exists().then_some(name)
    }

    fn newest_userland_source(&self) -> Option<SystemTime> {
        let userland = self.root.join("userland");
        let mut newest = None;
        for path in [userland.join("Cargo.toml"), userland.join("Cargo.lock")] {
            newest = newest.max(modified(&path));
        }
        // The programs, and the crates of this repository they depend on.
        for dir in ["src", "process", "shell-core"] {
            newest_in(&userland.join(dir), &mut newest);
        }
        newest
    }

    fn build_userland(&self, name: Option<&str>) -> Result<(), String> {
        let userland = self.root.join("userland");
        let mut args = vec!["build", "--release", "--target", USERLAND_TARGET];
        match name {
            Some(name) => args.extend(["--bin", name]),
            None => args.push("--bins"),
        }
        self.cargo(
            "userland",
            &args,
            &userland.join("target"),
            &userland.join("Cargo.toml"),
            &[],
        )?;
        let built = userland
            .join("target")
            .join(USERLAND_TARGET)
            .join("release");
        let names: Vec<String> = match name {
            Some(name) => vec![name.to_string()],
            None => userland_bin_names(&userland.join("src/bin"))?,
        };
        for name in names {
            let from = built.join(format!("{name}.wasm"));
            let to = userland.join(format!("{name}.wasm"));
            // Copy beside, then rename: a concurrent run never sees half a program.
            let temp = userland.join(format!(".{name}.wasm.{}", std::process::id()));
            fs::copy(&from, &temp)
                .and_then(|_| fs::rename(&temp, &to))
                .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))?;
        }
        Ok(())
    }

    fn cargo(
        &self,
        what: &str,
        args: &[&str],
        target_dir: &Path,
        manifest: &Path,
        env: &[(&str, &str)],
    ) -> Result<(), String> {
        let mut command =
            Command::new(std::env::var_os("CELLA_CARGO").unwrap_or_else(|| "cargo".into()));
        command
            .args(args)
            .arg("--manifest-path")
            .arg(manifest)
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(&self.root)
            .envs(env.iter().copied())
            // Inherited from `cargo test`/`cargo run`, these would point at the wrong toolchain
            // or flags for a different target.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("CARGO_TARGET_DIR");
        if env.iter().all(|(name, _)| *name != "RUSTC_BOOTSTRAP") {
            command.env_remove("RUSTC_BOOTSTRAP");
        }
        if !self.verbose {
            command.arg("--quiet");
        }
        let status = command.status().map_err(|e| {
            format!(
                "cannot run cargo ({e}): install Rust with rustup (https://rustup.rs), then retry"
            )
        })?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "building {what} failed (see the cargo output above)"
            ))
        }
    }
}

/// rustup's `llvm-strip` (the `llvm-tools` component, which the bootloader build needs too).
fn llvm_strip() -> Result<PathBuf, String> {
    let missing = || {
        "llvm-strip not found: run `rustup component add llvm-tools` (or ./qemu.sh --setup)"
            .to_string()
    };
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map_err(|_| missing())?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    fs::read_dir(sysroot.join("lib/rustlib"))
        .map_err(|_| missing())?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin/llvm-strip"))
        .find(|path| path.exists())
        .ok_or_else(missing)
}

/// NAME of every program in `dir` (userland/src/bin), sorted: `NAME.rs`, or `NAME/main.rs`
/// as cargo finds them.
fn userland_bin_names(dir: &Path) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let program = path.extension().is_some_and(|e| e == "rs")
                || (path.is_dir() && path.join("main.rs").is_file());
            program.then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// The programs of `all` that belong in the system's `/bin`: not the test programs, nor the
/// tools `coreutils` runs as (their names are links to it there, see [`ramdisk::LINKS`]).
fn system_program_names(all: &[String]) -> Vec<String> {
    all.iter()
        .filter(|name| !TEST_ONLY_PROGRAMS.contains(&name.as_str()))
        .filter(|name| !ramdisk::LINKS.iter().any(|(link, _)| link == name))
        .cloned()
        .collect()
}

/// Whether cargo's `output` was up to date when `checked` was last written (after a build)
/// and stays so: `checked` is newer than `output`, every file of its dep-info (`OUTPUT.d`,
/// the sources its last build read) and `inputs` (manifests, linker scripts and other files
/// the dep-info leaves out). False whenever anything is missing or unreadable: cargo then
/// decides.
fn built_from(output: &Path, checked: &Path, inputs: &[PathBuf]) -> bool {
    let Some(built) = modified(checked) else {
        return false;
    };
    let mut depinfo = output.as_os_str().to_owned();
    depinfo.push(".d");
    let Ok(depinfo) = fs::read_to_string(depinfo) else {
        return false;
    };
    let mut sources = Vec::new();
    for line in depinfo.lines().filter(|line| !line.trim().is_empty()) {
        let Some((_, deps)) = line.split_once(": ") else {
            return false;
        };
        sources.extend(dep_info_paths(deps));
    }
    !sources.is_empty()
        && sources
            .iter()
            .map(PathBuf::from)
            .chain(inputs.iter().cloned())
            .chain([output.to_path_buf()])
            .all(|input| modified(&input).is_some_and(|time| time <= built))
}

/// The paths of a dep-info rule's right-hand side: separated by spaces, a space inside a path
/// escaped with a backslash.
fn dep_info_paths(deps: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut path = String::new();
    let mut chars = deps.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => path.extend(chars.next()),
            ' ' => {
                if !path.is_empty() {
                    paths.push(std::mem::take(&mut path));
                }
            }
            _ => path.push(c),
        }
    }
    if !path.is_empty() {
        paths.push(path);
    }
    paths
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn newest_in(dir: &Path, newest: &mut Option<SystemTime>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            newest_in(&path, newest);
        } else {
            *newest = (*newest).max(modified(&path));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep_info_paths_split_on_unescaped_spaces() {
        assert_eq!(
            dep_info_paths("/a/b.rs /c\\ d/e.rs  /f.rs"),
            ["/a/b.rs", "/c d/e.rs", "/f.rs"]
        );
    }

    /// The check that lets a run skip cargo: fresh only when the output is newer than every
    /// source of its dep-info and every extra input, and never when something is missing.
    #[test]
    fn built_from_compares_the_output_with_every_input() {
        let dir = std::env::temp_dir().join(format!("cella-built-from-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let source = dir.join("main.rs");
        let manifest = dir.join("Cargo.toml");
        let output = dir.join("out");
        let checked = dir.join("checked");
        let set = |path: &Path, seconds: u64| {
            let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds);
            fs::File::options()
                .write(true)
                .open(path)
                .and_then(|file| file.set_modified(time))
                .unwrap();
        };
        for path in [&source, &manifest, &output, &checked] {
            fs::write(path, "").unwrap();
        }
        fs::write(
            dir.join("out.d"),
            format!("{}: {}\n", output.display(), source.display()),
        )
        .unwrap();
        set(&source, 1000);
        set(&manifest, 1000);
        set(&output, 2000);
        set(&checked, 2500);
        assert!(built_from(
            &output,
            &checked,
            std::slice::from_ref(&manifest)
        ));
        set(&source, 3000);
        assert!(!built_from(&output, &checked, &[]), "a newer source");
        set(&source, 1000);
        set(&manifest, 3000);
        let inputs = std::slice::from_ref(&manifest);
        assert!(!built_from(&output, &checked, inputs), "a newer manifest");
        set(&manifest, 1000);
        set(&output, 3000);
        assert!(!built_from(&output, &checked, &[]), "a newer output");
        set(&output, 2000);
        let missing = [dir.join("missing")];
        assert!(!built_from(&output, &checked, &missing), "a missing input");
        assert!(
            !built_from(&output, &dir.join("unchecked"), &[]),
            "never checked"
        );
        fs::remove_file(dir.join("out.d")).unwrap();
        assert!(!built_from(&output, &checked, &[]), "no dep-info");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bin_holds_every_program_but_the_test_ones() {
        let all: Vec<String> = [
            "cat", "hello", "init", "ls", "napms", "sh", "proctest", "trap",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(system_program_names(&all), ["cat", "init", "ls", "sh"]);
    }

    #[test]
    fn the_repository_has_system_programs_and_no_test_program_among_them() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let all = userland_bin_names(&root.join("userland/src/bin")).unwrap();
        let system = system_program_names(&all);
        assert!(system.iter().any(|n| n == "ls"), "{system:?}");
        assert!(!system.iter().any(|n| n == "hello" || n == "trap"));
        assert!(system.iter().any(|n| n == ramdisk::MULTICALL), "{system:?}");
        assert!(!system.iter().any(|n| n == "cut"), "{system:?}");
        assert!(system.iter().any(|n| n == "test"), "{system:?}");
    }

    #[test]
    fn coreutils_holds_exactly_the_tools_the_ramdisk_links_to_it() {
        // `coreutils.rs` declares each tool as `NAME = "NAME.rs",` in its `tools!` list.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let source = fs::read_to_string(root.join("userland/src/bin/coreutils.rs")).unwrap();
        let mut declared: Vec<&str> = source
            .lines()
            .filter_map(|line| {
                let (name, file) = line.trim().trim_end_matches(',').split_once(" = ")?;
                (file == format!("\"{name}.rs\"")).then_some(name)
            })
            .collect();
        for name in &declared {
            let program = root.join(format!("userland/src/bin/{name}.rs"));
            assert!(program.is_file(), "{name} is not a program of its own");
        }
        declared.sort_unstable();
        let linked: Vec<&str> = ramdisk::LINKS
            .iter()
            .filter(|(_, program)| *program == ramdisk::MULTICALL)
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(declared, linked);
    }
}
