//! `echo [-neE] [STRING]...`: prints the STRINGs separated by spaces and ended by a newline,
//! like GNU echo: `-n` leaves out the newline, `-e` interprets `\\ \a \b \c \e \f \n \r \t \v`,
//! `\0NNN` (octal) and `\xHH` (hex), `-E` turns that off again. As in GNU, an argument that
//! is not such an option is printed, whatever it starts with. Arguments are bytes: ones that
//! are not UTF-8 are printed as they are.
use std::io::{self, Write};
use std::os::wasi::ffi::OsStringExt;

/// What follows `\` under `-e`, appended to `out`; false if output stops here (`\c`).
fn unescape(arg: &[u8], out: &mut Vec<u8>) -> bool {
    let mut i = 0;
    while let Some(&byte) = arg.get(i) {
        i += 1;
        if byte != b'\\' || i == arg.len() {
            out.push(byte);
            continue;
        }
        let code = arg[i];
        i += 1;
        let simple = match code {
            b'\\' => Some(b'\\'),
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'e' => Some(0x1b),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            _ => None,
        };
        if let Some(simple) = simple {
            out.push(simple);
            continue;
        }
        match code {
            b'c' => return false,
            b'0' | b'x' => {
                let (radix, max_digits) = if code == b'0' { (8, 3) } else { (16, 2) };
                let mut value: u32 = 0;
                let mut digits = 0;
                while digits < max_digits {
                    let Some(digit) = arg.get(i).and_then(|&d| char::from(d).to_digit(radix))
                    else {
                        break;
                    };
                    value = value * radix + digit;
                    digits += 1;
                    i += 1;
                }
                if code == b'x' && digits == 0 {
                    out.extend_from_slice(b"\\x");
                } else {
                    out.push(value as u8);
                }
            }
            other => out.extend_from_slice(&[b'\\', other]),
        }
    }
    true
}

fn main() {
    let args: Vec<Vec<u8>> = std::env::args_os().skip(1).map(|a| a.into_vec()).collect();
    let mut newline = true;
    let mut escapes = false;
    let mut start = 0;
    for arg in &args {
        let Some(letters) = arg.strip_prefix(b"-") else {
            break;
        };
        if letters.is_empty() || !letters.iter().all(|c| matches!(c, b'n' | b'e' | b'E')) {
            break;
        }
        for letter in letters {
            match letter {
                b'n' => newline = false,
                b'e' => escapes = true,
                _ => escapes = false,
            }
        }
        start += 1;
    }
    let mut out = Vec::new();
    let mut finished = true;
    for (i, arg) in args[start..].iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        if escapes {
            if !unescape(arg, &mut out) {
                finished = false;
                break;
            }
        } else {
            out.extend_from_slice(arg);
        }
    }
    if newline && finished {
        out.push(b'\n');
    }
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout.write_all(&out).and_then(|()| stdout.flush()) {
        let _ = writeln!(
            io::stderr(),
            "echo: write error: {}",
            cella_userland::describe(&e)
        );
        std::process::exit(1);
    }
}
