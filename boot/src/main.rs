//! `cella`, the host runner behind `./qemu.sh`: parses a `wasmtime run`-shaped command line,
//! builds whatever is missing (kernel, disk images, the named userland program), boots Cella
//! in QEMU with the program, and exits with the program's status. Without a program it boots
//! Cella's shell (`/bin/init` from the image) and exits with init's status. `--iso FILE`
//! writes the system as a bootable ISO image instead (see [`iso`]).

mod cli;
mod dirs;
mod iso;
mod network;
mod project;
mod qemu;
mod template;
mod terminal;

use std::process::ExitCode;

use cella_proto::status;

use crate::cli::Command;
use crate::project::Project;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args_os().skip(1), |name| std::env::var_os(name)) {
        Ok(command) => command,
        Err(cli::UsageError(message)) => return fail(&message, status::USAGE),
    };
    match command {
        Command::Help => {
            print!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Command::Setup => {
            let project = Project::locate(false);
            match project.images().and_then(|_| project.build_all_userland()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => fail(&message, status::BOOT_FAILED),
            }
        }
        Command::New(dir) => match template::create(&dir, Project::locate(false).root()) {
            Ok(message) => {
                eprintln!("cella: {message}");
                ExitCode::SUCCESS
            }
            Err(message) => fail(&message, status::USAGE),
        },
        Command::Iso(file) => match iso::write(&Project::locate(false), &file) {
            Ok(size) => {
                eprintln!(
                    "cella: wrote {} ({:.1} MB): see the README's \"The ISO\" for how to boot it",
                    file.display(),
                    size as f64 / 1e6
                );
                ExitCode::SUCCESS
            }
            Err(failure) if failure.bad_path => fail(&failure.message, status::USAGE),
            Err(failure) => fail(&failure.message, status::BOOT_FAILED),
        },
        Command::Run(options) => {
            let project = Project::locate(options.verbose);
            if let Some(program) = &options.program {
                // A userland program is built before it is checked: it may not exist yet.
                if let Err(message) = project.refresh_userland(program) {
                    return fail(&message, status::BOOT_FAILED);
                }
                if let Err(failure) = qemu::check_program(program) {
                    return fail(&failure.message, failure.status);
                }
            }
            let images = match project.images() {
                Ok(images) => images,
                Err(message) => return fail(&message, status::BOOT_FAILED),
            };
            match qemu::run(&options, &images, &project.output_dir()) {
                Ok(code) => ExitCode::from(code),
                Err(failure) => fail(&failure.message, failure.status),
            }
        }
    }
}

fn fail(message: &str, code: u8) -> ExitCode {
    eprintln!("cella: {message}");
    ExitCode::from(code)
}
