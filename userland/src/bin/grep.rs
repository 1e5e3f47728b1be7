//! `grep [-cFilnqrv] [-e PATTERN]... [PATTERN] [FILE]...`: prints the lines of each FILE (`-`
//! or none: stdin; with `-r` and none: the current directory, recursively) that match
//! PATTERN (or any `-e PATTERN`). Patterns are
//! a subset of POSIX basic regular expressions — `.`, `*`, `^`, `$`, `[...]`/`[^...]`
//! classes with ranges, `\` quoting the next character — or fixed strings with `-F`.
//! `-i` ignores case, `-v` selects non-matching lines, `-n` numbers them, `-c` counts them,
//! `-l` lists matching files, `-q` prints nothing, `-r` searches directories. Exit status 0
//! if a line was selected, 1 if none, 2 on an error (as GNU: even if a line was selected).
use std::fs;
use std::io::{self, Write};
use std::path::Path;

use cella_userland::{Tool, args, describe, enter_working_directory, lines, read_input};

const TOOL: Tool = Tool {
    name: "grep",
    usage: "grep [-cFilnqrv] [-e PATTERN]... [PATTERN] [FILE]...",
    usage_status: 2,
};

/// What one position of a pattern matches.
enum Atom {
    Byte(u8),
    Any,
    /// A bracket expression: its ranges (single bytes as `(b, b)`) and whether it is negated.
    Class(Vec<(u8, u8)>, bool),
}

struct Piece {
    atom: Atom,
    repeated: bool,
}

/// A compiled basic regular expression.
struct Regex {
    pieces: Vec<Piece>,
    anchored_start: bool,
    anchored_end: bool,
    ignore_case: bool,
}

impl Atom {
    fn matches(&self, byte: u8, ignore_case: bool) -> bool {
        let candidates = if ignore_case {
            [byte.to_ascii_lowercase(), byte.to_ascii_uppercase()]
        } else {
            [byte, byte]
        };
        candidates.iter().any(|&b| match self {
            Atom::Byte(want) => *want == b,
            Atom::Any => b != b'\n',
            Atom::Class(ranges, negated) => {
                ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&b)) != *negated
            }
        })
    }
}

impl Regex {
    fn compile(pattern: &[u8], ignore_case: bool) -> Result<Regex, String> {
        let mut pieces: Vec<Piece> = Vec::new();
        let anchored_start = pattern.first() == Some(&b'^');
        let mut i = usize::from(anchored_start);
        let mut end = pattern.len();
        // A final `$` anchors unless it is quoted.
        let anchored_end =
            pattern.len() > i && pattern.ends_with(b"$") && !pattern[..end - 1].ends_with(b"\\");
        if anchored_end {
            end -= 1;
        }
        while i < end {
            let byte = pattern[i];
            i += 1;
            let atom = match byte {
                b'.' => Atom::Any,
                // `*` at the start of an expression is literal in a BRE.
                b'*' if pieces.is_empty() => Atom::Byte(b'*'),
                b'*' => {
                    if let Some(last) = pieces.last_mut() {
                        last.repeated = true;
                    }
                    continue;
                }
                b'\\' if i < end => {
                    i += 1;
                    Atom::Byte(pattern[i - 1])
                }
                b'\\' => return Err("trailing backslash (\\)".into()),
                b'[' => {
                    let negated = pattern.get(i) == Some(&b'^');
                    i += usize::from(negated);
                    let mut ranges = Vec::new();
                    let mut first = true;
                    loop {
                        let Some(&c) = pattern[..end].get(i) else {
                            return Err("Unmatched [, [^, [:, [., or [=".into());
                        };
                        i += 1;
                        if c == b']' && !first {
                            break;
                        }
                        first = false;
                        if pattern.get(i) == Some(&b'-')
                            && pattern.get(i + 1).is_some_and(|&h| h != b']')
                            && i + 1 < end
                        {
                            ranges.push((c, pattern[i + 1]));
                            i += 2;
                        } else {
                            ranges.push((c, c));
                        }
                    }
                    Atom::Class(ranges, negated)
                }
                other => Atom::Byte(other),
            };
            pieces.push(Piece {
                atom,
                repeated: false,
            });
        }
        Ok(Regex {
            pieces,
            anchored_start,
            anchored_end,
            ignore_case,
        })
    }

    fn is_match(&self, line: &[u8]) -> bool {
        if self.anchored_start {
            return self.here(&self.pieces, line);
        }
        (0..=line.len()).any(|start| self.here(&self.pieces, &line[start..]))
    }

    /// Whether `pieces` match at the start of `text` (backtracking over `*`).
    fn here(&self, pieces: &[Piece], text: &[u8]) -> bool {
        let Some((piece, rest)) = pieces.split_first() else {
            return !self.anchored_end || text.is_empty();
        };
        if piece.repeated {
            let run = text
                .iter()
                .take_while(|&&b| piece.atom.matches(b, self.ignore_case))
                .count();
            return (0..=run).rev().any(|n| self.here(rest, &text[n..]));
        }
        match text.split_first() {
            Some((&b, tail)) if piece.atom.matches(b, self.ignore_case) => self.here(rest, tail),
            _ => false,
        }
    }
}

enum Matcher {
    Fixed(Vec<u8>, bool),
    Regex(Regex),
}

impl Matcher {
    fn is_match(&self, line: &[u8]) -> bool {
        match self {
            Matcher::Fixed(needle, false) => {
                needle.is_empty() || line.windows(needle.len()).any(|w| w == needle.as_slice())
            }
            Matcher::Fixed(needle, true) => {
                needle.is_empty()
                    || line
                        .windows(needle.len())
                        .any(|w| w.eq_ignore_ascii_case(needle))
            }
            Matcher::Regex(regex) => regex.is_match(line),
        }
    }
}

struct Options {
    invert: bool,
    number: bool,
    count: bool,
    list: bool,
    quiet: bool,
    prefix: bool,
}

/// Searches one input; returns whether a line was selected.
fn search(
    matchers: &[Matcher],
    data: &[u8],
    name: &str,
    o: &Options,
    out: &mut impl Write,
) -> io::Result<bool> {
    let mut selected = 0u64;
    for (number, line) in lines(data).into_iter().enumerate() {
        if matchers.iter().any(|m| m.is_match(line)) == o.invert {
            continue;
        }
        selected += 1;
        if o.quiet || o.list {
            break;
        }
        if !o.count {
            if o.prefix {
                write!(out, "{name}:")?;
            }
            if o.number {
                write!(out, "{}:", number + 1)?;
            }
            out.write_all(line)?;
            out.write_all(b"\n")?;
        }
    }
    if o.count && !o.quiet && !o.list {
        if o.prefix {
            write!(out, "{name}:")?;
        }
        writeln!(out, "{selected}")?;
    }
    if o.list && selected > 0 && !o.quiet {
        writeln!(out, "{name}")?;
    }
    Ok(selected > 0)
}

/// The files under `dir` (not following symlinks), sorted, as `(path to open, name shown)`.
fn walk(dir: &Path, shown: &str, found: &mut Vec<(String, String)>, errors: &mut bool) {
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) => {
            TOOL.warn(&format!("{shown}: {}", describe(&e)));
            *errors = true;
            return;
        }
    };
    let mut names: Vec<String> = read
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let shown = if shown.is_empty() {
            name
        } else {
            format!("{}/{name}", shown.trim_end_matches('/'))
        };
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => walk(&path, &shown, found, errors),
            Ok(meta) if meta.is_file() => found.push((path.display().to_string(), shown)),
            _ => {}
        }
    }
}

fn main() {
    enter_working_directory();
    let (flags, mut operands) = TOOL.parse(args(), "cFilnqrv", "e");
    let has = |letter: char| flags.iter().any(|(f, _)| *f == letter);
    let mut patterns: Vec<String> = flags
        .iter()
        .filter(|(f, _)| *f == 'e')
        .map(|(_, p)| p.clone())
        .collect();
    if patterns.is_empty() {
        if operands.is_empty() {
            TOOL.usage_error("no pattern given");
        }
        patterns.push(operands.remove(0));
    }
    let matchers: Vec<Matcher> = patterns
        .iter()
        .map(|pattern| {
            if has('F') {
                let needle = if has('i') {
                    pattern.to_ascii_lowercase()
                } else {
                    pattern.clone()
                };
                return Matcher::Fixed(needle.into_bytes(), has('i'));
            }
            Regex::compile(pattern.as_bytes(), has('i'))
                .map(Matcher::Regex)
                .unwrap_or_else(|message| {
                    TOOL.warn(&message);
                    std::process::exit(2);
                })
        })
        .collect();
    let recursive = has('r');
    let mut errors = false;
    // (path to read, name shown)
    let mut inputs = Vec::new();
    if operands.is_empty() {
        if recursive {
            walk(Path::new("."), "", &mut inputs, &mut errors);
        } else {
            inputs.push(("-".to_string(), "(standard input)".to_string()));
        }
    }
    for operand in &operands {
        if recursive && fs::metadata(operand).is_ok_and(|m| m.is_dir()) {
            walk(Path::new(operand), operand, &mut inputs, &mut errors);
        } else {
            let shown = if operand == "-" {
                "(standard input)"
            } else {
                operand
            };
            inputs.push((operand.clone(), shown.to_string()));
        }
    }
    let options = Options {
        invert: has('v'),
        number: has('n'),
        count: has('c'),
        list: has('l'),
        quiet: has('q'),
        prefix: recursive || operands.len() > 1,
    };
    let mut out = TOOL.output();
    let mut matched = false;
    for (path, shown) in &inputs {
        let data = match read_input(path) {
            Ok(data) => data,
            Err(e) => {
                TOOL.warn(&format!("{shown}: {}", describe(&e)));
                errors = true;
                continue;
            }
        };
        match search(&matchers, &data, shown, &options, &mut out) {
            Ok(found) => matched |= found,
            Err(e) => {
                TOOL.warn(&format!("write error: {}", describe(&e)));
                std::process::exit(2);
            }
        }
        if matched && options.quiet {
            break;
        }
    }
    out.exit(if errors && !(options.quiet && matched) {
        2
    } else if matched {
        0
    } else {
        1
    });
}
