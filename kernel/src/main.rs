//! The Cella kernel: boots from bootloader 0.11, sets up the machine (descriptor tables,
//! interrupts, heap, clocks, entropy), fetches a WASI program and its run configuration from
//! QEMU's fw_cfg — or, without one, builds the system's file system and starts `/bin/init` —
//! and runs WASI processes on wasmi, scheduled in fuel slices, with the console or the host
//! link as their terminal.
//!
//! Only the pure modules (see [`civil`]) are built on the host, so that `cargo clippy
//! --workspace` and `cargo test -p cella-kernel` work there; everything else exists for the
//! kernel's bare-metal target (`x86_64-cella-none.json`) only.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

#[cfg_attr(
    not(target_os = "none"),
    allow(
        dead_code,
        reason = "the kernel build uses it; the host only runs its tests"
    )
)]
mod civil;
#[cfg_attr(
    not(target_os = "none"),
    allow(
        dead_code,
        reason = "the kernel build uses it; the host only runs its tests"
    )
)]
mod dirs;
#[cfg_attr(
    not(target_os = "none"),
    allow(
        dead_code,
        reason = "the kernel build uses it; the host only runs its tests"
    )
)]
mod initrd;

// `arch::paging` and `mm`'s bookkeeping are pure enough to be tested on the host; the rest
// of both modules exists for the bare-metal target only.
#[cfg_attr(
    not(target_os = "none"),
    allow(
        dead_code,
        reason = "the kernel build uses it; the host only runs its tests"
    )
)]
mod arch;
#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
mod console;
#[cfg(target_os = "none")]
mod drivers;
#[cfg(target_os = "none")]
mod entropy;
#[cfg(target_os = "none")]
mod fault;
#[cfg(target_os = "none")]
mod limits;
#[cfg(target_os = "none")]
mod logger;
#[cfg_attr(
    not(target_os = "none"),
    allow(
        dead_code,
        reason = "the kernel build uses it; the host only runs its tests"
    )
)]
mod mm;
#[cfg(target_os = "none")]
mod net;
#[cfg(target_os = "none")]
mod platform;
#[cfg(target_os = "none")]
mod process;
// Both boot paths' record of usable RAM is pure: tested on the host.
#[cfg(target_os = "none")]
mod profile;
#[cfg_attr(
    not(target_os = "none"),
    allow(
        dead_code,
        reason = "the kernel build uses it; the host only runs its tests"
    )
)]
mod ram;
// The scheduler's policy is pure: tested on the host.
#[cfg_attr(
    not(target_os = "none"),
    allow(
        dead_code,
        reason = "the kernel build uses it; the host only runs its tests"
    )
)]
mod sched;
#[cfg(target_os = "none")]
mod time;
#[cfg(target_os = "none")]
mod wasm;
#[cfg(target_os = "none")]
mod writeback;

/// The host build has nothing to run: the kernel only exists on bare metal.
#[cfg(not(target_os = "none"))]
fn main() {}
