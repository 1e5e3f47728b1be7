//! `test EXPRESSION` and `[ EXPRESSION ]`: POSIX's `test` with all its primaries, decided by
//! the number of arguments as POSIX specifies for up to four, and by a grammar of `!`, `-a`,
//! `-o` and parentheses beyond. Cella's files have no permission bits: `-r` and `-w` hold
//! for any existing file, `-x` for directories and regular files; ownership tests (`-g`,
//! `-u`, `-k`) never hold, and there are no device or FIFO files.

use std::fs::{self, Metadata};
use std::io::IsTerminal;

use super::builtins::Output;

/// `$?` when the expression is false.
const FALSE: i32 = 1;
/// `$?` for a malformed expression.
const ERROR: i32 = 2;

const UNARY: &[&str] = &[
    "-b", "-c", "-d", "-e", "-f", "-g", "-h", "-L", "-k", "-n", "-p", "-r", "-s", "-S", "-t", "-u",
    "-w", "-x", "-z",
];
const BINARY: &[&str] = &[
    "=", "!=", "-eq", "-ne", "-gt", "-ge", "-lt", "-le", "-nt", "-ot", "-ef",
];

/// Runs `test` with `args`; its status (0 true, 1 false, 2 error, reported in `output`).
pub fn test(args: &[String], output: &mut Output) -> i32 {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match evaluate(&args) {
        Ok(true) => 0,
        Ok(false) => FALSE,
        Err(message) => {
            output.error(&format!("test: {message}"));
            ERROR
        }
    }
}

fn evaluate(args: &[&str]) -> Result<bool, String> {
    match args {
        [] => Ok(false),
        [one] => Ok(!one.is_empty()),
        ["!", rest @ ..] if args.len() <= 3 => evaluate(rest).map(|b| !b),
        [op, operand] if UNARY.contains(op) => unary(op, operand),
        [left, op, right] if BINARY.contains(op) => binary(left, op, right),
        ["(", inner, ")"] => evaluate(&[inner]),
        [_, op, _] if *op == "-a" || *op == "-o" => Grammar::run(args),
        [_, _] => Err(format!("{}: unexpected operator", args[0])),
        ["!", rest @ ..] if args.len() == 4 => evaluate(rest).map(|b| !b),
        ["(", inner @ .., ")"] if args.len() == 4 => evaluate(inner),
        _ => Grammar::run(args),
    }
}

/// The general grammar: `or := and (-o and)*`, `and := not (-a not)*`,
/// `not := ! not | ( or ) | primary`.
struct Grammar<'a, 'b> {
    args: &'a [&'b str],
    at: usize,
}

impl<'b> Grammar<'_, 'b> {
    fn run(args: &[&str]) -> Result<bool, String> {
        let mut grammar = Grammar { args, at: 0 };
        let value = grammar.or()?;
        match grammar.args.get(grammar.at) {
            None => Ok(value),
            Some(extra) => Err(format!("{extra}: unexpected operator")),
        }
    }

    fn next(&mut self) -> Option<&'b str> {
        let arg = self.args.get(self.at).copied();
        self.at += 1;
        arg
    }

    fn or(&mut self) -> Result<bool, String> {
        let mut value = self.and()?;
        while self.args.get(self.at) == Some(&"-o") {
            self.at += 1;
            value |= self.and()?;
        }
        Ok(value)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut value = self.not()?;
        while self.args.get(self.at) == Some(&"-a") {
            self.at += 1;
            value &= self.not()?;
        }
        Ok(value)
    }

    fn not(&mut self) -> Result<bool, String> {
        match self.args.get(self.at) {
            Some(&"!") => {
                self.at += 1;
                Ok(!self.not()?)
            }
            Some(&"(") => {
                self.at += 1;
                let value = self.or()?;
                match self.next() {
                    Some(")") => Ok(value),
                    _ => Err("closing paren expected".into()),
                }
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<bool, String> {
        let Some(first) = self.next() else {
            return Err("argument expected".into());
        };
        if let Some(&op) = self.args.get(self.at)
            && BINARY.contains(&op)
            && let Some(&right) = self.args.get(self.at + 1)
        {
            self.at += 2;
            return binary(first, op, right);
        }
        if UNARY.contains(&first)
            && let Some(&operand) = self.args.get(self.at)
        {
            self.at += 1;
            return unary(first, operand);
        }
        Ok(!first.is_empty())
    }
}

fn integer(text: &str) -> Result<i64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("Illegal number: {text}"))
}

fn unary(op: &str, operand: &str) -> Result<bool, String> {
    let stat = || fs::metadata(operand).ok();
    let check = |f: fn(&Metadata) -> bool| stat().is_some_and(|m| f(&m));
    Ok(match op {
        "-n" => !operand.is_empty(),
        "-z" => operand.is_empty(),
        "-e" | "-r" | "-w" => stat().is_some(),
        "-f" => check(Metadata::is_file),
        "-d" => check(Metadata::is_dir),
        "-x" => check(|m| m.is_dir() || m.is_file()),
        "-s" => check(|m| m.len() > 0),
        "-h" | "-L" => fs::symlink_metadata(operand).is_ok_and(|m| m.file_type().is_symlink()),
        "-t" => {
            let fd = integer(operand)?;
            match fd {
                0 => std::io::stdin().is_terminal(),
                1 => std::io::stdout().is_terminal(),
                2 => std::io::stderr().is_terminal(),
                _ => false,
            }
        }
        // Block and character devices, FIFOs, sockets, set-id and sticky bits: none here.
        _ => false,
    })
}

fn binary(left: &str, op: &str, right: &str) -> Result<bool, String> {
    let modified = |path: &str| fs::metadata(path).and_then(|m| m.modified()).ok();
    Ok(match op {
        "=" => left == right,
        "!=" => left != right,
        "-nt" => match (modified(left), modified(right)) {
            (Some(l), Some(r)) => l > r,
            (Some(_), None) => true,
            _ => false,
        },
        "-ot" => match (modified(left), modified(right)) {
            (Some(l), Some(r)) => l < r,
            (None, Some(_)) => true,
            _ => false,
        },
        "-ef" => match (fs::canonicalize(left), fs::canonicalize(right)) {
            (Ok(l), Ok(r)) => l == r,
            _ => false,
        },
        _ => {
            let (l, r) = (integer(left)?, integer(right)?);
            match op {
                "-eq" => l == r,
                "-ne" => l != r,
                "-gt" => l > r,
                "-ge" => l >= r,
                "-lt" => l < r,
                _ => l <= r,
            }
        }
    })
}
