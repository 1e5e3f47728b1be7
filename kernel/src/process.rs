//! Processes: the table of every Wasm program running on the machine, the scheduler loop
//! that gives each ready one a fuel slice in turn, parks blocked ones and halts the CPU when
//! none is ready, and the `cella_process` calls (spawn, wait, kill, pipe, ...) that act on
//! the table.
//!
//! A process that ends becomes a zombie holding its status until its parent waits for it;
//! its memory, fds and wasmi store are freed at once. Children of an ended process are
//! handed to init (pid 1). When pid 1 ends, the machine's run is over.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use wasi_abi::Errno;
use wasi_abi::control::{
    self, CONSOLE_COOKED, CONSOLE_RAW, Call, Group, MAX_SIGNAL, ProcessRecord, ProcessState,
    SIGINT, SIGTSTP, Spawn, Status, SystemInfo,
};
use wasi_abi::memory::GuestMemory;
use wasi_abi::outcome::Fault;
use wasi_abi::wake::WaitState;

use cella_backtrace::Innermost;

use crate::platform::KernelPlatform;
use crate::sched::{Pid, Scheduler};
use crate::wasm::{self, End, NotStarted, PendingCall, Slice, Stop, Task};
use crate::{console, mm, net, time};

mod jobs;

/// Fuel per slice: about this many wasm instructions run before the next process gets the
/// CPU (a few milliseconds of interpretation under QEMU's TCG).
pub const SLICE_FUEL: u64 = 1_000_000;
/// How often the scheduler looks at the console for Ctrl-C while processes run (idle, it
/// waits for input instead): 1 ms, well below what a person notices.
const CONSOLE_POLL_NS: u64 = 1_000_000;
/// The most processes (zombies included) at once: beyond it `spawn` answers `EAGAIN`.
pub const MAX_PROCESSES: usize = 128;
/// Free memory a spawn needs beyond the module's own size times [`COMPILE_FACTOR`]: the
/// engine, the store, the first pages of linear memory and the kernel's reserve.
const SPAWN_MIN_FREE: usize = 20 << 20;
/// Bytes of kernel memory per byte of module while it is compiled and instantiated.
const COMPILE_FACTOR: usize = wasm::CODE_BYTES_PER_MODULE_BYTE as usize;

/// What a process is now.
enum Life {
    /// Running, ready or blocked (boxed: a zombie is small).
    Live(Box<Task>),
    /// Ended; waiting for its parent to collect the status.
    Zombie(Status),
}

struct Process {
    ppid: Pid,
    pgid: Pid,
    name: Vec<u8>,
    life: Life,
    cpu_ns: u64,
    fuel_used: u64,
    /// 0 for no limit.
    fuel_limit: u64,
    /// Set while a stop signal holds it (see `jobs`).
    stopped: Option<jobs::Stopped>,
}

/// The machine's processes and scheduler.
pub struct System {
    procs: BTreeMap<Pid, Process>,
    sched: Scheduler,
    next_pid: Pid,
    /// The process group Ctrl-C interrupts (0: none).
    foreground: Pid,
    switches: u64,
    last_run: Pid,
    /// How pid 1 ended, once it has.
    init_end: Option<End>,
    /// The blocked pids of a pass of `retry_blocked`, kept to spare an allocation a pass.
    blocked_scratch: Vec<Pid>,
    /// Whether trap messages of pid 1 go to its stderr (the shell's init) or only to the
    /// caller of [`System::run`] (a single program, reported by the runner).
    report_init_traps: bool,
}

/// A `cella_process` call's result: an errno, or wait and repeat it.
enum Answer {
    Done(Errno),
    Block,
    Trap(String),
    /// The caller killed itself (or its own group) with this signal.
    Killed(u32),
    /// The caller stopped itself (or its own group) with this signal: the call succeeded.
    Stop(u32),
}

impl From<Fault> for Answer {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::Errno(errno) => Answer::Done(errno),
            Fault::Trap(trap) => Answer::Trap(format!(
                "wasm trap: {trap} in {}",
                wasi_abi::control::MODULE
            )),
            Fault::Exit(status) => Answer::Killed(status),
            Fault::Block(_) => Answer::Block,
        }
    }
}

impl From<Result<(), Fault>> for Answer {
    fn from(result: Result<(), Fault>) -> Self {
        match result {
            Ok(()) => Answer::Done(Errno::Success),
            Err(fault) => fault.into(),
        }
    }
}

/// The earlier of two optional deadlines.
fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl System {
    /// A machine whose pid 1 is `init`, already instantiated with its limits; `name` is its
    /// `argv[0]`.
    pub fn new(init: Task, name: &[u8], report_init_traps: bool) -> System {
        let mut system = System {
            procs: BTreeMap::new(),
            sched: Scheduler::new(),
            next_pid: 2,
            foreground: 1,
            switches: 0,
            last_run: 0,
            init_end: None,
            blocked_scratch: Vec::new(),
            report_init_traps,
        };
        system.procs.insert(
            1,
            Process {
                ppid: 0,
                pgid: 1,
                name: name.to_vec(),
                life: Life::Live(Box::new(init)),
                cpu_ns: 0,
                fuel_used: 0,
                fuel_limit: 0,
                stopped: None,
            },
        );
        system.sched.make_ready(1);
        system
    }

    /// Runs processes until pid 1 ends, and returns how it ended. Everything still running
    /// then is ended with it.
    pub fn run(mut self) -> End {
        crate::console::mark_started();
        let mut console_polled = 0;
        loop {
            // Ctrl-C and Ctrl-Z are looked for every CONSOLE_POLL_NS, not on every pass: a
            // pass can be as short as one context switch, which the look would make dearer
            // by a third (and the console's input is only polled then, or when idle).
            let now = time::monotonic_ns();
            if now.saturating_sub(console_polled) >= CONSOLE_POLL_NS {
                console_polled = now;
                if console::take_interrupt() && self.foreground != 0 {
                    self.signal(-(self.foreground as i64), SIGINT, 0);
                }
                if console::take_suspend() && self.foreground != 0 {
                    self.signal(-(self.foreground as i64), SIGTSTP, 0);
                }
            }
            net::poll();
            self.retry_blocked();
            if let Some(end) = self.init_end.take() {
                log::debug!(
                    "pid 1 ended; {} context switches, CPU idle {} ms; ending {} other processes",
                    self.switches,
                    time::halted_ns() / 1_000_000,
                    self.procs.len().saturating_sub(1)
                );
                return end;
            }
            match self.sched.next() {
                Some(pid) => self.run_slice(pid),
                None => console::idle(earliest(self.sched.next_deadline(), net::next_poll())),
            }
        }
    }

    fn task(&mut self, pid: Pid) -> Option<&mut Task> {
        match self.procs.get_mut(&pid) {
            Some(Process {
                life: Life::Live(task),
                ..
            }) => Some(task),
            _ => None,
        }
    }

    fn run_slice(&mut self, pid: Pid) {
        let Some(process) = self.procs.get_mut(&pid) else {
            return;
        };
        let fuel = match process.fuel_limit {
            0 => SLICE_FUEL,
            limit => SLICE_FUEL.min(limit.saturating_sub(process.fuel_used)),
        };
        let Life::Live(task) = &mut process.life else {
            return;
        };
        task.wasi().platform().begin_slice(process.cpu_ns);
        let started = time::monotonic_ns();
        let (used, slice) = task.run(fuel);
        process.cpu_ns = process
            .cpu_ns
            .saturating_add(time::monotonic_ns().saturating_sub(started));
        process.fuel_used = process.fuel_used.saturating_add(used);
        let exhausted = process.fuel_limit != 0 && process.fuel_used >= process.fuel_limit;
        if self.last_run != pid {
            self.switches += 1;
            self.last_run = pid;
        }
        match slice {
            Slice::Preempted if exhausted => self.end(pid, End::FuelExhausted),
            Slice::Preempted => self.sched.make_ready(pid),
            Slice::Suspended => self.handle_pending(pid),
            Slice::Ended(end) => self.end(pid, end),
        }
    }

    /// Acts on the call `pid` suspended: park it, or carry out a `cella_process` call.
    fn handle_pending(&mut self, pid: Pid) {
        // The common case, a call that must wait, needs no copy of the call.
        if let Some(deadline) = self.task(pid).and_then(|task| task.blocked_until()) {
            self.sched.block(pid, deadline);
            return;
        }
        let Some((call, stop)) = self.task(pid).and_then(|task| task.pending()) else {
            self.sched.make_ready(pid);
            return;
        };
        match stop {
            Stop::Block(deadline) => self.sched.block(pid, deadline),
            Stop::Exit(status) => self.end(pid, End::Exited(status)),
            Stop::Trap(message) => self.end(pid, End::Trapped(message)),
            Stop::Control => match self.control(pid, call) {
                Answer::Done(errno) => {
                    if let Some(task) = self.task(pid) {
                        task.resume_with(errno);
                        self.sched.make_ready(pid);
                    }
                }
                Answer::Block => self.sched.block(pid, None),
                Answer::Trap(message) => {
                    let message = match self.task(pid) {
                        Some(task) => task.with_backtrace(message, Innermost::AtCall),
                        None => message,
                    };
                    self.end(pid, End::Trapped(message))
                }
                Answer::Killed(signal) => self.end_signaled(pid, signal),
                Answer::Stop(signal) => {
                    if let Some(task) = self.task(pid) {
                        task.resume_with(Errno::Success);
                        self.sched.make_ready(pid);
                        self.stop(pid, signal);
                    }
                }
            },
        }
    }

    /// Wakes the blocked processes that something may have unblocked: every one but those
    /// waiting on a pipe that has not changed since (see `wasi_abi::wake`). One whose pipe
    /// woke it goes straight back to the ready queue, and its slice repeats the call before
    /// it continues (see [`Task::run`]); the others (console, sockets, sleeps, `poll_oneoff`,
    /// `cella_process` calls), which nothing wakes, have their call repeated here, on every
    /// pass, and are queued only once it completes.
    fn retry_blocked(&mut self) {
        let mut blocked = core::mem::take(&mut self.blocked_scratch);
        blocked.clear();
        blocked.extend(self.sched.blocked());
        for &pid in &blocked {
            let Some(task) = self.task(pid) else {
                self.sched.remove(pid);
                continue;
            };
            let waker = task.wasi().waker();
            let woken = match waker.state() {
                WaitState::Armed => continue,
                WaitState::Woken => {
                    waker.reset();
                    true
                }
                WaitState::Idle => false,
            };
            if task.awaits_control() {
                self.handle_pending(pid);
                continue;
            }
            if woken {
                self.sched.make_ready(pid);
                continue;
            }
            match task.retry() {
                None => self.sched.make_ready(pid),
                Some(Stop::Block(deadline)) => self.sched.block(pid, deadline),
                Some(Stop::Exit(status)) => self.end(pid, End::Exited(status)),
                Some(Stop::Trap(message)) => self.end(pid, End::Trapped(message)),
                Some(Stop::Control) => {}
            }
        }
        self.blocked_scratch = blocked;
    }

    /// Ends `pid`: reports a trap on its stderr, frees its task, hands its children to init
    /// and leaves a zombie for its parent (or the machine's end, for pid 1).
    fn end(&mut self, pid: Pid, end: End) {
        self.sched.remove(pid);
        let Some(process) = self.procs.get_mut(&pid) else {
            return;
        };
        let status = match &end {
            End::Exited(code) => Status::Exited(*code),
            End::Trapped(_) => Status::Trapped,
            End::FuelExhausted => Status::FuelExhausted,
        };
        let message = match &end {
            End::Trapped(message) => Some(message.clone()),
            End::FuelExhausted => Some(String::from("fuel limit exhausted")),
            End::Exited(_) => None,
        };
        if let Life::Live(task) = &mut process.life {
            let name = String::from_utf8_lossy(&process.name);
            // A failure after a refused memory.grow is most likely its consequence.
            if let Some(refusal) = task.refused_growth()
                && !matches!(end, End::Exited(0))
            {
                let line = format!("{name}: {}\n", refusal.note());
                task.wasi().write_stderr(line.as_bytes());
            }
            if let Some(message) = message
                && (pid != 1 || self.report_init_traps)
            {
                // A trap's message has its backtrace already; fuel runs out anywhere, as
                // wasmtime's fuel trap does, so its backtrace shows where the code was looping.
                let message = match end {
                    End::FuelExhausted => task.with_backtrace(message, Innermost::InFunction),
                    _ => message,
                };
                let line = format!("{name}: {message}\n");
                task.wasi().write_stderr(line.as_bytes());
            }
        }
        log::debug!(
            "pid {pid} ({}) ended: {end:?} after {} ms of CPU and {} fuel",
            String::from_utf8_lossy(&process.name),
            process.cpu_ns / 1_000_000,
            process.fuel_used
        );
        // Dropping the task frees its memory and closes its fds (pipe ends included).
        process.life = Life::Zombie(status);
        self.orphan_children(pid);
        if pid == 1 {
            self.init_end = Some(end);
        }
    }

    fn end_signaled(&mut self, pid: Pid, signal: u32) {
        self.sched.remove(pid);
        if let Some(process) = self.procs.get_mut(&pid) {
            process.life = Life::Zombie(Status::Signaled(signal));
            log::debug!(
                "pid {pid} ({}) killed by signal {signal} after {} ms of CPU and {} fuel",
                String::from_utf8_lossy(&process.name),
                process.cpu_ns / 1_000_000,
                process.fuel_used
            );
        }
        self.orphan_children(pid);
        if pid == 1 {
            self.init_end = Some(End::Exited(128 + signal));
        }
    }

    fn orphan_children(&mut self, pid: Pid) {
        self.hang_up_stopped_children(pid);
        for process in self.procs.values_mut() {
            if process.ppid == pid {
                process.ppid = 1;
            }
        }
    }

    /// Sends `signal` to `target` (a pid, or a group as a negative number) on behalf of
    /// `caller`; returns whether any process matched and whether the caller was hit.
    fn signal(&mut self, target: i64, signal: u32, caller: Pid) -> (bool, bool) {
        let targets: Vec<Pid> = self
            .procs
            .iter()
            .filter(|(pid, process)| {
                if target > 0 {
                    i64::from(**pid) == target
                } else {
                    i64::from(process.pgid) == -target
                }
            })
            .map(|(pid, _)| *pid)
            .collect();
        let mut hit_caller = false;
        for &pid in &targets {
            let live = matches!(self.procs.get(&pid), Some(p) if matches!(p.life, Life::Live(_)));
            if signal == 0 || pid == 1 || !live {
                continue;
            }
            if pid == caller {
                hit_caller = true;
            } else {
                self.deliver(pid, signal);
            }
        }
        (!targets.is_empty(), hit_caller)
    }

    /// Carries out a `cella_process` call of `pid`.
    fn control(&mut self, pid: Pid, call: PendingCall) -> Answer {
        let Some(decoded) = call.control() else {
            return Answer::Trap(String::from("malformed cella_process call"));
        };
        match decoded {
            Call::Spawn { request, pid_out } => self.spawn(pid, request, pid_out),
            Call::Wait {
                pid: target,
                options,
                result,
            } => self.wait(pid, target, options, result),
            Call::Kill {
                pid: target,
                signal,
            } => {
                if signal > MAX_SIGNAL || target == -1 {
                    return Answer::Done(Errno::Inval);
                }
                let target = match target {
                    0 => -i64::from(self.procs.get(&pid).map_or(0, |p| p.pgid)),
                    target => i64::from(target),
                };
                if target == 1 && signal != 0 {
                    return Answer::Done(Errno::Perm);
                }
                match self.signal(target, signal, pid) {
                    (false, _) => Answer::Done(Errno::Srch),
                    (true, true) => jobs::signal_self(signal),
                    (true, false) => Answer::Done(Errno::Success),
                }
            }
            Call::Pipe { fds_out } => self.with_caller(pid, |mem, wasi| {
                control::open_pipe(wasi, mem, fds_out).into()
            }),
            Call::Processes {
                buf,
                buf_len,
                count_out,
            } => {
                let records = self.records();
                self.with_caller(pid, |mem, _| {
                    control::write_processes(mem, buf, buf_len, count_out, &records).into()
                })
            }
            Call::ConsoleMode { mode } => self.with_caller(pid, |_, wasi| {
                let raw = match mode {
                    CONSOLE_RAW => true,
                    CONSOLE_COOKED => false,
                    _ => return Answer::Done(Errno::Inval),
                };
                if wasi.stdin_is_terminal() && console::has_discipline() {
                    console::set_raw(raw);
                    Answer::Done(Errno::Success)
                } else {
                    Answer::Done(Errno::Notty)
                }
            }),
            Call::SetForeground { pgid } => {
                self.foreground = pgid;
                Answer::Done(Errno::Success)
            }
            Call::SelfPid { pid_out } => self.with_caller(pid, |mem, _| {
                mem.write(pid_out, &pid).map_err(Fault::from).into()
            }),
            Call::FsInfo { fd, out } => {
                self.with_caller(pid, |mem, wasi| control::fs_info(wasi, mem, fd, out).into())
            }
            Call::SystemInfo { out } => {
                let stats = mm::stats();
                let info = SystemInfo {
                    kernel_heap_used: stats.heap_used as u64,
                    free_memory: mm::available_bytes() as u64,
                    total_memory: stats.total as u64,
                    uptime_ns: time::monotonic_ns(),
                    processes: self.procs.len() as u64,
                    context_switches: self.switches,
                };
                self.with_caller(pid, |mem, _| {
                    mem.write(out, &info).map_err(Fault::from).into()
                })
            }
        }
    }

    /// Runs `f` on the caller's memory and WASI state.
    fn with_caller(
        &mut self,
        pid: Pid,
        f: impl FnOnce(&mut GuestMemory<'_>, &mut wasi_abi::WasiCtx<KernelPlatform>) -> Answer,
    ) -> Answer {
        match self.task(pid) {
            Some(task) => {
                wasm::with_memory(task, |bytes, wasi| f(&mut GuestMemory::new(bytes), wasi))
            }
            None => Answer::Done(Errno::Srch),
        }
    }

    fn records(&self) -> Vec<ProcessRecord> {
        self.procs
            .iter()
            .map(|(&pid, process)| {
                let (state, memory) = match &process.life {
                    Life::Live(task) => (
                        if process.stopped.is_some() {
                            ProcessState::Stopped
                        } else if self.sched.is_blocked(pid) {
                            ProcessState::Sleeping
                        } else {
                            ProcessState::Running
                        },
                        task.charged_bytes(),
                    ),
                    Life::Zombie(_) => (ProcessState::Zombie, 0),
                };
                ProcessRecord {
                    pid,
                    ppid: process.ppid,
                    pgid: process.pgid,
                    state,
                    memory,
                    cpu_ns: process.cpu_ns,
                    name_bytes: ProcessRecord::padded_name(&process.name),
                }
            })
            .collect()
    }

    fn spawn(&mut self, caller: Pid, request: u32, pid_out: u32) -> Answer {
        let Some(parent) = self.procs.get(&caller) else {
            return Answer::Done(Errno::Srch);
        };
        let caller_pgid = parent.pgid;
        // Limits are inherited, and a child may only narrow them (0: none, for fuel). The
        // caller runs, so its account holds its memory limit.
        let parent_fuel = match parent.fuel_limit {
            0 => u64::MAX,
            limit => limit,
        };
        let Some(parent_memory) = self.task(caller).map(|task| task.wasi().account().limit())
        else {
            return Answer::Done(Errno::Srch);
        };
        // Everything from the caller first: the request, the module bytes, the child's fds.
        let prepared = self.with_caller_result(caller, |mem, wasi| {
            mem.check::<u32>(pid_out)?;
            let request = Spawn::read(mem, request)?;
            let fds = control::child_fds(wasi, &request)?;
            let bytes = control::read_program(wasi, request.program_fd)?;
            Ok((request, fds, bytes))
        });
        let (request, fds, bytes) = match prepared {
            Ok(prepared) => prepared,
            Err(fault) => return fault.into(),
        };
        if self.procs.len() >= MAX_PROCESSES {
            return Answer::Done(Errno::Again);
        }
        let needed = SPAWN_MIN_FREE.saturating_add(bytes.len().saturating_mul(COMPILE_FACTOR));
        if mm::available_bytes() < needed {
            return Answer::Done(Errno::Nomem);
        }
        let pgid_of_child = match request.group {
            Group::Caller => Some(caller_pgid),
            Group::New => None,
            Group::Join(pgid) => {
                if !self.procs.values().any(|p| p.pgid == pgid) {
                    return Answer::Done(Errno::Perm);
                }
                Some(pgid)
            }
        };
        let name = request.args.first().cloned().unwrap_or_default();
        let memory_limit = control::narrowed(parent_memory, request.memory_limit);
        let fuel_limit = match control::narrowed(parent_fuel, request.fuel_limit) {
            u64::MAX => 0,
            limit => limit,
        };
        let program = match wasm::load(&bytes, memory_limit) {
            Ok(program) => program,
            Err(message) => {
                log::debug!("spawn of {}: {message}", String::from_utf8_lossy(&name));
                return Answer::Done(Errno::Noexec);
            }
        };
        drop(bytes);
        let wasi =
            wasi_abi::WasiCtx::with_fds(KernelPlatform::new(), request.args, request.env, fds);
        wasi.account().set_limit(memory_limit);
        let task = match Task::new(program, wasi) {
            Ok(task) => task,
            Err(NotStarted::NoMemory) => return Answer::Done(Errno::Nomem),
            Err(reason) => {
                log::debug!("spawn of {}: {reason:?}", String::from_utf8_lossy(&name));
                return Answer::Done(Errno::Noexec);
            }
        };
        let pid = self.next_pid;
        self.next_pid = self.next_pid.wrapping_add(1).max(2);
        self.procs.insert(
            pid,
            Process {
                ppid: caller,
                pgid: pgid_of_child.unwrap_or(pid),
                name,
                life: Life::Live(Box::new(task)),
                cpu_ns: 0,
                fuel_used: 0,
                fuel_limit,
                stopped: None,
            },
        );
        self.sched.make_ready(pid);
        self.with_caller(caller, |mem, _| {
            mem.write(pid_out, &pid).map_err(Fault::from).into()
        })
    }

    fn with_caller_result<R>(
        &mut self,
        pid: Pid,
        f: impl FnOnce(&mut GuestMemory<'_>, &mut wasi_abi::WasiCtx<KernelPlatform>) -> Result<R, Fault>,
    ) -> Result<R, Fault> {
        match self.task(pid) {
            Some(task) => {
                wasm::with_memory(task, |bytes, wasi| f(&mut GuestMemory::new(bytes), wasi))
            }
            None => Err(Fault::Errno(Errno::Srch)),
        }
    }
}
