//! Wasm programs on wasmi: loading and validating a module, linking every function of
//! `wasi_snapshot_preview1` (and of `cella_process`) and running an instance in fuel slices
//! as a resumable call, so that the scheduler can switch between processes in the middle of
//! their code and park one whose syscall must wait.
//!
//! This is the only place that knows both wasmi and `wasi-abi`. A preview1 call runs right
//! away inside wasmi; when it must wait (an empty pipe, a sleep), ends the process or traps,
//! the host function stores what happened in the process's data and returns a [`Suspend`]
//! host error, which makes wasmi hand the suspended call back to the scheduler. Every
//! `cella_process` call takes that road, since it needs the process table. The scheduler
//! answers the call later with [`Task::resume_with`].

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use cella_backtrace::{CodeMap, Innermost, Names};
use wasi_abi::budget::{Budget, Charge};
use wasi_abi::control::abi::Param;
use wasi_abi::{Outcome, ValType, WasiCtx, control};
use wasmi::TrapCode;
use wasmi::errors::{MemoryError, TableError};
use wasmi::{
    Caller, CompilationMode, Config, CustomFuelCosts, Engine, ExternType, Func, FuncType, Instance,
    Linker, Memory, Module, OperatorCost, ResourceLimiter, ResumableCall, ResumableCallHostTrap,
    ResumableCallOutOfFuel, Store, StoreLimits, Val,
};
use wasmi_core::LimiterError;

use crate::platform::KernelPlatform;
use crate::{limits, mm};

/// Nested calls a process may make: wasmi's default of 1000 is far below what ordinary
/// recursive programs use, and wasmtime's 512 KiB native stack allows some ten thousand
/// small frames. wasmi grows its call stack (16 bytes a frame) with infallible pushes, so
/// it must never need a frame the allocator would refuse: at this depth it stays a small
/// heap block (128 KiB at most, below `mm::LARGE_BLOCK`), and 128 processes at their
/// deepest take no more than the kernel's reserve. (Deeper, the call stack becomes a large
/// block, backed as it grows and refusable, which would end the kernel: the generated
/// modules of `boot/tests/smith.rs` found that.) The value stack, which does grow
/// fallibly, bounds what each frame holds.
const MAX_RECURSION_DEPTH: usize = 8 * 1024;
/// Upper bound of wasmi's value stack, in bytes; a process's own is at most a quarter of
/// its memory limit, and at least [`MIN_VALUE_STACK_BYTES`].
const MAX_VALUE_STACK_BYTES: usize = 64 * 1024 * 1024;
/// The smallest value stack a process gets, whatever its memory limit.
const MIN_VALUE_STACK_BYTES: usize = 1024 * 1024;
/// What interpreting a module costs the kernel per byte of the module (wasmi's translated
/// code and its bookkeeping), charged to the process for as long as it runs.
pub const CODE_BYTES_PER_MODULE_BYTE: u64 = 4;
/// The most parameters any imported function takes (`path_open`).
const MAX_PARAMS: usize = 9;
/// Fuel for a module's start function and initialisers. wasmi runs them inside
/// `instantiate_and_start`, which cannot be suspended, so the spawn holds the whole machine
/// until they end: this bounds that stall to a few scheduler slices (well under a second
/// under TCG) instead of the minute 2^32 took, enough for initialisers and 128 MiB of data
/// segments (copies cost one unit per 64 bytes). A start
/// function that loops is out of fuel here, a trap: the spawn fails with `ENOEXEC`.
/// Toolchains put a command's work in `_start`, which runs preemptibly.
const INSTANTIATION_FUEL: u64 = 2_000_000;

/// Fuel a `memory.grow` or `table.grow` costs: the most wasmi lets one operator cost. Under
/// wasmi's tail-call dispatch every instruction handler hands over to the next with a jump,
/// but these two call it (a local's address escapes into the grow), so each one executed
/// leaves a native stack frame behind — 176 bytes for `memory.grow`, 160 for `table.grow` in
/// this build — until the interpreter next stops: at the end of a fuel slice, a trap or a
/// blocking call. Native wasmi overflows its 8 MiB thread stack the same way after ~50 000
/// failed grows in a loop. The cost bounds how many run between two stops, and so the stack
/// they can take (checked below against the kernel stack).
const GROW_FUEL: u8 = u8::MAX;
/// Native stack a grow leaves until the interpreter stops (the larger of the two frames,
/// measured in the disassembly; `boot/tests/grows.rs` runs loops of failing grows).
const GROW_FRAME_BYTES: u64 = 176;
/// Native stack that grows running on `fuel` can leave behind at most.
const fn grow_frames_bytes(fuel: u64) -> u64 {
    fuel / GROW_FUEL as u64 * GROW_FRAME_BYTES
}
const _: () = {
    let stack_room = crate::boot::KERNEL_STACK_SIZE / 2;
    assert!(grow_frames_bytes(crate::process::SLICE_FUEL) <= stack_room);
    assert!(grow_frames_bytes(INSTANTIATION_FUEL) <= stack_room);
};

/// Frames a trap's backtrace shows at most (`-D max-backtrace`); 0 loads modules without
/// the shadow call stack. One setting for the whole machine, given at boot.
static MAX_BACKTRACE: AtomicU32 = AtomicU32::new(cella_backtrace::DEFAULT_MAX_FRAMES);

/// Sets how many frames a trap's backtrace shows (`None`: wasmtime's default, 20); 0 runs
/// every program without backtraces, and without their cost.
pub fn set_max_backtrace(frames: Option<u32>) {
    let frames = frames.unwrap_or(cella_backtrace::DEFAULT_MAX_FRAMES);
    MAX_BACKTRACE.store(frames, Ordering::Relaxed);
}

/// Which imported function a call is, as the linker registered it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Import {
    /// A `wasi_snapshot_preview1` function: its index in [`wasi_abi::FUNCTIONS`], the one
    /// table the preview1 dispatcher is generated from.
    Preview1(usize),
    /// A `cella_process` function, known by its name.
    Control(control::Function),
}

/// A suspended import call: which function and its raw arguments.
#[derive(Clone, Copy, Debug)]
pub struct PendingCall {
    /// The function.
    pub import: Import,
    args: [u64; MAX_PARAMS],
    len: usize,
}

impl PendingCall {
    /// A call of `import` with these raw arguments (at most [`MAX_PARAMS`]).
    fn new(import: Import, args: &[u64]) -> PendingCall {
        let mut call = PendingCall {
            import,
            args: [0; MAX_PARAMS],
            len: args.len().min(MAX_PARAMS),
        };
        for (slot, arg) in call.args.iter_mut().zip(args) {
            *slot = *arg;
        }
        call
    }

    /// The raw arguments.
    pub fn args(&self) -> &[u64] {
        self.args.get(..self.len).unwrap_or(&[])
    }

    /// The `cella_process` call with its arguments decoded; `None` for a preview1 call.
    pub fn control(&self) -> Option<control::Call> {
        match self.import {
            Import::Control(function) => control::Call::decode(function, self.args()),
            Import::Preview1(_) => None,
        }
    }
}

/// Why an import call handed control back to the scheduler.
#[derive(Clone, Debug)]
pub enum Stop {
    /// The call must wait; repeat it once something changed or at the deadline.
    Block(Option<u64>),
    /// A `cella_process` call for the scheduler to carry out.
    Control,
    /// `proc_exit` (or a fatal `proc_raise`).
    Exit(u32),
    /// The call trapped.
    Trap(String),
}

/// The host error that suspends a call; what happened is in [`ProcessData::stop`].
#[derive(Debug)]
struct Suspend;

impl fmt::Display for Suspend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("suspended import call")
    }
}

impl wasmi::errors::HostError for Suspend {}

/// Everything a process's store holds.
pub struct ProcessData {
    /// Its WASI state: fd table, args, environment.
    pub wasi: WasiCtx<KernelPlatform>,
    /// The module's exported `memory`, looked up once after instantiation.
    memory: Option<Memory>,
    limits: Limits,
    /// The suspended call, if any, and why it stopped.
    pending: Option<(PendingCall, Stop)>,
}

/// The store's resource limits: a linear memory grows only while the process's account
/// has room for it (its memory limit) and the machine has free frames for it beyond its
/// floor (see `limits`), checked at each growth since memory is shared with the kernel and
/// the other processes. The growth is charged to the account.
struct Limits {
    defaults: StoreLimits,
    /// The process's account (shared with its WASI state).
    account: Rc<Budget>,
    /// Bytes charged by the growth wasmi is carrying out, given back if it then fails.
    growing: u64,
    /// The first `memory.grow` refused for want of memory, for the note at a failed end.
    refused: Option<Refusal>,
}

/// A `memory.grow` the process's limit or the machine's free memory refused: programs
/// rarely survive one (an allocator returns NULL, Rust aborts), so when the process then
/// fails its stderr is told why and what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The linear memory's size the program asked for, in bytes.
    pub desired: u64,
    /// Whether the process's own memory limit refused it (else the machine's RAM did).
    pub over_limit: bool,
    /// The process's memory limit, in bytes.
    pub limit: u64,
}

impl Refusal {
    /// The note for the process's stderr: what was refused and what to do.
    pub fn note(&self) -> String {
        const MIB: u64 = 1 << 20;
        const GIB: u64 = 1 << 30;
        let desired = self.desired.div_ceil(MIB);
        if self.over_limit {
            format!(
                "memory.grow to {desired} MiB refused: over the process's memory limit of {} MiB \
                 (inherited from its parent; in shell mode a quarter of the RAM: give Cella more with -m)",
                self.limit / MIB
            )
        } else {
            // The kernel keeps some RAM for itself: suggest the next whole GiB above it.
            let suggested = (self.desired + mm::KERNEL_RESERVE as u64 * 4).div_ceil(GIB);
            format!(
                "memory.grow to {desired} MiB refused: the machine's RAM is used up; \
                 run Cella with more, e.g. -m {suggested}G"
            )
        }
    }
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
        let delta = desired.saturating_sub(current);
        if !admits(&self.account, delta) {
            let limit = self.account.limit();
            self.refused.get_or_insert(Refusal {
                desired: desired as u64,
                over_limit: self.account.used().saturating_add(delta as u64) > limit,
                limit,
            });
            return Ok(false);
        }
        self.account.force(delta as u64);
        self.growing = delta as u64;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: &MemoryError) -> Result<(), LimiterError> {
        self.account.give(core::mem::take(&mut self.growing));
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

/// Runs `f` — the process's code, or its instantiation — in the allocator's guest context
/// with `allowance` bytes for blocks backed as they grow (what its account still has room
/// for, while it runs), and charges what they took (wasmi's stacks only grow, and go with
/// the process).
fn in_guest<R>(account: &Budget, allowance: u64, f: impl FnOnce() -> R) -> R {
    let (result, backed) = mm::guest_context(allowance, f);
    account.force(backed);
    result
}

/// Whether the process's own growth by `bytes` (linear memory, code) fits its account's
/// limit and the machine's floor for a process of that size (see `limits`). The account's
/// guard, which keeps the recovery reserve from files and pipes, does not apply: small
/// processes may take that reserve here.
fn admits(account: &Budget, bytes: usize) -> bool {
    let charged = account.used().saturating_add(bytes as u64);
    charged <= account.limit() && limits::may_grow(charged, bytes)
}

/// A validated module with its own engine, ready to instantiate. Each process has its own
/// engine, so that everything wasmi allocated for it goes away when it ends.
pub struct Program {
    engine: Engine,
    module: Module,
    /// The module's size in bytes.
    size: usize,
    /// Where its functions lie, for its backtraces; `None` if it was left uninstrumented.
    code: Option<CodeMap>,
}

/// wasmi's fuel cost of every operator, with the two grows at [`GROW_FUEL`].
fn grow_costs() -> OperatorCost {
    OperatorCost {
        memory_grow: GROW_FUEL,
        table_grow: GROW_FUEL,
        ..OperatorCost::default()
    }
}

/// Compiles `bytes` and checks its imports, for a process whose memory limit is
/// `memory_limit` bytes; the error is one line for the user.
pub fn load(bytes: &[u8], memory_limit: u64) -> Result<Program, String> {
    let stack = usize::try_from(memory_limit / 4)
        .unwrap_or(usize::MAX)
        .clamp(MIN_VALUE_STACK_BYTES, MAX_VALUE_STACK_BYTES);
    let mut config = Config::default();
    config
        .compilation_mode(CompilationMode::LazyTranslation)
        .set_max_recursion_depth(MAX_RECURSION_DEPTH)
        .set_max_stack_height(stack)
        .consume_fuel(true)
        .operator_cost(grow_costs())
        // Translating a function on its first call costs no fuel: wasmi cannot resume a call
        // that runs out of fuel while translating (the error is final), and translation is
        // bounded by the module's size anyway. Copies cost wasmi's default.
        .fuel_cost(CustomFuelCosts {
            bytes_copied_per_fuel: 64,
            fuel_per_bytes_translated: 0,
            fuel_per_bytes_validated: 0,
        });
    let engine = Engine::new(&config);
    // Translation happens before the process has an account: its code is charged at
    // instantiation, from the module's size. A module the rewriter refuses, or that does
    // not compile once rewritten, is compiled as it is: it runs without backtraces, or
    // wasmi says what is wrong with the original.
    let compile = |bytes: &[u8]| mm::guest_context(u64::MAX, || Module::new(&engine, bytes)).0;
    let backtraces = MAX_BACKTRACE.load(Ordering::Relaxed) > 0;
    let instrumented = backtraces
        .then(|| {
            let depth = MAX_RECURSION_DEPTH as u32;
            mm::guest_context(u64::MAX, || cella_backtrace::instrument(bytes, depth)).0
        })
        .and_then(|rewritten| {
            rewritten
                .map_err(|why| log::debug!("module left without backtraces: {why}"))
                .ok()
        })
        .and_then(|rewritten| {
            let module = compile(&rewritten.module).ok()?;
            Some((module, rewritten.code))
        });
    let (module, code) = match instrumented {
        Some((module, code)) => (module, Some(code)),
        None => (
            compile(bytes).map_err(|error| format!("invalid WebAssembly module: {error}"))?,
            None,
        ),
    };
    check_imports(&module)?;
    if !module.exports().any(|export| {
        export.name() == "_start"
            && matches!(export.ty(), ExternType::Func(ty) if *ty == start_type())
    }) {
        return Err(String::from(
            "the module exports no `_start` function of type () -> (): it is not a WASI command",
        ));
    }
    Ok(Program {
        engine,
        module,
        size: bytes.len(),
        code,
    })
}

fn start_type() -> FuncType {
    FuncType::new([], [])
}

/// Where a process's code stands between slices.
enum Resume {
    /// `_start` has not run yet.
    Start(Func),
    /// It ran out of its slice's fuel.
    OutOfFuel(ResumableCallOutOfFuel),
    /// An import call is suspended; `resume_with` supplies its result.
    Suspended(ResumableCallHostTrap),
    /// Its result is known; the next slice passes it in.
    Answered(ResumableCallHostTrap, i32),
}

/// What the repeat of a blocked call at the start of a slice led to.
enum Repeated {
    /// The call completed and the program went on from it, with this result.
    Resumed(Result<ResumableCall, wasmi::Error>),
    /// The call did not complete (it blocks again, ends the process or traps): it stays
    /// suspended.
    Stopped(ResumableCallHostTrap, Outcome),
}

/// A running instance: its store and where its code stands.
pub struct Task {
    store: Store<ProcessData>,
    resume: Option<Resume>,
    /// What its backtraces are read from: the instance, the module (for its `name`
    /// section) and where its functions lie; `None` for a module left uninstrumented.
    frames: Option<(Instance, Module, CodeMap)>,
    /// The interpreter's code for the module, charged to the process.
    _code: Charge,
}

/// Why a module could not start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotStarted {
    /// Its start function or an initialiser trapped.
    Trapped(String),
    /// It could not be instantiated (a failed link, an unmet limit).
    Invalid(String),
    /// Its code does not fit in the process's memory limit, or the machine's memory.
    NoMemory,
}

/// How a process ended, with a message for a trap or a failed start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// `_start` returned (0) or `proc_exit`.
    Exited(u32),
    /// A trap, in one line.
    Trapped(String),
    /// The slice's fuel ran out with the process's whole fuel limit used.
    FuelExhausted,
}

/// What a slice ended with.
pub enum Slice {
    /// The fuel ran out: the process is still ready.
    Preempted,
    /// A call is suspended (see [`Task::pending`]).
    Suspended,
    /// The process ended.
    Ended(End),
}

impl Task {
    /// Instantiates `program` (running its start function and initialisers) with `wasi` as
    /// its WASI state; everything it holds is charged to `wasi`'s account, whose limit is
    /// the process's memory limit.
    pub fn new(program: Program, wasi: WasiCtx<KernelPlatform>) -> Result<Task, NotStarted> {
        let Program {
            engine,
            module,
            size,
            code,
        } = program;
        let account = Rc::clone(wasi.account());
        account.set_guard(Some(limits::guard()));
        let code_bytes = size.saturating_mul(CODE_BYTES_PER_MODULE_BYTE as usize);
        if !admits(&account, code_bytes) {
            return Err(NotStarted::NoMemory);
        }
        let charge = account.force_charge(code_bytes as u64);
        let linker = linker(&engine)
            .map_err(|error| NotStarted::Invalid(format!("linking failed: {error}")))?;
        let data = ProcessData {
            wasi,
            memory: None,
            limits: Limits {
                defaults: StoreLimits::default(),
                account: Rc::clone(&account),
                growing: 0,
                refused: None,
            },
            pending: None,
        };
        let mut store = Store::new(&engine, data);
        store.limiter(|data| &mut data.limits);
        store
            .set_fuel(INSTANTIATION_FUEL)
            .map_err(|error| NotStarted::Invalid(format!("{error}")))?;
        // Instantiation allocates infallibly as well as fallibly (globals, element
        // segments): it is not held to the account's room, only to the kernel's reserve,
        // and charged what it took.
        let instance = in_guest(&account, u64::MAX, || {
            linker.instantiate_and_start(&mut store, &module)
        })
        .map_err(|error| match error.as_trap_code() {
            Some(_) => NotStarted::Trapped(one_line(&error)),
            None => NotStarted::Invalid(format!("instantiating the module: {}", one_line(&error))),
        })?;
        store.data_mut().memory = instance.get_memory(&store, "memory");
        let start = instance.get_func(&store, "_start").ok_or_else(|| {
            NotStarted::Invalid(String::from("the module exports no `_start` function"))
        })?;
        Ok(Task {
            store,
            resume: Some(Resume::Start(start)),
            frames: code.map(|code| (instance, module, code)),
            _code: charge,
        })
    }

    /// What the process holds, charged to its account: linear memory, code, pipes,
    /// connections.
    pub fn charged_bytes(&self) -> u64 {
        self.store.data().limits.account.used()
    }

    /// The first `memory.grow` refused for want of memory, if any.
    pub fn refused_growth(&self) -> Option<Refusal> {
        self.store.data().limits.refused
    }

    /// The process's WASI state.
    pub fn wasi(&mut self) -> &mut WasiCtx<KernelPlatform> {
        &mut self.store.data_mut().wasi
    }

    /// The suspended call and why it stopped, if a call is suspended.
    pub fn pending(&self) -> Option<(PendingCall, Stop)> {
        match self.resume {
            Some(Resume::Suspended(_)) => self.store.data().pending.clone(),
            _ => None,
        }
    }

    /// Supplies the result (`errno`) of the suspended call; the next slice continues after it.
    pub fn resume_with(&mut self, errno: wasi_abi::Errno) {
        if let Some(Resume::Suspended(call)) = self.resume.take() {
            self.resume = Some(Resume::Answered(call, i32::from(errno as u16)));
        }
        self.store.data_mut().pending = None;
    }

    /// Repeats a suspended preview1 call that blocked: `Some(stop)` if it must still wait
    /// (or ended the process), `None` once it completed (the next slice continues).
    pub fn retry(&mut self) -> Option<Stop> {
        let (call, stop) = self.pending()?;
        let Import::Preview1(index) = call.import else {
            return Some(stop);
        };
        let account = Rc::clone(&self.store.data().limits.account);
        match in_guest(&account, account.room(), || {
            run_preview1(&mut self.store, index, call)
        }) {
            Outcome::Return(errno) => {
                self.resume_with(errno);
                None
            }
            outcome => {
                let stop = match stop_of(outcome, index) {
                    Stop::Trap(message) => {
                        Stop::Trap(self.with_backtrace(message, Innermost::AtCall))
                    }
                    stop => stop,
                };
                self.store.data_mut().pending = Some((call, stop.clone()));
                Some(stop)
            }
        }
    }

    /// `message` followed by the backtrace of the process's code as it stands (nothing
    /// for a module left without the shadow stack). `innermost` says whether the trap came
    /// from the call the innermost frame is at.
    pub fn with_backtrace(&self, message: String, innermost: Innermost) -> String {
        let Some((instance, module, code)) = &self.frames else {
            return message;
        };
        let depth = instance
            .get_global(&self.store, cella_backtrace::DEPTH_EXPORT)
            .and_then(|global| global.get(&self.store).i32());
        let memory = instance.get_memory(&self.store, cella_backtrace::FRAMES_EXPORT);
        let (Some(depth), Some(memory)) = (depth, memory) else {
            return message;
        };
        let names = module
            .custom_sections()
            .find(|section| section.name() == cella_backtrace::names::SECTION)
            .map_or(&[][..], |section| section.data());
        let stack =
            cella_backtrace::frames(memory.data(&self.store), depth as u32, code, innermost);
        let mut out = message;
        out.push('\n');
        let max_frames = MAX_BACKTRACE.load(Ordering::Relaxed);
        if cella_backtrace::write_backtrace(&mut out, &stack, Names::new(names), max_frames)
            .is_err()
        {
            out.push_str(" (cut short)");
        }
        String::from(out.trim_end())
    }

    /// Runs the process's code with `fuel` (or what its next instruction needs at least: a
    /// bulk memory operation may cost more than a slice); returns the fuel charged and how
    /// the slice ended. A preempted slice is charged whole. A preview1 call that blocked is
    /// repeated first, in the same slice: once it completes, the program continues at once
    /// with its result (a woken process's call needs no pass of its own).
    pub fn run(&mut self, fuel: u64) -> (u64, Slice) {
        let fuel = match &self.resume {
            Some(Resume::OutOfFuel(call)) => fuel.max(call.required_fuel()),
            _ => fuel,
        };
        if self.store.set_fuel(fuel).is_err() {
            return (
                0,
                Slice::Ended(End::Trapped(String::from("fuel is disabled"))),
            );
        }
        let account = Rc::clone(&self.store.data().limits.account);
        let store = &mut self.store;
        let result = match self.resume.take() {
            Some(Resume::Start(start)) => in_guest(&account, account.room(), || {
                start.call_resumable(&mut *store, &[], &mut [])
            }),
            Some(Resume::OutOfFuel(call)) => in_guest(&account, account.room(), || {
                call.resume(&mut *store, &mut [])
            }),
            // Every import that returns at all returns an errno (`proc_exit` never does).
            Some(Resume::Answered(call, errno)) => in_guest(&account, account.room(), || {
                call.resume(&mut *store, &[Val::I32(errno)], &mut [])
            }),
            Some(Resume::Suspended(call)) => {
                let blocked = match &store.data().pending {
                    Some((pending, Stop::Block(_))) => match pending.import {
                        Import::Preview1(index) => Some((index, *pending)),
                        Import::Control(_) => None,
                    },
                    _ => None,
                };
                let Some((index, pending)) = blocked else {
                    // Not answered yet: nothing to run.
                    self.resume = Some(Resume::Suspended(call));
                    return (0, Slice::Suspended);
                };
                let repeated = in_guest(&account, account.room(), || {
                    match run_preview1(&mut *store, index, pending) {
                        Outcome::Return(errno) => {
                            store.data_mut().pending = None;
                            let errno = i32::from(errno as u16);
                            Repeated::Resumed(call.resume(&mut *store, &[Val::I32(errno)], &mut []))
                        }
                        outcome => Repeated::Stopped(call, outcome),
                    }
                });
                match repeated {
                    Repeated::Resumed(result) => result,
                    Repeated::Stopped(call, outcome) => {
                        let stop = stop_of(outcome, index);
                        self.store.data_mut().pending = Some((pending, stop.clone()));
                        let slice = match stop {
                            Stop::Exit(status) => Slice::Ended(End::Exited(status)),
                            Stop::Trap(message) => Slice::Ended(End::Trapped(
                                self.with_backtrace(message, Innermost::AtCall),
                            )),
                            Stop::Block(_) | Stop::Control => {
                                self.resume = Some(Resume::Suspended(call));
                                Slice::Suspended
                            }
                        };
                        return (0, slice);
                    }
                }
            }
            None => return (0, Slice::Ended(End::Exited(0))),
        };
        let used = fuel.saturating_sub(self.store.get_fuel().unwrap_or(0));
        let slice = match result {
            Ok(ResumableCall::Finished) => Slice::Ended(End::Exited(0)),
            Ok(ResumableCall::OutOfFuel(call)) => {
                self.resume = Some(Resume::OutOfFuel(call));
                return (fuel, Slice::Preempted);
            }
            Ok(ResumableCall::HostTrap(call)) => {
                let end = match &self.store.data().pending {
                    Some((_, Stop::Exit(status))) => Some(End::Exited(*status)),
                    Some((_, Stop::Trap(message))) => Some(End::Trapped(
                        self.with_backtrace(message.clone(), Innermost::AtCall),
                    )),
                    Some(_) => None,
                    None => Some(End::Trapped(
                        self.with_backtrace(one_line(call.host_error()), Innermost::AtCall),
                    )),
                };
                match end {
                    Some(end) => Slice::Ended(end),
                    None => {
                        self.resume = Some(Resume::Suspended(call));
                        Slice::Suspended
                    }
                }
            }
            Err(error) => {
                // A call that would nest too deep traps at the call: the innermost frame is
                // at it. Any other trap is somewhere in the innermost function.
                let innermost = match error.as_trap_code() {
                    Some(TrapCode::StackOverflow) => Innermost::AtCall,
                    _ => Innermost::InFunction,
                };
                Slice::Ended(End::Trapped(
                    self.with_backtrace(one_line(&error), innermost),
                ))
            }
        };
        (used, slice)
    }

    /// The deadline of the suspended call if it is one that must wait (`Some(None)`: no
    /// deadline); `None` for any other suspended call, or none.
    pub fn blocked_until(&self) -> Option<Option<u64>> {
        match (&self.resume, &self.store.data().pending) {
            (Some(Resume::Suspended(_)), Some((_, Stop::Block(deadline)))) => Some(*deadline),
            _ => None,
        }
    }

    /// Whether the suspended call is a `cella_process` call, which the scheduler carries out.
    pub fn awaits_control(&self) -> bool {
        matches!(self.store.data().pending, Some((_, Stop::Control)))
    }
}

/// A wasmi error as one line, with wasmtime's `wasm trap: ` prefix for instruction traps.
fn one_line(error: &wasmi::Error) -> String {
    let message = format!("{error}");
    let message = message.trim_end();
    match error.as_trap_code() {
        Some(_) => format!("wasm trap: {message}"),
        None => String::from(message),
    }
}

/// Every import must be a known function with the right signature; anything else is named
/// in one clear message before instantiation, rather than wasmi's generic linker error.
fn check_imports(module: &Module) -> Result<(), String> {
    for import in module.imports() {
        let name = import.name();
        let expected = match import.module() {
            wasi_abi::MODULE => wasi_abi::FUNCTIONS
                .iter()
                .find(|f| f.name == name)
                .map(|f| func_type(f.params, f.returns_errno)),
            control::MODULE => control::Function::from_name(name)
                .map(|f| func_type(f.params(), CONTROL_RETURNS_ERRNO)),
            _ => None,
        };
        let Some(expected) = expected else {
            return Err(format!(
                "unknown import `{}::{}`: Cella provides the `{}` and `{}` functions",
                import.module(),
                name,
                wasi_abi::MODULE,
                control::MODULE,
            ));
        };
        match import.ty() {
            ExternType::Func(ty) if *ty == expected => {}
            other => {
                return Err(format!(
                    "import `{}::{name}` has type {other:?}, but Cella defines {expected:?}",
                    import.module(),
                ));
            }
        }
    }
    Ok(())
}

/// Every `cella_process` function returns its errno.
const CONTROL_RETURNS_ERRNO: bool = true;

/// The wasm type of a function with these parameters, returning an `i32` errno or nothing.
fn func_type(params: &[ValType], returns_errno: bool) -> FuncType {
    let params = params.iter().map(|p| match p {
        ValType::I32 => wasmi::ValType::I32,
        ValType::I64 => wasmi::ValType::I64,
    });
    let results: &[wasmi::ValType] = if returns_errno {
        &[wasmi::ValType::I32]
    } else {
        &[]
    };
    FuncType::new(params, results.iter().copied())
}

/// A linker holding both import modules.
fn linker(engine: &Engine) -> Result<Linker<ProcessData>, wasmi::errors::LinkerError> {
    let mut linker = Linker::new(engine);
    link_preview1(&mut linker)?;
    link_control(&mut linker)?;
    Ok(linker)
}

/// Generates `link_preview1`, which registers a typed host function for every function of
/// `wasi_abi::preview1_functions!`: wasmi decodes its arguments straight from its value
/// stack, with no slices of values to build or allocate, and it calls the function's typed entry in
/// `wasi_abi` on the caller's memory. Only a call that does not return at once (it blocks,
/// traps or ends the process) leaves its raw arguments with the process, for the scheduler.
macro_rules! link_preview1 {
    ($( $name:ident ( $($param:ident : $ty:ty),* ) $(=> $kind:ident)? ; )*) => {
        fn link_preview1(
            linker: &mut Linker<ProcessData>,
        ) -> Result<(), wasmi::errors::LinkerError> {
            $( link_preview1!(@one linker, $name ($($param: $ty),*) $($kind)?); )*
            Ok(())
        }
    };
    // `proc_exit` returns nothing: it always ends the process.
    (@one $linker:ident, $name:ident ($($param:ident : $ty:ty),*) noreturn) => {
        $linker.func_wrap(
            wasi_abi::MODULE,
            stringify!($name),
            |mut caller: Caller<'_, ProcessData>, $($param: $ty),*| -> Result<(), wasmi::Error> {
                let outcome = with_wasi(&mut caller, |wasi, memory| {
                    wasi_abi::entry::$name(wasi, memory, $($param),*)
                });
                let args = [$(Param::to_raw($param)),*];
                Err(suspend(&mut caller, wasi_abi::Id::$name, &args, outcome))
            },
        )?;
    };
    (@one $linker:ident, $name:ident ($($param:ident : $ty:ty),*) $($kind:ident)?) => {
        $linker.func_wrap(
            wasi_abi::MODULE,
            stringify!($name),
            |mut caller: Caller<'_, ProcessData>, $($param: $ty),*| -> Result<i32, wasmi::Error> {
                let outcome = with_wasi(&mut caller, |wasi, memory| {
                    wasi_abi::entry::$name(wasi, memory, $($param),*)
                });
                match outcome {
                    Outcome::Return(errno) => Ok(i32::from(errno as u16)),
                    outcome => {
                        let args = [$(Param::to_raw($param)),*];
                        Err(suspend(&mut caller, wasi_abi::Id::$name, &args, outcome))
                    }
                }
            },
        )?;
    };
}

wasi_abi::preview1_functions!(link_preview1);

/// Generates `link_control`, which registers a typed host function for every
/// `cella_process` function: each suspends the call for the scheduler, which holds the
/// process table they act on.
macro_rules! link_control {
    (module = $module:literal;
     $( $(#[$doc:meta])* $variant:ident $name:ident ( $($param:ident : $ty:ident),* ); )*) => {
        fn link_control(
            linker: &mut Linker<ProcessData>,
        ) -> Result<(), wasmi::errors::LinkerError> {
            $(
                linker.func_wrap(
                    control::MODULE,
                    stringify!($name),
                    |mut caller: Caller<'_, ProcessData>, $($param: $ty),*| -> Result<i32, wasmi::Error> {
                        let import = Import::Control(control::Function::$variant);
                        let args = [$(Param::to_raw($param)),*];
                        caller.data_mut().pending =
                            Some((PendingCall::new(import, &args), Stop::Control));
                        Err(wasmi::Error::host(Suspend))
                    },
                )?;
            )*
            Ok(())
        }
    };
}

wasi_abi::control::abi::cella_process_functions!(link_control);

/// Runs `f` on the process's WASI state and its whole linear memory (empty if it has
/// none): for a call from the program (a `Caller`) and for its repeat by the scheduler.
#[inline]
fn with_wasi<R>(
    mut context: impl wasmi::AsContextMut<Data = ProcessData>,
    f: impl FnOnce(&mut WasiCtx<KernelPlatform>, &mut [u8]) -> R,
) -> R {
    let mut context = context.as_context_mut();
    match context.data().memory {
        Some(memory) => {
            let (bytes, data) = memory.data_and_store_mut(&mut context);
            f(&mut data.wasi, bytes)
        }
        // A module without memory can still call the pointer-free functions.
        None => f(&mut context.data_mut().wasi, &mut []),
    }
}

/// The host error that hands a preview1 call which did not return (`outcome`) to the
/// scheduler, with what it needs to act on it and, for a blocked call, to repeat it.
#[cold]
fn suspend(
    caller: &mut Caller<'_, ProcessData>,
    id: wasi_abi::Id,
    args: &[u64],
    outcome: Outcome,
) -> wasmi::Error {
    let index = id as usize;
    let call = PendingCall::new(Import::Preview1(index), args);
    caller.data_mut().pending = Some((call, stop_of(outcome, index)));
    wasmi::Error::host(Suspend)
}

/// Runs a preview1 call against the process's memory and WASI state.
fn run_preview1(
    context: impl wasmi::AsContextMut<Data = ProcessData>,
    index: usize,
    call: PendingCall,
) -> Outcome {
    with_wasi(context, |wasi, bytes| {
        wasi_abi::dispatch(wasi, bytes, index, call.args())
    })
}

fn stop_of(outcome: Outcome, index: usize) -> Stop {
    match outcome {
        Outcome::Return(_) => Stop::Block(Some(0)),
        Outcome::Block { deadline } => Stop::Block(deadline),
        Outcome::Exit(status) => Stop::Exit(status),
        Outcome::Trap(trap) => {
            let name = wasi_abi::FUNCTIONS.get(index).map_or("?", |f| f.name);
            Stop::Trap(format!("wasm trap: {trap} in {}::{name}", wasi_abi::MODULE))
        }
    }
}

/// Runs `f` with the process's linear memory (empty if it has none) and WASI state, for the
/// scheduler's handling of a `cella_process` call.
pub fn with_memory<R>(
    task: &mut Task,
    f: impl FnOnce(&mut [u8], &mut WasiCtx<KernelPlatform>) -> R,
) -> R {
    match task.store.data().memory {
        Some(memory) => {
            let (bytes, data) = memory.data_and_store_mut(&mut task.store);
            f(bytes, &mut data.wasi)
        }
        None => f(&mut [], &mut task.store.data_mut().wasi),
    }
}
