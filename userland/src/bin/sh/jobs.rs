//! Job control: a job stopped by Ctrl-Z (`SIGTSTP` to its process group) or `kill -STOP`
//! stays in the job table as Stopped; `bg` continues it in the background, `fg` in the
//! foreground; `wait` passes over stopped jobs, as dash's does; the prompt reports a job
//! that stopped as it reports one that ended, and a job continued from outside shows as
//! running again. A process of a job is `None` while it runs,
//! `Some(Status::Stopped(_))` while stopped, and its end status once it has ended.

use cella_process::{Pid, ProcessState, SIGCONT, Status};

use super::builtins::Output;
use super::{Job, Shell};

impl Job {
    /// Whether it is stopped: no process of it runs, and at least one is stopped.
    pub(super) fn stopped(&self) -> bool {
        self.processes.iter().all(|(_, status)| status.is_some())
            && self
                .processes
                .iter()
                .any(|(_, status)| status.is_some_and(|s| !s.ended()))
    }
}

/// The mark `jobs` and the reports put after a job's number: `+` for the current job (the
/// newest), `-` for the one before, else a space.
fn mark(index: usize, count: usize) -> char {
    match count.saturating_sub(index) {
        1 => '+',
        2 => '-',
        _ => ' ',
    }
}

impl Shell {
    /// Keeps a foreground pipeline whose processes `pids` ended or stopped as `statuses` as a
    /// stopped job (numbered `id` again when it had a number) if any of them stopped, and
    /// reports it as `[N]+  Stopped  TEXT`; returns `$?` then (128 + the signal), else `None`.
    pub(super) fn keep_if_stopped(
        &mut self,
        id: Option<usize>,
        pids: &[Pid],
        statuses: &[Status],
        text: &str,
    ) -> Option<i32> {
        let stop = statuses.iter().copied().find(|status| !status.ended())?;
        let id = id.unwrap_or_else(|| self.jobs.iter().map(|job| job.id).max().unwrap_or(0) + 1);
        self.jobs.push(Job {
            id,
            processes: pids
                .iter()
                .zip(statuses)
                .map(|(&pid, &status)| (pid, Some(status)))
                .collect(),
            text: text.to_string(),
        });
        eprintln!("[{id}]+  Stopped  {text}");
        Some(stop.code())
    }

    /// Records `status` of `pid` reported by a background `wait`; returns false when `pid`
    /// belongs to no job. A job that has just stopped is reported at once (with job control).
    pub(super) fn record_status(&mut self, pid: Pid, status: Status) -> bool {
        let Some(index) = self
            .jobs
            .iter()
            .position(|job| job.processes.iter().any(|(p, _)| *p == pid))
        else {
            return false;
        };
        let count = self.jobs.len();
        let job = &mut self.jobs[index];
        let was_stopped = job.stopped();
        for (p, slot) in &mut job.processes {
            if *p == pid {
                *slot = Some(status);
            }
        }
        if !was_stopped && job.stopped() && self.interactive {
            eprintln!("[{}]{}  Stopped  {}", job.id, mark(index, count), job.text);
        }
        true
    }

    /// Marks the stopped processes among `pids` as running again (after a `SIGCONT`).
    pub(super) fn mark_continued(&mut self, pids: &[Pid]) {
        for (pid, slot) in self
            .jobs
            .iter_mut()
            .flat_map(|job| job.processes.iter_mut())
        {
            if pids.contains(pid) && slot.is_some_and(|s| !s.ended()) {
                *slot = None;
            }
        }
    }

    /// Marks running again the stopped jobs that another process continued (`kill -CONT`
    /// from outside): `wait` reports stops but not continuations, so the process list tells.
    pub(super) fn refresh_stopped(&mut self) {
        if !self.jobs.iter().any(Job::stopped) {
            return;
        }
        let Ok(list) = cella_process::processes() else {
            return;
        };
        let continued: Vec<Pid> = self
            .jobs
            .iter()
            .filter(|job| job.stopped())
            .flat_map(|job| job.processes.iter())
            .filter(|(_, status)| status.is_some_and(|s| !s.ended()))
            .map(|(pid, _)| *pid)
            .filter(|&pid| {
                list.iter()
                    .any(|p| p.pid == pid && p.state != ProcessState::Stopped)
            })
            .collect();
        self.mark_continued(&continued);
    }

    /// Sends `SIGCONT` to every process of job `index` that has not ended, and marks them
    /// running.
    fn continue_job(&mut self, index: usize, builtin: &str, output: &mut Output) -> bool {
        let pids: Vec<Pid> = self.jobs[index]
            .processes
            .iter()
            .filter(|(_, status)| !status.is_some_and(Status::ended))
            .map(|(pid, _)| *pid)
            .collect();
        for &pid in &pids {
            if let Err(e) = cella_process::kill(pid as i32, SIGCONT) {
                output.error(&format!(
                    "{builtin}: ({pid}) - {}",
                    cella_userland::describe(&e)
                ));
                return false;
            }
        }
        self.mark_continued(&pids);
        true
    }

    /// `bg [%N]...`: continues each stopped job (the current one by default) in the
    /// background, printing `[N]+ TEXT &`.
    pub(super) fn bg(&mut self, args: &[String], output: &mut Output) -> i32 {
        let specs: Vec<Option<&str>> = if args.is_empty() {
            vec![None]
        } else {
            args.iter().map(|arg| Some(arg.as_str())).collect()
        };
        let mut status = 0;
        for spec in specs {
            let Some(index) = self.job_index("bg", spec, output) else {
                status = 1;
                continue;
            };
            let job = &self.jobs[index];
            if !job.stopped() {
                output.error(&format!("bg: job {} already in background", job.id));
                continue;
            }
            let line = format!(
                "[{}]{} {} &",
                job.id,
                mark(index, self.jobs.len()),
                job.text
            );
            if self.continue_job(index, "bg", output) {
                output.line(&line);
            } else {
                status = 1;
            }
        }
        status
    }

    /// `fg [%N]`: continues the job (the current one by default) if it is stopped and waits
    /// for it with the console, printing its text first, as shells do.
    pub(super) fn fg(&mut self, args: &[String], output: &mut Output) -> i32 {
        let Some(index) = self.job_index("fg", args.first().map(String::as_str), output) else {
            return 1;
        };
        // The text goes out now, before the job runs, not with the builtin's output.
        println!("{}", self.jobs[index].text);
        if self.jobs[index].stopped() && !self.continue_job(index, "fg", output) {
            return 1;
        }
        self.foreground(index)
    }

    /// `wait %N` for job `index`: a stopped job's status at once (128 + the signal), as
    /// dash's `wait` does, else the job's end.
    pub(super) fn wait_job(&mut self, index: usize) -> i32 {
        let job = &self.jobs[index];
        if job.stopped() {
            return job
                .processes
                .iter()
                .rev()
                .find_map(|(_, status)| status.filter(|s| !s.ended()))
                .map_or(0, Status::code);
        }
        self.foreground(index)
    }

    /// The index of the first job that is not stopped, for `wait` with no operand.
    pub(super) fn unstopped_job(&self) -> Option<usize> {
        self.jobs.iter().position(|job| !job.stopped())
    }
}
