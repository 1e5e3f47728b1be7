//! `init`: Cella's first process. It starts the shell (`/bin/sh`, in a process group of its
//! own, with init's environment, stdio and preopens), reaps every process that ends while it
//! runs (orphans are handed to init), and exits with the shell's status when the shell ends.
use cella_process::{Command, wait};

const SHELL: &str = "/bin/sh";

fn main() {
    let shell = match Command::new(SHELL)
        .arg0("sh")
        .inherit_preopens()
        .new_process_group()
        .spawn()
    {
        Ok(pid) => pid,
        Err(e) => {
            eprintln!(
                "init: cannot start {SHELL}: {}",
                cella_userland::describe(&e)
            );
            std::process::exit(1);
        }
    };
    loop {
        match wait(None, false) {
            Ok(Some((pid, status))) if pid == shell => std::process::exit(status.code()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // No child left (cannot happen while the shell runs): nothing more to wait for.
            Err(_) => std::process::exit(1),
        }
    }
}
