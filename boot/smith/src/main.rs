//! `smith DIR COUNT [SEED]`: writes COUNT random WASI command modules (see the library) into
//! DIR as `SEED.wasm`, `SEED+1.wasm`, ..., starting at SEED (default 0). A seed whose module
//! the generator or the kernel's wasmi rejects is skipped, so DIR always gets COUNT modules;
//! the last line says how many seeds that took.
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [dir, count] => count.parse().ok().map(|count| (dir, count, 0)),
        [dir, count, seed] => count
            .parse()
            .ok()
            .zip(seed.parse().ok())
            .map(|(count, seed)| (dir, count, seed)),
        _ => None,
    };
    let Some((dir, count, first)) = parsed else {
        eprintln!("usage: smith DIR COUNT [SEED]");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    if let Err(error) = std::fs::create_dir_all(&dir) {
        eprintln!("smith: {}: {error}", dir.display());
        return ExitCode::FAILURE;
    }
    match cella_smith::write_modules(&dir, count, first) {
        Ok(batch) => {
            println!(
                "smith: {count} modules in {} ({} bytes), seeds {first}..{}, {} rejected",
                dir.display(),
                batch.bytes,
                batch.next_seed,
                batch.rejected
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("smith: {}: {error}", dir.display());
            ExitCode::FAILURE
        }
    }
}
