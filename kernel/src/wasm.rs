//! Runs one WASI program on wasmi: load and validate the module, link every function of
//! `wasi_snapshot_preview1` to the `wasi-abi` syscall table, call `_start`, and turn whatever
//! happened into a [`cella_proto::Exit`].
//!
//! This is the only place that knows both wasmi and `wasi-abi`: the three syscall outcomes
//! (errno, exit, trap) are mapped to wasmi values and errors here, and nowhere else.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use cella_proto::{Exit, RunConfig};
use wasi_abi::{DirHandle, FUNCTIONS, MODULE, Outcome, ValType, WasiCtx};
use wasmi::errors::{MemoryError, TableError};
use wasmi::{
    Caller, CompilationMode, Config, Engine, ExternType, FuncType, Linker, Memory, Module,
    ResourceLimiter, Store, StoreLimits, Val,
};
use wasmi_core::LimiterError;

use crate::platform::KernelPlatform;

/// wasmi's default of 1000 nested calls is far below what ordinary recursive programs use
/// (wasmtime allows tens of thousands); the call stack lives on the heap, so be generous.
const MAX_RECURSION_DEPTH: usize = 64 * 1024;
/// Upper bound of wasmi's value stack, in bytes.
const MAX_VALUE_STACK_BYTES: usize = 64 * 1024 * 1024;
/// Free frames kept back from the program's linear memory for the kernel itself: growth of
/// the heap, wasmi's stacks, I/O buffers, the page tables of the memory.
const KERNEL_RESERVE_BYTES: usize = 16 * 1024 * 1024;
/// The most parameters any preview1 function takes (`path_open`).
const MAX_PARAMS: usize = 9;

/// Everything a running program owns, kept in its wasmi store.
struct Process {
    wasi: WasiCtx<KernelPlatform>,
    /// The module's exported `memory`, looked up once after instantiation.
    memory: Option<Memory>,
    limits: Limits,
}

/// The store's resource limits: a linear memory grows only while the kernel has free frames
/// for it (beyond [`KERNEL_RESERVE_BYTES`]), checked at each growth since memory is shared
/// with the kernel; everything else has wasmi's defaults.
struct Limits {
    defaults: StoreLimits,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        if maximum.is_some_and(|maximum| desired > maximum) {
            return Ok(false);
        }
        // Only the new bytes need frames: the pages below `current` are mapped already, and
        // a larger capacity of the buffer costs address space only (see `mm`).
        let room = crate::mm::available_bytes().saturating_sub(KERNEL_RESERVE_BYTES);
        Ok(desired.saturating_sub(current) <= room)
    }

    fn memory_grow_failed(&mut self, error: &MemoryError) -> Result<(), LimiterError> {
        self.defaults.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        self.defaults.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: &TableError) -> Result<(), LimiterError> {
        self.defaults.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.defaults.instances()
    }

    fn tables(&self) -> usize {
        self.defaults.tables()
    }

    fn memories(&self) -> usize {
        self.defaults.memories()
    }
}

/// Loads `program`, runs its `_start` with the argv and environment of `config`, and reports
/// how it ended. Never panics on a hostile module: every failure is an [`Exit`].
pub fn run(program: &[u8], config: &RunConfig, preopens: Vec<(Vec<u8>, DirHandle)>) -> Exit {
    let mut engine_config = Config::default();
    engine_config
        .compilation_mode(CompilationMode::LazyTranslation)
        .set_max_recursion_depth(MAX_RECURSION_DEPTH)
        .set_max_stack_height(MAX_VALUE_STACK_BYTES);
    let engine = Engine::new(&engine_config);

    let module = match Module::new(&engine, program) {
        Ok(module) => module,
        Err(error) => return load_failed(format!("invalid WebAssembly module: {error}")),
    };
    if let Err(message) = check_imports(&module) {
        return load_failed(message);
    }

    let linker = match preview1_linker(&engine) {
        Ok(linker) => linker,
        Err(error) => {
            return Exit::KernelFault(format!("linking preview1 failed: {error}").into_bytes());
        }
    };

    let mut wasi = WasiCtx::new(
        KernelPlatform::new(),
        config.args.clone(),
        config.env.clone(),
    );
    for (name, dir) in preopens {
        if let Err(errno) = wasi.add_preopen(&name, dir) {
            return load_failed(format!(
                "cannot preopen {}: {errno:?}",
                String::from_utf8_lossy(&name)
            ));
        }
    }
    let process = Process {
        wasi,
        memory: None,
        limits: Limits {
            defaults: StoreLimits::default(),
        },
    };
    let mut store = Store::new(&engine, process);
    store.limiter(|process| &mut process.limits);

    let instance = match linker.instantiate_and_start(&mut store, &module) {
        Ok(instance) => instance,
        Err(error) => return ended(error, Phase::Instantiating),
    };
    store.data_mut().memory = instance.get_memory(&store, "memory");

    let Ok(start) = instance.get_typed_func::<(), ()>(&store, "_start") else {
        return load_failed(String::from(
            "the module exports no `_start` function of type () -> (): it is not a WASI command",
        ));
    };
    log::debug!(
        "calling _start, {} MiB free for the program's memory",
        crate::mm::available_bytes().saturating_sub(KERNEL_RESERVE_BYTES) >> 20
    );
    crate::console::mark_started();
    match start.call(&mut store, ()) {
        Ok(()) => Exit::Exited(0),
        Err(error) => ended(error, Phase::Running),
    }
}

fn load_failed(message: String) -> Exit {
    Exit::LoadFailed(message.into_bytes())
}

/// Where a wasmi error happened: it decides whether a non-trap error is the program's fault
/// at run time (a trap) or a module that could not be set up (a load failure).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Instantiation, including the start function and data/element initialisation.
    Instantiating,
    /// The program's `_start`.
    Running,
}

/// Turns a wasmi error into an exit: `proc_exit` travels as an i32 exit status, anything else
/// is a trap (an instruction trap, or a host trap raised by a syscall).
fn ended(error: wasmi::Error, phase: Phase) -> Exit {
    if let Some(status) = error.i32_exit_status() {
        // proc_exit takes a u32; wasmi carries it as i32. Keep all 32 bits.
        return Exit::Exited(status as u32);
    }
    let message = format!("{error}");
    let message = message.trim_end();
    match error.as_trap_code() {
        Some(_) => Exit::Trapped(format!("wasm trap: {message}").into_bytes()),
        None if phase == Phase::Running => Exit::Trapped(message.as_bytes().to_vec()),
        None => load_failed(format!("instantiating the module: {message}")),
    }
}

/// Every import must be a preview1 function with the right signature; anything else is named
/// in one clear message before instantiation, rather than wasmi's generic linker error.
fn check_imports(module: &Module) -> Result<(), String> {
    for import in module.imports() {
        let name = import.name();
        let known = (import.module() == MODULE)
            .then(|| FUNCTIONS.iter().find(|f| f.name == name))
            .flatten();
        let Some(function) = known else {
            return Err(format!(
                "unknown import `{}::{}`: Cella provides only the `{MODULE}` functions",
                import.module(),
                name
            ));
        };
        match import.ty() {
            ExternType::Func(ty) if *ty == func_type(function) => {}
            other => {
                return Err(format!(
                    "import `{MODULE}::{name}` has type {other:?}, but preview1 defines {:?}",
                    func_type(function)
                ));
            }
        }
    }
    Ok(())
}

fn func_type(function: &wasi_abi::Function) -> FuncType {
    let params = function.params.iter().map(|p| match p {
        ValType::I32 => wasmi::ValType::I32,
        ValType::I64 => wasmi::ValType::I64,
    });
    let results: &[wasmi::ValType] = if function.returns_errno {
        &[wasmi::ValType::I32]
    } else {
        &[]
    };
    FuncType::new(params, results.iter().copied())
}

/// A linker holding all 46 preview1 functions, each forwarding to [`wasi_abi::dispatch`].
fn preview1_linker(engine: &Engine) -> Result<Linker<Process>, wasmi::errors::LinkerError> {
    let mut linker = Linker::new(engine);
    for (index, function) in FUNCTIONS.iter().enumerate() {
        linker.func_new(
            MODULE,
            function.name,
            func_type(function),
            move |caller, params, results| syscall(caller, index, params, results),
        )?;
    }
    Ok(linker)
}

/// The linker boundary: raw wasm values in, errno/exit/trap out.
fn syscall(
    mut caller: Caller<'_, Process>,
    index: usize,
    params: &[Val],
    results: &mut [Val],
) -> Result<(), wasmi::Error> {
    let mut args = [0u64; MAX_PARAMS];
    for (slot, param) in args.iter_mut().zip(params) {
        *slot = match param {
            // Zero-extend: wasi-abi reads i32 parameters as u32.
            Val::I32(value) => u64::from(*value as u32),
            Val::I64(value) => *value as u64,
            _ => 0,
        };
    }
    let args = &args[..params.len().min(MAX_PARAMS)];
    let outcome = match caller.data().memory {
        Some(memory) => {
            let (bytes, process) = memory.data_and_store_mut(&mut caller);
            wasi_abi::dispatch(&mut process.wasi, bytes, index, args)
        }
        // A module without memory can still call the pointer-free functions.
        None => wasi_abi::dispatch(&mut caller.data_mut().wasi, &mut [], index, args),
    };
    match outcome {
        Outcome::Return(errno) => {
            if let Some(result) = results.first_mut() {
                *result = Val::I32(i32::from(errno as u16));
            }
            Ok(())
        }
        Outcome::Exit(status) => Err(wasmi::Error::i32_exit(status as i32)),
        Outcome::Trap(trap) => {
            let name = FUNCTIONS.get(index).map_or("?", |f| f.name);
            Err(wasmi::Error::new(format!(
                "wasm trap: {trap} in {MODULE}::{name}"
            )))
        }
    }
}
