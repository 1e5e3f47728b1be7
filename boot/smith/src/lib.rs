//! Random WASI command modules for Cella's robustness tests ("no program can take the
//! machine down").
//!
//! [`module`] turns a seed into a module made by `wasm-smith` that imports any of the
//! `wasi_snapshot_preview1` functions with their exact signatures (taken from
//! [`wasi_abi::FUNCTIONS`], the kernel's own table, so there is one definition), calls them
//! with whatever arguments its random code computes, and exports `_start: () -> ()` and
//! `memory`, so the kernel runs it as a command. Everything else — functions, loops, tables,
//! globals, data, traps — is random. The modules use only the WebAssembly features the
//! kernel's wasmi accepts, and each is validated by that wasmi (same version, same default
//! features) before it is handed out.
//!
//! A seed also picks a few knobs of the generator itself (how many functions, whether traps
//! are avoided, the memory's limits, how skewed the random bytes are) — swarm testing in
//! small — because one fixed configuration keeps producing modules of one shape: with
//! uniform bytes, say, almost every pointer is out of bounds and the module traps at its
//! first call.

use std::fs;
use std::io;
use std::path::Path;

use arbitrary::Unstructured;
use wasi_abi::{FUNCTIONS, MODULE, ValType};
use wasm_encoder::{
    CodeSection, EntityType, ExportKind, ExportSection, Function, FunctionSection, ImportSection,
    Instruction, MemorySection, MemoryType, TypeSection,
};

/// A WebAssembly page.
const PAGE: u64 = 64 * 1024;
/// Initial pages of a memory larger than the 32 MiB a driver typically allows a process:
/// such a module must be refused at spawn, not take memory from the machine.
const OVERSIZED_PAGES: u64 = 600;

/// The shape every generated module has to import from: every preview1 function of the
/// kernel's table, with its signature.
pub fn available_imports() -> Vec<u8> {
    let mut types = TypeSection::new();
    let mut imports = ImportSection::new();
    for (index, function) in FUNCTIONS.iter().enumerate() {
        let params = function.params.iter().map(|param| match param {
            ValType::I32 => wasm_encoder::ValType::I32,
            ValType::I64 => wasm_encoder::ValType::I64,
        });
        let results: &[wasm_encoder::ValType] = if function.returns_errno {
            &[wasm_encoder::ValType::I32]
        } else {
            &[]
        };
        types.ty().function(params, results.iter().copied());
        imports.import(MODULE, function.name, EntityType::Function(index as u32));
    }
    let mut module = wasm_encoder::Module::new();
    module.section(&types).section(&imports);
    module.finish()
}

/// The shape of a command's exports: `_start: () -> ()` and a `memory` of `memory`'s type.
/// wasm-smith gives the generated module exactly these exports, with random contents.
pub fn command_exports(memory: MemoryType) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut functions = FunctionSection::new();
    functions.function(0);
    let mut memories = MemorySection::new();
    memories.memory(memory);
    let mut exports = ExportSection::new();
    exports.export("_start", ExportKind::Func, 0);
    exports.export("memory", ExportKind::Memory, 0);
    let mut code = CodeSection::new();
    let mut body = Function::new([]);
    body.instruction(&Instruction::End);
    code.function(&body);
    let mut module = wasm_encoder::Module::new();
    module
        .section(&types)
        .section(&functions)
        .section(&memories)
        .section(&exports)
        .section(&code);
    module.finish()
}

/// SplitMix64: a seeded stream of random words, small and good enough to feed wasm-smith.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0; the small modulo bias does not matter here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

/// The wasm-smith configuration for one seed: the kernel's feature set, bounded sizes, and
/// the knobs the seed picks.
fn config(rng: &mut SplitMix) -> wasm_smith::Config {
    let memory_min = if rng.chance(16) {
        OVERSIZED_PAGES
    } else {
        rng.below(5)
    };
    // No maximum for a third of them: growth then stops only at the process's limit.
    let memory_max = (!rng.chance(3)).then(|| memory_min + rng.below(513));
    let memory = MemoryType {
        minimum: memory_min,
        maximum: memory_max,
        memory64: false,
        shared: false,
        page_size_log2: None,
    };
    wasm_smith::Config {
        available_imports: Some(available_imports()),
        exports: Some(command_exports(memory)),
        // The exports above are the whole interface; one memory, as WASI uses.
        max_memories: 1,
        max_memory32_bytes: OVERSIZED_PAGES * PAGE,
        max_tables: 2,
        max_table_elements: 10_000,
        // Without a declared maximum, `table.grow` is bounded only by the kernel.
        table_max_size_required: rng.chance(2),
        max_funcs: 1 + rng.below(30) as usize,
        max_instructions: 10 + rng.below(300) as usize,
        max_data_segments: 8,
        max_element_segments: 8,
        max_globals: 16,
        max_types: 32,
        // A wasm start function runs at spawn, within a small fuel bound, and a call in it
        // that would block or exit fails the spawn (the kernel cannot suspend it), so many
        // of those modules are refused: a quarter keep one, the rest start at `_start`.
        allow_start_export: rng.chance(4),
        // Half of them avoid the traps wasm-smith can avoid, so they run on into loops
        // and calls instead of ending at their first bad load.
        disallow_traps: rng.chance(2),
        ..kernel_features()
    }
}

/// What the kernel's interpreter accepts, as a wasm-smith configuration to start from (the
/// robustness test's modules here, the backtrace rewriter's fuzz target).
pub fn kernel_features() -> wasm_smith::Config {
    wasm_smith::Config {
        // The kernel's wasmi 2.0 without its `simd` feature: no vectors, threads,
        // exceptions, GC, memory64, wide arithmetic, custom page sizes or the newer
        // binary encodings (compact imports, custom descriptors) its parser predates.
        simd_enabled: false,
        relaxed_simd_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        acquire_release_atomics_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        wide_arithmetic_enabled: false,
        custom_page_sizes_enabled: false,
        compact_imports_enabled: false,
        custom_descriptors_enabled: false,
        // What it does accept, as wasmi's defaults.
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        tail_call_enabled: true,
        extended_const_enabled: true,
        ..wasm_smith::Config::default()
    }
}

/// The random bytes wasm-smith decides from: 1–32 KiB, with a seed-chosen share of zero
/// bytes. Zeros make small numbers — fd 0..3, short lengths, low addresses that are in
/// bounds — which uniform bytes almost never give.
fn entropy(rng: &mut SplitMix) -> Vec<u8> {
    let len = 1024 + rng.below(31 * 1024) as usize;
    // 0, 1/4, 1/2 or 3/4 of the bytes forced to zero.
    let zero_quarters = rng.below(4);
    (0..len)
        .map(|_| {
            let word = rng.next();
            if (word >> 8) % 4 < zero_quarters {
                0
            } else {
                word as u8
            }
        })
        .collect()
}

/// Why a seed gave no module.
#[derive(Debug)]
pub enum Rejected {
    /// wasm-smith could not build one from these bytes.
    Generator(String),
    /// The kernel's wasmi would not load it (a generator feature it lacks).
    Wasmi(String),
}

/// The module of `seed`: the same bytes for the same seed and crate versions.
pub fn module(seed: u64) -> Result<Vec<u8>, Rejected> {
    let mut rng = SplitMix(seed);
    let config = config(&mut rng);
    let data = entropy(&mut rng);
    let mut unstructured = Unstructured::new(&data);
    let bytes = wasm_smith::Module::new(config, &mut unstructured)
        .map_err(|error| Rejected::Generator(error.to_string()))?
        .to_bytes();
    validate(&bytes).map_err(Rejected::Wasmi)?;
    Ok(bytes)
}

/// Whether the kernel's wasmi (default features, as `kernel/src/wasm.rs` configures it)
/// accepts `bytes`.
pub fn validate(bytes: &[u8]) -> Result<(), String> {
    let engine = wasmi::Engine::new(&wasmi::Config::default());
    wasmi::Module::new(&engine, bytes)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// What [`write_modules`] wrote.
#[derive(Clone, Copy, Debug)]
pub struct Batch {
    /// Bytes of all modules.
    pub bytes: u64,
    /// Seeds skipped because they gave no module.
    pub rejected: u64,
    /// The first seed not used.
    pub next_seed: u64,
}

/// Writes `count` modules into `dir` as `SEED.wasm`, from seed `first` on, skipping seeds
/// that give no module.
pub fn write_modules(dir: &Path, count: u64, first: u64) -> io::Result<Batch> {
    let mut batch = Batch {
        bytes: 0,
        rejected: 0,
        next_seed: first,
    };
    let mut written = 0;
    while written < count {
        let seed = batch.next_seed;
        batch.next_seed += 1;
        match module(seed) {
            Ok(bytes) => {
                fs::write(dir.join(format!("{seed}.wasm")), &bytes)?;
                batch.bytes += bytes.len() as u64;
                written += 1;
            }
            Err(_) => batch.rejected += 1,
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shapes_are_valid_modules() {
        validate(&available_imports()).unwrap();
        let memory = MemoryType {
            minimum: 1,
            maximum: Some(2),
            memory64: false,
            shared: false,
            page_size_log2: None,
        };
        validate(&command_exports(memory)).unwrap();
    }

    #[test]
    fn seeds_give_valid_commands_that_import_preview1() {
        let mut calling = 0;
        for seed in 0..200 {
            let bytes = module(seed).unwrap_or_else(|e| panic!("seed {seed}: {e:?}"));
            assert_eq!(
                module(seed).unwrap(),
                bytes,
                "seed {seed} is not deterministic"
            );
            let engine = wasmi::Engine::default();
            let module = wasmi::Module::new(&engine, &bytes[..]).unwrap();
            for import in module.imports() {
                assert_eq!(import.module(), MODULE);
            }
            let exports: Vec<_> = module.exports().map(|e| e.name().to_owned()).collect();
            assert!(exports.contains(&"_start".to_owned()), "seed {seed}");
            assert!(exports.contains(&"memory".to_owned()), "seed {seed}");
            if module.imports().len() > 0 {
                calling += 1;
            }
        }
        // Most modules must import something, or they would not exercise the kernel's calls.
        assert!(
            calling > 150,
            "only {calling} of 200 import a preview1 function"
        );
    }
}
