//! The records `cella_process` calls pass through the caller's memory.
//!
//! Each is a run of little-endian fields one after the other, with no padding (every `u64`
//! already falls on a multiple of 8); [`Record::encode`] and [`Record::decode`] read and
//! write the fields in that order, so the order of the statements there is the layout.
//! Decoding never fails: a value out of range reads as the documented fallback, and a field
//! cut short by a short slice reads as zero.

/// A record of the ABI: its size and alignment in the caller's memory and its encoding.
pub trait Record: Sized {
    /// Size in bytes.
    const SIZE: usize;
    /// Required alignment of its address, in bytes.
    const ALIGN: usize;
    /// Decodes the record from the first [`Record::SIZE`] bytes of `bytes`.
    fn decode(bytes: &[u8]) -> Self;
    /// Encodes the record into the first [`Record::SIZE`] bytes of `out` (as much as fits).
    fn encode(&self, out: &mut [u8]);
}

/// Reads fields one after the other.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        let end = self.at.saturating_add(N);
        if let Some(field) = self.bytes.get(self.at..end) {
            out.copy_from_slice(field);
        }
        self.at = end;
        out
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }
}

/// Writes fields one after the other.
struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, field: &[u8]) {
        let end = self.at.saturating_add(field.len());
        if let Some(slot) = self.out.get_mut(self.at..end) {
            slot.copy_from_slice(field);
        }
        self.at = end;
    }

    fn u32(&mut self, value: u32) {
        self.bytes(&value.to_le_bytes());
    }

    fn u64(&mut self, value: u64) {
        self.bytes(&value.to_le_bytes());
    }
}

/// Which process group a spawned child joins; a `u32` in [`SpawnRequest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// The caller's (0).
    Caller,
    /// A new group led by the child, whose pgid is its pid (`u32::MAX`).
    New,
    /// This existing group (any other value).
    Join(u32),
}

impl Group {
    const CALLER: u32 = 0;
    const NEW: u32 = u32::MAX;

    /// The group a request's `pgid` word names.
    pub const fn from_word(word: u32) -> Group {
        match word {
            Group::CALLER => Group::Caller,
            Group::NEW => Group::New,
            pgid => Group::Join(pgid),
        }
    }

    /// The word that names this group in a request.
    pub const fn word(self) -> u32 {
        match self {
            Group::Caller => Group::CALLER,
            Group::New => Group::NEW,
            Group::Join(pgid) => pgid,
        }
    }
}

/// What `spawn` reads at its `request` address: 64 bytes, 8-aligned. The strings and the
/// preopen table stay in the caller's memory, where the addresses point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpawnRequest {
    /// An open, readable file of the caller holding the module.
    pub program_fd: u32,
    /// Address of argv: NUL-terminated strings one after the other, `argv[0]` first.
    pub argv: u32,
    /// Bytes of argv, NULs included (at most [`crate::MAX_STRINGS_BYTES`]).
    pub argv_len: u32,
    /// Address of the environment: `NAME=VALUE` strings as argv's.
    pub env: u32,
    /// Bytes of the environment (at most [`crate::MAX_STRINGS_BYTES`]).
    pub env_len: u32,
    /// The caller's fds that become the child's stdin, stdout and stderr.
    pub stdio: [u32; 3],
    /// Address of an array of [`PreopenEntry`]s.
    pub preopens: u32,
    /// Entries in that array (at most [`crate::MAX_PREOPENS`]).
    pub preopens_len: u32,
    /// The child's process group.
    pub group: Group,
    /// The most fds the child may have open; 0 for the caller's limit.
    pub max_fds: u32,
    /// Bytes the child may hold (linear memory, code, pipes, connections); 0 for the
    /// caller's limit.
    pub memory_limit: u64,
    /// Fuel (about one unit per wasm instruction) before the child is ended; 0 for the
    /// caller's limit, none if it has none.
    pub fuel_limit: u64,
}

impl Record for SpawnRequest {
    const SIZE: usize = 64;
    const ALIGN: usize = 8;

    fn decode(bytes: &[u8]) -> Self {
        let mut r = Reader { bytes, at: 0 };
        SpawnRequest {
            program_fd: r.u32(),
            argv: r.u32(),
            argv_len: r.u32(),
            env: r.u32(),
            env_len: r.u32(),
            stdio: [r.u32(), r.u32(), r.u32()],
            preopens: r.u32(),
            preopens_len: r.u32(),
            group: Group::from_word(r.u32()),
            max_fds: r.u32(),
            memory_limit: r.u64(),
            fuel_limit: r.u64(),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        let mut w = Writer { out, at: 0 };
        w.u32(self.program_fd);
        w.u32(self.argv);
        w.u32(self.argv_len);
        w.u32(self.env);
        w.u32(self.env_len);
        for fd in self.stdio {
            w.u32(fd);
        }
        w.u32(self.preopens);
        w.u32(self.preopens_len);
        w.u32(self.group.word());
        w.u32(self.max_fds);
        w.u64(self.memory_limit);
        w.u64(self.fuel_limit);
    }
}

/// One preopen a spawn hands over (12 bytes, 4-aligned): the caller's directory (or
/// listening socket) `fd` becomes the child's next preopen (fds 3, 4, ... in order) under
/// the name at `name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreopenEntry {
    /// The caller's fd.
    pub fd: u32,
    /// Address of the name the child knows it by (ignored for a socket).
    pub name: u32,
    /// Bytes of the name.
    pub name_len: u32,
}

impl Record for PreopenEntry {
    const SIZE: usize = 12;
    const ALIGN: usize = 4;

    fn decode(bytes: &[u8]) -> Self {
        let mut r = Reader { bytes, at: 0 };
        PreopenEntry {
            fd: r.u32(),
            name: r.u32(),
            name_len: r.u32(),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        let mut w = Writer { out, at: 0 };
        w.u32(self.fd);
        w.u32(self.name);
        w.u32(self.name_len);
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// It returned from `_start` (status 0) or called `proc_exit(code)`.
    Exited(u32),
    /// It was killed by this signal (Ctrl-C, `kill`).
    Signaled(u32),
    /// It trapped (the kernel has written the reason to its stderr).
    Trapped,
    /// It used up the fuel limit it was spawned with.
    FuelExhausted,
    /// It has not ended: it was stopped by this signal (`SIGSTOP`, `SIGTSTP`, ...) and waits
    /// for `SIGCONT`. Only `wait` with [`crate::WAIT_UNTRACED`] reports it.
    Stopped(u32),
}

impl Status {
    const EXITED: u32 = 0;
    const SIGNALED: u32 = 1;
    const TRAPPED: u32 = 2;
    const FUEL_EXHAUSTED: u32 = 3;
    const STOPPED: u32 = 4;

    /// The status a shell shows in `$?`: the exit code modulo 256, 128 + the signal for a
    /// signal (and for a stop: 148 after Ctrl-Z), 134 for a trap (as wasmtime exits on one),
    /// 137 for an exhausted fuel limit (killed).
    pub fn code(self) -> i32 {
        match self {
            Status::Exited(code) => (code & 0xff) as i32,
            Status::Signaled(signal) | Status::Stopped(signal) => {
                128_i32.saturating_add_unsigned(signal)
            }
            Status::Trapped => 134,
            Status::FuelExhausted => Status::Signaled(crate::SIGKILL).code(),
        }
    }

    /// Whether it exited with status 0.
    pub fn success(self) -> bool {
        self == Status::Exited(0)
    }

    /// Whether the process has ended (every status but [`Status::Stopped`]).
    pub fn ended(self) -> bool {
        !matches!(self, Status::Stopped(_))
    }
}

/// What `wait` stores (12 bytes, 4-aligned): `u32 pid`, `u32 kind` (0 exited, 1 killed by a
/// signal, 2 trapped, 3 fuel exhausted, 4 stopped; anything else reads as trapped), `u32
/// value` (the exit status or the signal, else 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitResult {
    /// The child that ended (or stopped); 0 when none had and [`crate::WAIT_NOHANG`] was
    /// given.
    pub pid: u32,
    /// How it ended, or that it stopped (meaningless when `pid` is 0).
    pub status: Status,
}

impl Record for WaitResult {
    const SIZE: usize = 12;
    const ALIGN: usize = 4;

    fn decode(bytes: &[u8]) -> Self {
        let mut r = Reader { bytes, at: 0 };
        let pid = r.u32();
        let status = match (r.u32(), r.u32()) {
            (Status::EXITED, code) => Status::Exited(code),
            (Status::SIGNALED, signal) => Status::Signaled(signal),
            (Status::FUEL_EXHAUSTED, _) => Status::FuelExhausted,
            (Status::STOPPED, signal) => Status::Stopped(signal),
            _ => Status::Trapped,
        };
        WaitResult { pid, status }
    }

    fn encode(&self, out: &mut [u8]) {
        let (kind, value) = match self.status {
            Status::Exited(code) => (Status::EXITED, code),
            Status::Signaled(signal) => (Status::SIGNALED, signal),
            Status::Trapped => (Status::TRAPPED, 0),
            Status::FuelExhausted => (Status::FUEL_EXHAUSTED, 0),
            Status::Stopped(signal) => (Status::STOPPED, signal),
        };
        let mut w = Writer { out, at: 0 };
        w.u32(self.pid);
        w.u32(kind);
        w.u32(value);
    }
}

/// What a process is doing; a `u32` in [`ProcessRecord`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessState {
    /// Running or ready to run (0).
    Running,
    /// Blocked: reading, sleeping or waiting for a child (1).
    Sleeping,
    /// Ended, not yet waited for by its parent (2; anything else reads as this).
    Zombie,
    /// Stopped by a stop signal until `SIGCONT`: never scheduled (3).
    Stopped,
}

impl ProcessState {
    const RUNNING: u32 = 0;
    const SLEEPING: u32 = 1;
    const ZOMBIE: u32 = 2;
    const STOPPED: u32 = 3;

    /// The letter `ps` shows: R, S, Z or T.
    pub fn letter(self) -> char {
        match self {
            ProcessState::Running => 'R',
            ProcessState::Sleeping => 'S',
            ProcessState::Zombie => 'Z',
            ProcessState::Stopped => 'T',
        }
    }
}

/// Bytes of a process name in a [`ProcessRecord`]: NUL-padded, the last always NUL.
pub const NAME_BYTES: usize = 32;

/// One process as `processes` stores it (64 bytes, 8-aligned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessRecord {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid (0 for init).
    pub ppid: u32,
    /// Its process group.
    pub pgid: u32,
    /// What it is doing.
    pub state: ProcessState,
    /// Bytes it holds against its memory limit: linear memory, its code in the interpreter,
    /// the pipes it made and the connections it accepted.
    pub memory: u64,
    /// CPU time used, in nanoseconds.
    pub cpu_ns: u64,
    /// Its `argv[0]`, NUL-padded (see [`ProcessRecord::name`]).
    pub name_bytes: [u8; NAME_BYTES],
}

impl ProcessRecord {
    /// `name` as the record holds it: its first 31 bytes (up to a NUL), NUL-padded.
    pub fn padded_name(name: &[u8]) -> [u8; NAME_BYTES] {
        let mut out = [0; NAME_BYTES];
        let kept = name.iter().take(NAME_BYTES - 1).take_while(|&&b| b != 0);
        for (slot, &byte) in out.iter_mut().zip(kept) {
            *slot = byte;
        }
        out
    }

    /// The name: the bytes before the first NUL.
    pub fn name(&self) -> &[u8] {
        let end = self
            .name_bytes
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(NAME_BYTES);
        self.name_bytes.get(..end).unwrap_or(&[])
    }
}

impl Record for ProcessRecord {
    const SIZE: usize = 64;
    const ALIGN: usize = 8;

    fn decode(bytes: &[u8]) -> Self {
        let mut r = Reader { bytes, at: 0 };
        ProcessRecord {
            pid: r.u32(),
            ppid: r.u32(),
            pgid: r.u32(),
            state: match r.u32() {
                ProcessState::RUNNING => ProcessState::Running,
                ProcessState::SLEEPING => ProcessState::Sleeping,
                ProcessState::STOPPED => ProcessState::Stopped,
                _ => ProcessState::Zombie,
            },
            memory: r.u64(),
            cpu_ns: r.u64(),
            name_bytes: r.array(),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        let state = match self.state {
            ProcessState::Running => ProcessState::RUNNING,
            ProcessState::Sleeping => ProcessState::SLEEPING,
            ProcessState::Zombie => ProcessState::ZOMBIE,
            ProcessState::Stopped => ProcessState::STOPPED,
        };
        let mut w = Writer { out, at: 0 };
        w.u32(self.pid);
        w.u32(self.ppid);
        w.u32(self.pgid);
        w.u32(state);
        w.u64(self.memory);
        w.u64(self.cpu_ns);
        // The last byte stays NUL whatever the field holds.
        w.bytes(&ProcessRecord::padded_name(&self.name_bytes));
    }
}

/// Machine-wide figures, as `system_info` stores them (48 bytes, 8-aligned: six `u64`s).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemInfo {
    /// Bytes of the kernel heap in use.
    pub kernel_heap_used: u64,
    /// Bytes of memory free for programs and files.
    pub free_memory: u64,
    /// Bytes of memory in all.
    pub total_memory: u64,
    /// Nanoseconds since boot.
    pub uptime_ns: u64,
    /// Processes that exist, zombies included.
    pub processes: u64,
    /// Times the scheduler switched from one process to another.
    pub context_switches: u64,
}

impl Record for SystemInfo {
    const SIZE: usize = 48;
    const ALIGN: usize = 8;

    fn decode(bytes: &[u8]) -> Self {
        let mut r = Reader { bytes, at: 0 };
        SystemInfo {
            kernel_heap_used: r.u64(),
            free_memory: r.u64(),
            total_memory: r.u64(),
            uptime_ns: r.u64(),
            processes: r.u64(),
            context_switches: r.u64(),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        let mut w = Writer { out, at: 0 };
        for figure in [
            self.kernel_heap_used,
            self.free_memory,
            self.total_memory,
            self.uptime_ns,
            self.processes,
            self.context_switches,
        ] {
            w.u64(figure);
        }
    }
}

/// A file system's size and use, as `fs_info` stores them (16 bytes, 8-aligned: two
/// `u64`s). Cella's file system lives in memory: its size is its cap (`--fs-size`), and what
/// it uses counts file data, inodes, directory entries and symlink targets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsInfo {
    /// Bytes the file system may hold.
    pub size: u64,
    /// Bytes it holds now.
    pub used: u64,
}

impl Record for FsInfo {
    const SIZE: usize = 16;
    const ALIGN: usize = 8;

    fn decode(bytes: &[u8]) -> Self {
        let mut r = Reader { bytes, at: 0 };
        FsInfo {
            size: r.u64(),
            used: r.u64(),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        let mut w = Writer { out, at: 0 };
        w.u64(self.size);
        w.u64(self.used);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec;
    use std::vec::Vec;

    /// `record` encoded into `SIZE` bytes, checking that encoding writes exactly those.
    fn encoded<T: Record>(record: &T) -> Vec<u8> {
        let mut bytes = vec![0xaa; T::SIZE + 8];
        record.encode(&mut bytes);
        assert_eq!(bytes[T::SIZE..], [0xaa; 8], "wrote past its size");
        bytes.truncate(T::SIZE);
        bytes
    }

    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
    }

    fn u64_at(bytes: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
    }

    // The offsets below are the README's ("Process control").

    #[test]
    fn a_spawn_request_is_twelve_words_then_two_limits() {
        let request = SpawnRequest {
            program_fd: 9,
            argv: 0x100,
            argv_len: 8,
            env: 0x200,
            env_len: 6,
            stdio: [0, 5, 2],
            preopens: 0x300,
            preopens_len: 1,
            group: Group::New,
            max_fds: 7,
            memory_limit: 1 << 40,
            fuel_limit: 3 << 33,
        };
        let bytes = encoded(&request);
        let words: Vec<u32> = (0..12).map(|n| u32_at(&bytes, n * 4)).collect();
        assert_eq!(
            words,
            [9, 0x100, 8, 0x200, 6, 0, 5, 2, 0x300, 1, u32::MAX, 7]
        );
        assert_eq!(u64_at(&bytes, 48), 1 << 40);
        assert_eq!(u64_at(&bytes, 56), 3 << 33);
        assert_eq!(SpawnRequest::decode(&bytes), request);
    }

    #[test]
    fn a_group_word_is_zero_max_or_a_pgid() {
        for group in [Group::Caller, Group::New, Group::Join(42)] {
            assert_eq!(Group::from_word(group.word()), group);
        }
        assert_eq!(Group::from_word(0), Group::Caller);
        assert_eq!(Group::from_word(u32::MAX), Group::New);
    }

    #[test]
    fn a_preopen_entry_is_fd_name_and_length() {
        let entry = PreopenEntry {
            fd: 3,
            name: 0x400,
            name_len: 5,
        };
        let bytes = encoded(&entry);
        assert_eq!([0, 4, 8].map(|at| u32_at(&bytes, at)), [3, 0x400, 5]);
        assert_eq!(PreopenEntry::decode(&bytes), entry);
    }

    #[test]
    fn a_wait_result_is_pid_kind_and_value() {
        let cases = [
            (Status::Exited(42), 0, 42),
            (Status::Signaled(9), 1, 9),
            (Status::Trapped, 2, 0),
            (Status::FuelExhausted, 3, 0),
            (Status::Stopped(20), 4, 20),
        ];
        for (status, kind, value) in cases {
            let result = WaitResult { pid: 7, status };
            let bytes = encoded(&result);
            assert_eq!([0, 4, 8].map(|at| u32_at(&bytes, at)), [7, kind, value]);
            assert_eq!(WaitResult::decode(&bytes), result);
        }
        let unknown = [1u32, 99, 5].map(u32::to_le_bytes).concat();
        assert_eq!(WaitResult::decode(&unknown).status, Status::Trapped);
    }

    #[test]
    fn a_status_reads_as_a_shell_shows_it() {
        assert_eq!(Status::Exited(256 + 3).code(), 3);
        assert_eq!(Status::Signaled(2).code(), 130);
        assert_eq!(Status::Signaled(u32::MAX).code(), i32::MAX);
        assert_eq!(Status::Trapped.code(), 134);
        assert_eq!(Status::FuelExhausted.code(), 137);
        assert_eq!(Status::Stopped(20).code(), 148, "Ctrl-Z, as bash shows it");
        assert!(!Status::Stopped(19).success() && !Status::Stopped(19).ended());
        assert!(Status::Signaled(19).ended() && Status::Trapped.ended());
        assert!(Status::Exited(0).success());
        assert!(!Status::Exited(1).success());
    }

    #[test]
    fn a_process_record_keeps_31_bytes_of_its_name() {
        let record = ProcessRecord {
            pid: 1,
            ppid: 0,
            pgid: 1,
            state: ProcessState::Sleeping,
            memory: 1 << 33,
            cpu_ns: 42,
            name_bytes: ProcessRecord::padded_name(b"a-very-long-program-name-beyond-31-bytes"),
        };
        let bytes = encoded(&record);
        assert_eq!([0, 4, 8, 12].map(|at| u32_at(&bytes, at)), [1, 0, 1, 1]);
        assert_eq!(u64_at(&bytes, 16), 1 << 33);
        assert_eq!(u64_at(&bytes, 24), 42);
        assert_eq!(&bytes[32..63], b"a-very-long-program-name-beyond");
        assert_eq!(bytes[63], 0);
        let back = ProcessRecord::decode(&bytes);
        assert_eq!(back, record);
        assert_eq!(back.name(), b"a-very-long-program-name-beyond");
    }

    #[test]
    fn a_name_stops_at_its_first_nul_and_a_full_field_still_ends_in_one() {
        assert_eq!(&ProcessRecord::padded_name(b"sh\0x")[..4], b"sh\0\0");
        let mut record = ProcessRecord::decode(&[0; 64]);
        assert_eq!(record.name(), b"");
        record.name_bytes = [b'x'; NAME_BYTES];
        let bytes = encoded(&record);
        assert_eq!(bytes[63], 0);
        assert_eq!(ProcessRecord::decode(&bytes).name().len(), NAME_BYTES - 1);
        // Straight from hostile bytes, a name may fill the field.
        let mut full = [b'y'; 64];
        full[12..16].copy_from_slice(&7u32.to_le_bytes());
        let decoded = ProcessRecord::decode(&full);
        assert_eq!(decoded.name().len(), NAME_BYTES);
        assert_eq!(decoded.state, ProcessState::Zombie, "unknown state");
        for (state, word, letter) in [
            (ProcessState::Running, 0, 'R'),
            (ProcessState::Sleeping, 1, 'S'),
            (ProcessState::Zombie, 2, 'Z'),
            (ProcessState::Stopped, 3, 'T'),
        ] {
            record.state = state;
            let bytes = encoded(&record);
            assert_eq!(u32_at(&bytes, 12), word);
            assert_eq!(ProcessRecord::decode(&bytes).state, state);
            assert_eq!(state.letter(), letter);
        }
    }

    #[test]
    fn system_info_is_six_u64s() {
        let info = SystemInfo {
            kernel_heap_used: 1,
            free_memory: 2,
            total_memory: 3,
            uptime_ns: 4,
            processes: 5,
            context_switches: 6,
        };
        let bytes = encoded(&info);
        assert_eq!(
            [0, 8, 16, 24, 32, 40].map(|at| u64_at(&bytes, at)),
            [1, 2, 3, 4, 5, 6]
        );
        assert_eq!(SystemInfo::decode(&bytes), info);
    }

    #[test]
    fn short_input_reads_as_zeros_and_short_output_takes_what_fits() {
        let nine = [1, 0, 0, 0, 0, 0, 0, 0, 2];
        assert_eq!(SystemInfo::decode(&nine).kernel_heap_used, 1);
        assert_eq!(
            SystemInfo::decode(&nine).free_memory,
            0,
            "a field cut short"
        );
        assert_eq!(SystemInfo::decode(&[]), SystemInfo::default());
        let mut out = [0u8; 5];
        SystemInfo {
            kernel_heap_used: u64::MAX,
            ..SystemInfo::default()
        }
        .encode(&mut out);
        assert_eq!(out, [0; 5], "a field that does not fit is not written");
    }

    #[test]
    fn fs_info_is_size_then_use() {
        let info = FsInfo { size: 7, used: 3 };
        let bytes = encoded(&info);
        assert_eq!([0, 8].map(|at| u64_at(&bytes, at)), [7, 3]);
        assert_eq!(FsInfo::decode(&bytes), info);
    }

    #[test]
    fn every_record_is_aligned_for_its_widest_field_and_a_multiple_of_it() {
        for (size, align) in [
            (SpawnRequest::SIZE, SpawnRequest::ALIGN),
            (PreopenEntry::SIZE, PreopenEntry::ALIGN),
            (WaitResult::SIZE, WaitResult::ALIGN),
            (ProcessRecord::SIZE, ProcessRecord::ALIGN),
            (SystemInfo::SIZE, SystemInfo::ALIGN),
            (FsInfo::SIZE, FsInfo::ALIGN),
        ] {
            assert_eq!(size % align, 0);
        }
    }
}
