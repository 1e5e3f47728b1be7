//! Frames read back from the shadow stack, printed the way wasmtime prints a backtrace:
//!
//! ```text
//! wasm backtrace:
//!     0: trap.wasm!trap::main::h2a14d40a34d9e7a3
//!     1:    0x817 - trap.wasm!std::sys::backtrace::__rust_begin_short_backtrace::h88ba166ea0471197
//!     2:   0x193b - trap.wasm!__main_void
//!     3:    0x2aa - trap.wasm!_start
//! ```
//!
//! innermost first, each with the offset in the module of the instruction the frame stands
//! at (the call, for every frame but the innermost), the module's name (`<unknown>` without
//! one) and the function's name, demangled (`<wasm function N>` without one). A deep stack
//! shows its innermost and outermost frames and how many lie between.

use core::fmt::{self, Write};

use crate::instrument::{CodeMap, SLOT_BYTES};
use crate::names::Names;

/// Frames printed at most unless told otherwise: wasmtime's default (`-D max-backtrace`).
pub const DEFAULT_MAX_FRAMES: u32 = 20;
/// A name longer than this is cut (a hostile or generated name can be megabytes).
pub const MAX_NAME_BYTES: usize = 1000;
/// Names longer than this are printed as they are, not demangled.
const MAX_DEMANGLED_INPUT: usize = 4096;
/// The C++ demangler's recursion limits (it recurses on the kernel's stack).
#[cfg(feature = "cpp")]
const CPP_RECURSION_LIMIT: u32 = 64;

/// What the innermost frame's slot says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Innermost {
    /// The trap came from the call its slot names: an import that trapped, or a call that
    /// exhausted the stack. Its offset is shown.
    AtCall,
    /// The trap came from some instruction of the function: its slot may still name an
    /// earlier call, so only the function is shown (as wasmtime does when it has no offset).
    InFunction,
}

/// One frame: the function (`None` if the slot names no function: a corrupt frame) and the
/// offset in the module of the instruction it stands at, when known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The function's index.
    pub function: Option<u32>,
    /// The module offset of its current instruction.
    pub offset: Option<u32>,
}

/// The frames of a shadow stack, innermost first.
#[derive(Clone, Copy, Debug)]
pub struct Stack<'a> {
    slots: &'a [u8],
    code: &'a CodeMap,
    innermost: Innermost,
}

/// The stack in `memory` (the frames memory) of `depth` bytes (the depth global).
pub fn frames<'a>(
    memory: &'a [u8],
    depth: u32,
    code: &'a CodeMap,
    innermost: Innermost,
) -> Stack<'a> {
    let len = (depth / SLOT_BYTES) as usize;
    let bytes = len.saturating_mul(SLOT_BYTES as usize).min(memory.len());
    Stack {
        slots: memory.get(..bytes).unwrap_or_default(),
        code,
        innermost,
    }
}

impl Stack<'_> {
    /// How many frames the stack holds.
    pub fn len(&self) -> usize {
        self.slots
            .len()
            .checked_div(SLOT_BYTES as usize)
            .unwrap_or(0)
    }

    /// Whether the stack is empty.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Frame `i`, counted from the innermost (0).
    pub fn frame(&self, i: usize) -> Option<Frame> {
        let slot = self.len().checked_sub(i)?.checked_sub(1)?;
        let at = slot.checked_mul(SLOT_BYTES as usize)?;
        let bytes = self.slots.get(at..at.checked_add(SLOT_BYTES as usize)?)?;
        let value = u32::from_le_bytes(bytes.try_into().ok()?);
        Some(match self.code.locate(value) {
            Some((function, entered)) => Frame {
                function: Some(function),
                offset: match (entered, i == 0 && self.innermost == Innermost::InFunction) {
                    (false, false) => Some(value),
                    _ => None,
                },
            },
            None => Frame {
                function: None,
                offset: None,
            },
        })
    }
}

/// Writes `wasm backtrace:` and the frames of `stack`, one line each (nothing for an empty
/// stack), naming functions from `names`. Of a stack deeper than `max_frames`, the
/// innermost three quarters of `max_frames` and the outermost quarter are written, and a
/// line that counts the frames between.
pub fn write_backtrace(
    out: &mut impl Write,
    stack: &Stack<'_>,
    names: Names<'_>,
    max_frames: u32,
) -> fmt::Result {
    let count = stack.len();
    let max_frames = max_frames as usize;
    if count == 0 || max_frames == 0 {
        return Ok(());
    }
    let module = names.module().unwrap_or("<unknown>");
    out.write_str("wasm backtrace:")?;
    let outermost = max_frames / 4;
    let innermost = max_frames.saturating_sub(outermost);
    let resume = count.saturating_sub(outermost);
    let mut i = 0;
    while i < count {
        if count > max_frames && i == innermost {
            let elided = count.saturating_sub(max_frames);
            write!(out, "\n         ... {elided} frames elided ...")?;
            i = resume;
            continue;
        }
        write!(out, "\n  {i:>3}: ")?;
        let frame = stack.frame(i).unwrap_or(Frame {
            function: None,
            offset: None,
        });
        if let Some(offset) = frame.offset {
            write!(out, "{offset:#8x} - ")?;
        }
        write!(out, "{}!", Cut(module))?;
        match frame.function {
            Some(index) => match names.function(index) {
                Some(name) => write_function_name(out, name)?,
                None => write!(out, "<wasm function {index}>")?,
            },
            None => out.write_str("<corrupt frame>")?,
        }
        i = i.saturating_add(1);
    }
    Ok(())
}

/// Writes `name` demangled (Rust, then C++ with the `cpp` feature, as wasmtime does), cut at
/// [`MAX_NAME_BYTES`].
pub fn write_function_name(out: &mut impl Write, name: &str) -> fmt::Result {
    let mut bounded = Bounded {
        out,
        room: MAX_NAME_BYTES,
        cut: false,
    };
    let written = if name.len() > MAX_DEMANGLED_INPUT {
        bounded.write_str(name)
    } else if let Ok(demangled) = rustc_demangle::try_demangle(name) {
        write!(bounded, "{demangled}")
    } else if let Some(written) = write_cpp(&mut bounded, name) {
        written
    } else {
        bounded.write_str(name)
    };
    match (written, bounded.cut) {
        (_, true) => bounded.out.write_str("…"),
        (result, false) => result,
    }
}

/// Writes `name` demangled as an Itanium C++ name, if it is one.
#[cfg(feature = "cpp")]
fn write_cpp(out: &mut impl Write, name: &str) -> Option<fmt::Result> {
    let options = cpp_demangle::ParseOptions::default().recursion_limit(CPP_RECURSION_LIMIT);
    let symbol = cpp_demangle::Symbol::new_with_options(name, &options).ok()?;
    let options = cpp_demangle::DemangleOptions::default().recursion_limit(CPP_RECURSION_LIMIT);
    Some(symbol.structured_demangle(out, &options))
}

/// Without the `cpp` feature (the kernel's build: the demangler is a quarter of a megabyte
/// of code), C++ names are written as they are.
#[cfg(not(feature = "cpp"))]
fn write_cpp(_: &mut impl Write, _: &str) -> Option<fmt::Result> {
    None
}

/// A string cut at [`MAX_NAME_BYTES`].
struct Cut<'a>(&'a str);

impl fmt::Display for Cut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bounded = Bounded {
            out: f,
            room: MAX_NAME_BYTES,
            cut: false,
        };
        bounded.write_str(self.0).or(Ok(()))?;
        if bounded.cut {
            bounded.out.write_str("…")?;
        }
        Ok(())
    }
}

/// A writer that takes `room` bytes (whole characters) and then refuses the rest.
struct Bounded<'w, W: Write + ?Sized> {
    out: &'w mut W,
    room: usize,
    cut: bool,
}

impl<W: Write + ?Sized> Write for Bounded<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() <= self.room {
            self.room = self.room.saturating_sub(s.len());
            return self.out.write_str(s);
        }
        let mut end = self.room;
        while !s.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        self.out.write_str(s.get(..end).unwrap_or_default())?;
        self.room = 0;
        self.cut = true;
        Err(fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::String;

    use super::*;

    fn name(mangled: &str) -> String {
        let mut out = String::new();
        write_function_name(&mut out, mangled).unwrap();
        out
    }

    #[test]
    fn rust_and_cpp_names_are_demangled_as_wasmtime_does() {
        // Legacy Rust names keep their hash, as wasmtime prints them.
        assert_eq!(
            name("_ZN4trap4main17h2a14d40a34d9e7a3E"),
            "trap::main::h2a14d40a34d9e7a3"
        );
        assert_eq!(name("_RNvCs1234_4trap4main"), "trap[3c1c0]::main");
        #[cfg(feature = "cpp")]
        {
            assert_eq!(name("_ZN5space3fooEibc"), "space::foo(int, bool, char)");
            assert_eq!(
                name("_ZNSt6vectorIiSaIiEE9push_backERKi"),
                "std::vector<int, std::allocator<int> >::push_back(int const&)"
            );
        }
        // The kernel's build leaves C++ names mangled.
        #[cfg(not(feature = "cpp"))]
        assert_eq!(name("_ZN5space3fooEibc"), "_ZN5space3fooEibc");
        // C names, and anything else, as they are.
        assert_eq!(name("main"), "main");
        assert_eq!(name("_start.command_export"), "_start.command_export");
    }

    #[test]
    fn hostile_names_are_cut_and_never_recurse_deep() {
        let long = "a".repeat(5000);
        let cut = name(&long);
        assert_eq!(cut.len(), MAX_NAME_BYTES + "…".len());
        assert!(cut.ends_with('…'));
        // Characters are not split.
        let wide = "é".repeat(600);
        assert!(
            name(&wide)
                .strip_suffix('…')
                .is_some_and(|s| s.chars().all(|c| c == 'é'))
        );
        // Nesting past the demangler's limit: printed as it is.
        let deep = alloc::format!("_Z{}i", "P".repeat(2000));
        assert_eq!(name(&deep), cut_to(&deep));
        // A name whose demangling explodes (substitutions of substitutions) stays bounded.
        let explode = alloc::format!("_Z1fI{}EvT_", "S_".repeat(200));
        assert!(name(&explode).len() <= MAX_NAME_BYTES + "…".len());
    }

    fn cut_to(s: &str) -> String {
        let mut out = String::from(s.get(..MAX_NAME_BYTES).unwrap_or(s));
        if s.len() > MAX_NAME_BYTES {
            out.push('…');
        }
        out
    }

    #[test]
    fn a_malformed_name_section_names_nothing() {
        for payload in [
            &b"\x00\xff\xff\xff"[..],
            b"\x01\x05\x02\x00",
            b"\x00\x02\x09x",
            b"",
        ] {
            let names = Names::new(payload);
            assert_eq!(names.module(), None);
            assert_eq!(names.function(0), None);
        }
    }

    #[test]
    fn frames_past_the_depth_or_the_memory_are_not_read() {
        let code = CodeMap::default();
        let memory = [0u8; 16];
        assert_eq!(frames(&memory, 12, &code, Innermost::AtCall).len(), 3);
        assert_eq!(frames(&memory, 1000, &code, Innermost::AtCall).len(), 4);
        assert_eq!(frames(&memory, 3, &code, Innermost::AtCall).len(), 0);
        // Slots that name no function are reported as corrupt, not trusted.
        let stack = frames(&memory, 8, &code, Innermost::AtCall);
        assert_eq!(
            stack.frame(0),
            Some(Frame {
                function: None,
                offset: None
            })
        );
        let mut out = String::new();
        write_backtrace(&mut out, &stack, Names::default(), DEFAULT_MAX_FRAMES).unwrap();
        assert_eq!(
            out,
            "wasm backtrace:\n    0: <unknown>!<corrupt frame>\n    1: <unknown>!<corrupt frame>"
        );
    }
}
