//! The scheduler's policy, apart from the processes themselves (so it is tested on the
//! host): round robin over the ready processes, each running one fuel slice per turn; a
//! blocked process waits off the queue with an optional deadline until something wakes it.
//!
//! Fairness comes from the queue: a process that used up its slice goes to the back, behind
//! every other ready process, so N CPU-bound processes each get 1/N of the CPU, and a
//! process that wakes up (input arrived, a child ended, its sleep is over) runs after the
//! ones already waiting, never starving them.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// A process id.
pub type Pid = u32;

/// Ready and blocked processes. Both keep their capacity, so that a process blocking and
/// waking on every switch (a pipe ping-pong) costs the scheduler no allocation.
#[derive(Debug, Default)]
pub struct Scheduler {
    ready: VecDeque<Pid>,
    /// Blocked processes (few: a linear search beats keeping them sorted), each with the
    /// monotonic time (ns) at which it must be woken anyway.
    blocked: Vec<(Pid, Option<u64>)>,
}

impl Scheduler {
    /// No processes.
    pub const fn new() -> Self {
        Scheduler {
            ready: VecDeque::new(),
            blocked: Vec::new(),
        }
    }

    /// Where `pid` is in the blocked list.
    fn blocked_index(&self, pid: Pid) -> Option<usize> {
        self.blocked.iter().position(|&(p, _)| p == pid)
    }

    /// Takes `pid` off the blocked list, if it is there.
    fn unblock(&mut self, pid: Pid) {
        if let Some(index) = self.blocked_index(pid) {
            self.blocked.swap_remove(index);
        }
    }

    /// Puts `pid` at the back of the ready queue (a new process, one whose slice ended, or one
    /// woken up). A process is never queued twice.
    pub fn make_ready(&mut self, pid: Pid) {
        self.unblock(pid);
        if !self.ready.contains(&pid) {
            self.ready.push_back(pid);
        }
    }

    /// Takes `pid` off the ready queue to wait, until [`Scheduler::make_ready`] or `deadline`.
    pub fn block(&mut self, pid: Pid, deadline: Option<u64>) {
        // Usually it just left the queue's front to run, and is not queued.
        if self.ready.contains(&pid) {
            self.ready.retain(|&p| p != pid);
        }
        match self
            .blocked_index(pid)
            .and_then(|index| self.blocked.get_mut(index))
        {
            Some(entry) => entry.1 = deadline,
            None => self.blocked.push((pid, deadline)),
        }
    }

    /// Forgets `pid` (it ended).
    pub fn remove(&mut self, pid: Pid) {
        self.ready.retain(|&p| p != pid);
        self.unblock(pid);
    }

    /// The process to run next, taken off the front of the queue: the caller runs it for a
    /// slice and then calls `make_ready` or `block` (or `remove`).
    pub fn next(&mut self) -> Option<Pid> {
        self.ready.pop_front()
    }

    /// The blocked processes, in no particular order: the kernel retries their calls when
    /// something may have changed.
    pub fn blocked(&self) -> impl Iterator<Item = Pid> + '_ {
        self.blocked.iter().map(|&(pid, _)| pid)
    }

    /// Whether `pid` is blocked.
    pub fn is_blocked(&self, pid: Pid) -> bool {
        self.blocked_index(pid).is_some()
    }

    /// The earliest deadline of any blocked process: how long an idle CPU may halt.
    pub fn next_deadline(&self) -> Option<u64> {
        self.blocked.iter().filter_map(|&(_, d)| d).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// The blocked pids, sorted.
    fn blocked(sched: &Scheduler) -> Vec<Pid> {
        let mut pids: Vec<Pid> = sched.blocked().collect();
        pids.sort_unstable();
        pids
    }

    /// Runs `turns` slices where every process stays CPU-bound, returning the order.
    fn round_robin(sched: &mut Scheduler, turns: usize) -> Vec<Pid> {
        let mut order = Vec::new();
        for _ in 0..turns {
            let pid = sched.next().unwrap();
            order.push(pid);
            sched.make_ready(pid);
        }
        order
    }

    #[test]
    fn cpu_bound_processes_take_turns() {
        let mut sched = Scheduler::new();
        for pid in [1, 2, 3] {
            sched.make_ready(pid);
        }
        assert_eq!(round_robin(&mut sched, 7), [1, 2, 3, 1, 2, 3, 1]);
    }

    #[test]
    fn a_process_is_queued_once() {
        let mut sched = Scheduler::new();
        sched.make_ready(1);
        sched.make_ready(2);
        sched.make_ready(1);
        assert_eq!(round_robin(&mut sched, 4), [1, 2, 1, 2]);
    }

    #[test]
    fn blocked_processes_do_not_run_and_woken_ones_go_to_the_back() {
        let mut sched = Scheduler::new();
        for pid in [1, 2, 3] {
            sched.make_ready(pid);
        }
        sched.block(2, None);
        assert_eq!(round_robin(&mut sched, 4), [1, 3, 1, 3]);
        assert!(sched.is_blocked(2));
        sched.make_ready(2);
        assert!(!sched.is_blocked(2));
        assert_eq!(round_robin(&mut sched, 3), [1, 3, 2]);
    }

    #[test]
    fn deadlines_bound_the_idle_time() {
        let mut sched = Scheduler::new();
        sched.block(1, Some(500));
        sched.block(2, None);
        sched.block(3, Some(200));
        assert_eq!(sched.next(), None);
        assert_eq!(sched.next_deadline(), Some(200));
        assert_eq!(blocked(&sched), [1, 2, 3]);
        sched.remove(3);
        assert_eq!(sched.next_deadline(), Some(500));
        sched.remove(1);
        assert_eq!(sched.next_deadline(), None);
    }

    #[test]
    fn blocking_again_replaces_the_deadline() {
        let mut sched = Scheduler::new();
        for pid in [7, 3, 5] {
            sched.block(pid, Some(u64::from(pid) * 100));
        }
        assert_eq!(blocked(&sched), [3, 5, 7]);
        sched.block(3, None);
        assert_eq!(blocked(&sched), [3, 5, 7], "blocked once");
        assert_eq!(sched.next_deadline(), Some(500));
        sched.make_ready(5);
        assert_eq!(blocked(&sched), [3, 7]);
        assert!(!sched.is_blocked(5) && sched.is_blocked(7));
        assert_eq!(sched.next(), Some(5));
        // Blocking a queued process takes it off the queue.
        sched.make_ready(3);
        sched.make_ready(7);
        sched.block(3, None);
        assert_eq!(sched.next(), Some(7));
        assert_eq!(sched.next(), None);
    }

    #[test]
    fn removed_processes_are_gone_from_both_sets() {
        let mut sched = Scheduler::new();
        sched.make_ready(1);
        sched.make_ready(2);
        sched.block(3, Some(10));
        sched.remove(1);
        sched.remove(3);
        assert_eq!(sched.next(), Some(2));
        assert_eq!(sched.next(), None);
        assert!(sched.blocked().next().is_none());
    }
}
