//! Wake-ups: a process whose `fd_read` or `fd_write` blocks on a pipe waits on that pipe,
//! and the pipe wakes it when it changes (data in, data out, an end closed), so that the
//! kernel repeats the call only then instead of on every pass of its scheduler.
//!
//! Each process has one [`Waker`]. A blocking call that found an object able to wake it
//! registers the waker in that object's [`WaitList`], which arms it; the object's next
//! change wakes every waker of its list. A call that blocks without registering leaves the
//! waker idle, and the kernel then repeats it on every pass, as for the console, sockets,
//! sleeps and `poll_oneoff`. A wake may be spurious (the call blocks again and re-arms);
//! none is ever missed, since a waker that could not be registered stays idle.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::Cell;

/// Where a process's blocked call stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WaitState {
    /// Nothing will wake it: the kernel repeats the call on every pass.
    #[default]
    Idle,
    /// Registered with the object it waits on, which has not changed since.
    Armed,
    /// The object changed: the kernel repeats the call.
    Woken,
}

/// A process's wake-up flag, shared with the objects it waits on.
#[derive(Clone, Debug, Default)]
pub struct Waker(Rc<Cell<WaitState>>);

impl Waker {
    /// An idle waker.
    pub fn new() -> Self {
        Waker::default()
    }

    /// Where the process's blocked call stands.
    pub fn state(&self) -> WaitState {
        self.0.get()
    }

    /// Back to idle, before the kernel repeats the blocked call (which re-arms it if it
    /// blocks again on an object that wakes).
    pub fn reset(&self) {
        self.0.set(WaitState::Idle);
    }

    fn wake(&self) {
        self.0.set(WaitState::Woken);
    }
}

/// The wakers of the processes waiting on one object.
#[derive(Debug, Default)]
pub struct WaitList(Vec<Waker>);

impl WaitList {
    /// Registers `waker` (once) and arms it; false if there was no memory to register it,
    /// and then the waker stays as it was.
    pub fn add(&mut self, waker: &Waker) -> bool {
        if !self.0.iter().any(|w| Rc::ptr_eq(&w.0, &waker.0)) {
            if self.0.try_reserve(1).is_err() {
                return false;
            }
            self.0.push(waker.clone());
        }
        if waker.state() == WaitState::Idle {
            waker.0.set(WaitState::Armed);
        }
        true
    }

    /// Wakes every registered waker and forgets them.
    pub fn wake_all(&mut self) {
        for waker in self.0.drain(..) {
            waker.wake();
        }
    }

    /// Whether no waker is registered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_waker_is_armed_until_its_object_wakes_it() {
        let waker = Waker::new();
        let mut list = WaitList::default();
        assert_eq!(waker.state(), WaitState::Idle);
        assert!(list.add(&waker));
        assert!(list.add(&waker), "registering twice keeps one entry");
        assert_eq!(waker.state(), WaitState::Armed);
        list.wake_all();
        assert_eq!(waker.state(), WaitState::Woken);
        assert!(list.is_empty());
        waker.reset();
        assert_eq!(waker.state(), WaitState::Idle);
        // A wake after the list was drained finds nobody.
        list.wake_all();
        assert_eq!(waker.state(), WaitState::Idle);
    }
}
