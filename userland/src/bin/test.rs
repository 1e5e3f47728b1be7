//! `test EXPRESSION` and `[ EXPRESSION ]` (one program: `/bin/[` is another name for it, and
//! as `[` it wants a last argument `]`): evaluates EXPRESSION as POSIX and GNU `test` do and
//! exits 0 if it is true, 1 if it is false and 2 on an error.
//!
//! Up to four arguments follow POSIX's rules by count (so `test ! = x` and `test -n` mean
//! what they mean there); longer expressions are parsed with `!` binding tightest, then the
//! primaries, then `-a`, then `-o`, and `( )` grouping. Primaries: strings (`-n -z = != < >`
//! and a lone STRING), integers (`-eq -ne -lt -le -gt -ge`, any length), files (`-e -f -d -h
//! -L -s -b -c -p -S -r -w -x -N -O -G -u -g -k -t FD`, `-nt -ot -ef`). Preview1 files have
//! no permission bits, so `-r`/`-w` are true of what exists, `-x` of directories and of
//! WASI modules (what the shell can run), and `-u -g -k` are false.
use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::time::SystemTime;

use cella_userland::{args, enter_working_directory, stat};

/// The exit status of an error in the expression.
const ERROR: i32 = 2;
/// The first bytes of every WebAssembly module.
const WASM_MAGIC: &[u8; 4] = b"\0asm";

const UNARY: &[&str] = &[
    "-b", "-c", "-d", "-e", "-f", "-g", "-G", "-h", "-k", "-L", "-n", "-N", "-O", "-p", "-r", "-s",
    "-S", "-t", "-u", "-w", "-x", "-z",
];
const BINARY: &[&str] = &[
    "=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef",
];

type Outcome = Result<bool, String>;

fn is_unary(op: &str) -> bool {
    UNARY.contains(&op)
}

fn is_binary(op: &str) -> bool {
    BINARY.contains(&op)
}

/// An integer operand without sign and leading zeros, and whether it is negative; `None`
/// if `text` is not one (blanks around it are allowed, as in GNU).
fn integer(text: &str) -> Result<(bool, &str), String> {
    let trimmed = text.trim_matches([' ', '\t', '\n']);
    let (negative, digits) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid integer '{text}'"));
    }
    let digits = digits.trim_start_matches('0');
    Ok((negative && !digits.is_empty(), digits))
}

/// Compares two integer operands of any length.
fn compare_integers(left: &str, right: &str) -> Result<std::cmp::Ordering, String> {
    let (left_negative, left) = integer(left)?;
    let (right_negative, right) = integer(right)?;
    let magnitude = left.len().cmp(&right.len()).then_with(|| left.cmp(right));
    Ok(match (left_negative, right_negative) {
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
        (false, true) => std::cmp::Ordering::Greater,
        (true, false) => std::cmp::Ordering::Less,
    })
}

fn modified(path: &str) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Whether `path` is a directory or a WebAssembly module.
fn executable(path: &str) -> bool {
    let Ok(meta) = fs::metadata(path) else {
        return false;
    };
    if meta.is_dir() {
        return true;
    }
    let mut magic = [0u8; 4];
    fs::File::open(path).is_ok_and(|mut file| file.read_exact(&mut magic).is_ok())
        && &magic == WASM_MAGIC
}

/// Whether fd `fd` is a terminal, as wasi-libc's `isatty` decides: a character device that
/// cannot seek.
fn is_terminal(fd: &str) -> Result<bool, String> {
    let (negative, digits) = integer(fd)?;
    let fd = if digits.is_empty() {
        Ok(0)
    } else {
        digits.parse::<u32>()
    };
    let (false, Ok(fd)) = (negative, fd) else {
        return Ok(false);
    };
    // SAFETY: a plain call; it writes only the returned value.
    let Ok(stat) = (unsafe { wasi::fd_fdstat_get(fd) }) else {
        return Ok(false);
    };
    let seeks = stat.fs_rights_base & (wasi::RIGHTS_FD_SEEK | wasi::RIGHTS_FD_TELL) != 0;
    Ok(stat.fs_filetype == wasi::FILETYPE_CHARACTER_DEVICE && !seeks)
}

fn unary(op: &str, operand: &str) -> Outcome {
    let filetype = || stat(Path::new(operand), true).ok().map(|s| s.filetype);
    let meta = fs::metadata(operand);
    Ok(match op {
        "-n" => !operand.is_empty(),
        "-z" => operand.is_empty(),
        "-e" | "-r" | "-O" | "-G" => meta.is_ok(),
        "-w" => meta.is_ok_and(|m| !m.permissions().readonly()),
        "-x" => executable(operand),
        "-f" => meta.is_ok_and(|m| m.is_file()),
        "-d" => meta.is_ok_and(|m| m.is_dir()),
        "-s" => meta.is_ok_and(|m| m.len() > 0),
        "-h" | "-L" => fs::symlink_metadata(operand).is_ok_and(|m| m.file_type().is_symlink()),
        "-b" => filetype() == Some(wasi::FILETYPE_BLOCK_DEVICE),
        "-c" => filetype() == Some(wasi::FILETYPE_CHARACTER_DEVICE),
        "-S" => matches!(
            filetype(),
            Some(wasi::FILETYPE_SOCKET_STREAM | wasi::FILETYPE_SOCKET_DGRAM)
        ),
        "-N" => meta.is_ok_and(|m| match (m.modified(), m.accessed()) {
            (Ok(modified), Ok(accessed)) => modified > accessed,
            _ => false,
        }),
        "-t" => is_terminal(operand)?,
        // Preview1 has no FIFOs, set-id bits or sticky bit.
        _ => false,
    })
}

fn binary(left: &str, op: &str, right: &str) -> Outcome {
    use std::cmp::Ordering::{Equal, Greater, Less};
    Ok(match op {
        "=" | "==" => left == right,
        "!=" => left != right,
        "<" => left < right,
        ">" => left > right,
        "-eq" => compare_integers(left, right)? == Equal,
        "-ne" => compare_integers(left, right)? != Equal,
        "-lt" => compare_integers(left, right)? == Less,
        "-le" => compare_integers(left, right)? != Greater,
        "-gt" => compare_integers(left, right)? == Greater,
        "-ge" => compare_integers(left, right)? != Less,
        "-nt" => match (modified(left), modified(right)) {
            (Some(l), Some(r)) => l > r,
            (l, _) => l.is_some(),
        },
        "-ot" => match (modified(left), modified(right)) {
            (Some(l), Some(r)) => l < r,
            (_, r) => r.is_some(),
        },
        "-ef" => match (stat(Path::new(left), true), stat(Path::new(right), true)) {
            (Ok(l), Ok(r)) => (l.dev, l.ino) == (r.dev, r.ino),
            _ => false,
        },
        _ => unreachable!("only binary operators reach here"),
    })
}

/// The general grammar, for expressions of more than four arguments.
struct Parser<'a> {
    args: &'a [String],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self, ahead: usize) -> Option<&str> {
        self.args.get(self.at + ahead).map(String::as_str)
    }

    /// The next argument, which `after` needs.
    fn take(&mut self, after: &str) -> Result<&str, String> {
        let arg = self
            .args
            .get(self.at)
            .ok_or_else(|| format!("missing argument after '{after}'"))?;
        self.at += 1;
        Ok(arg)
    }

    fn or(&mut self) -> Outcome {
        let mut value = self.and()?;
        while self.peek(0) == Some("-o") {
            self.at += 1;
            value = self.and()? || value;
        }
        Ok(value)
    }

    fn and(&mut self) -> Outcome {
        let mut value = self.term()?;
        while self.peek(0) == Some("-a") {
            self.at += 1;
            value = self.term()? && value;
        }
        Ok(value)
    }

    fn term(&mut self) -> Outcome {
        let Some(first) = self.peek(0).map(String::from) else {
            let last = self.args.last().map_or("", String::as_str);
            return Err(format!("missing argument after '{last}'"));
        };
        if let Some(op) = self.peek(1).filter(|op| is_binary(op)) {
            let (left, op) = (first.clone(), op.to_string());
            self.at += 2;
            let right = self.take(&op)?.to_string();
            return binary(&left, &op, &right);
        }
        self.at += 1;
        match first.as_str() {
            "!" => Ok(!self.term()?),
            "(" => {
                let value = self.or()?;
                match self.peek(0) {
                    Some(")") => {
                        self.at += 1;
                        Ok(value)
                    }
                    Some(other) => Err(format!("')' expected, found '{other}'")),
                    None => Err("')' expected".into()),
                }
            }
            op if is_unary(op) && self.peek(0).is_some() => {
                let op = op.to_string();
                let operand = self.take(&op)?.to_string();
                unary(&op, &operand)
            }
            string => Ok(!string.is_empty()),
        }
    }
}

/// EXPRESSION, with POSIX's rules for up to four arguments.
fn evaluate(args: &[String]) -> Outcome {
    let arg = |i: usize| args[i].as_str();
    match args.len() {
        0 => Ok(false),
        1 => Ok(!arg(0).is_empty()),
        2 if arg(0) == "!" => Ok(arg(1).is_empty()),
        2 if is_unary(arg(0)) => unary(arg(0), arg(1)),
        2 => Err(format!("'{}': unary operator expected", arg(0))),
        3 if is_binary(arg(1)) => binary(arg(0), arg(1), arg(2)),
        3 if arg(1) == "-a" => Ok(!arg(0).is_empty() && !arg(2).is_empty()),
        3 if arg(1) == "-o" => Ok(!arg(0).is_empty() || !arg(2).is_empty()),
        3 if arg(0) == "!" => evaluate(&args[1..]).map(|value| !value),
        3 if arg(0) == "(" && arg(2) == ")" => Ok(!arg(1).is_empty()),
        3 => Err(format!("'{}': binary operator expected", arg(1))),
        4 if arg(0) == "!" => evaluate(&args[1..]).map(|value| !value),
        4 if arg(0) == "(" && arg(3) == ")" => evaluate(&args[1..3]),
        _ => {
            let mut parser = Parser { args, at: 0 };
            let value = parser.or()?;
            match parser.peek(0) {
                Some(extra) => Err(format!("extra argument '{extra}'")),
                None => Ok(value),
            }
        }
    }
}

/// Reports an error in the expression and exits with [`ERROR`].
fn fail(name: &str, message: &str) -> ! {
    // Not `eprintln!`, which panics when stderr is a pipe nobody reads any more.
    let _ = writeln!(std::io::stderr(), "{name}: {message}");
    std::process::exit(ERROR)
}

fn main() {
    enter_working_directory();
    let invoked = std::env::args_os().next().unwrap_or_default();
    let bracket = Path::new(&invoked).file_name() == Some("[".as_ref());
    let name = if bracket { "[" } else { "test" };
    let mut args = args();
    if bracket {
        if args.last().map(String::as_str) != Some("]") {
            fail(name, "missing ']'");
        }
        args.pop();
    }
    match evaluate(&args) {
        Ok(value) => std::process::exit(if value { 0 } else { 1 }),
        Err(message) => fail(name, &message),
    }
}
