//! `find [PATH...] [EXPRESSION]`: walks each PATH (`.` if none) depth first and prints the
//! paths EXPRESSION holds for, as POSIX and GNU `find` do. Tests: `-name PATTERN` and
//! `-iname PATTERN` (`*`, `?`, `[...]` and `\` on the last component; a leading `.` needs
//! no literal dot), `-type f|d|l` (several as `f,d`), `-true`, `-false`; actions `-print`
//! (the default when the expression has none); operators `!`/`-not`, `-a`/`-and` (or
//! nothing), `-o`/`-or` and `( )`; options `-maxdepth N` and `-mindepth N`. Symbolic links
//! are not followed. Entries are visited in name order. A PATH or directory that cannot be
//! read is reported and makes the exit status 1.
use std::fs;
use std::path::Path;

use cella_userland::{Bracket, Tool, args, children, describe, enter_working_directory};

const TOOL: Tool = Tool {
    name: "find",
    usage: "find [PATH...] [-maxdepth N] [-mindepth N] [EXPRESSION]",
    usage_status: 1,
};

enum Expr {
    Name(Vec<char>, bool),
    Type(Vec<char>),
    Constant(bool),
    Print,
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// Whether `name` matches the shell pattern `pattern` (fnmatch without flags).
fn matches(pattern: &[char], name: &[char]) -> bool {
    let Some(&p) = pattern.first() else {
        return name.is_empty();
    };
    match p {
        '*' => (0..=name.len()).any(|skip| matches(&pattern[1..], &name[skip..])),
        '?' => !name.is_empty() && matches(&pattern[1..], &name[1..]),
        '[' => match (name.first(), Bracket::parse(pattern, &['!', '^'])) {
            (Some(&c), Some((set, length))) => {
                set.matches(c) && matches(&pattern[length..], &name[1..])
            }
            (Some(&c), None) => c == '[' && matches(&pattern[1..], &name[1..]),
            (None, _) => false,
        },
        '\\' if pattern.len() > 1 => {
            name.first() == Some(&pattern[1]) && matches(&pattern[2..], &name[1..])
        }
        _ => name.first() == Some(&p) && matches(&pattern[1..], &name[1..]),
    }
}

/// A file as the walk meets it.
struct Visit<'a> {
    path: &'a str,
    name: &'a str,
    kind: char,
}

impl Expr {
    /// Evaluates the expression on `visit`, printing into `out` as it says.
    fn holds(&self, visit: &Visit<'_>, out: &mut cella_userland::Output) -> bool {
        match self {
            Expr::Name(pattern, fold) => {
                let name: Vec<char> = if *fold {
                    visit.name.to_lowercase().chars().collect()
                } else {
                    visit.name.chars().collect()
                };
                matches(pattern, &name)
            }
            Expr::Type(kinds) => kinds.contains(&visit.kind),
            Expr::Constant(value) => *value,
            Expr::Print => {
                out.put(visit.path.as_bytes());
                out.put(b"\n");
                true
            }
            Expr::Not(inner) => !inner.holds(visit, out),
            Expr::And(left, right) => left.holds(visit, out) && right.holds(visit, out),
            Expr::Or(left, right) => left.holds(visit, out) || right.holds(visit, out),
        }
    }

    fn prints(&self) -> bool {
        match self {
            Expr::Print => true,
            Expr::Not(inner) => inner.prints(),
            Expr::And(left, right) | Expr::Or(left, right) => left.prints() || right.prints(),
            _ => false,
        }
    }
}

struct Parser {
    args: Vec<String>,
    at: usize,
    max_depth: usize,
    min_depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.args.get(self.at).map(String::as_str)
    }

    fn value(&mut self, primary: &str) -> String {
        let value = self
            .args
            .get(self.at)
            .cloned()
            .unwrap_or_else(|| TOOL.fail(&format!("missing argument to '{primary}'")));
        self.at += 1;
        value
    }

    fn or(&mut self) -> Expr {
        let mut left = self.and();
        while matches!(self.peek(), Some("-o" | "-or")) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()));
        }
        left
    }

    fn and(&mut self) -> Expr {
        let mut left = self.unary();
        loop {
            match self.peek() {
                Some("-a" | "-and") => self.at += 1,
                Some(")" | "-o" | "-or") | None => return left,
                Some(_) => {}
            }
            left = Expr::And(Box::new(left), Box::new(self.unary()));
        }
    }

    fn unary(&mut self) -> Expr {
        let token = self.value("!");
        match token.as_str() {
            "!" | "-not" => Expr::Not(Box::new(self.unary())),
            "(" => {
                let inner = self.or();
                if self.peek() != Some(")") {
                    TOOL.fail("invalid expression; I was expecting to find a ')' somewhere but did not see one.");
                }
                self.at += 1;
                inner
            }
            "-name" | "-iname" => {
                let fold = token == "-iname";
                let pattern = self.value(&token);
                let pattern = if fold {
                    pattern.to_lowercase()
                } else {
                    pattern
                };
                Expr::Name(pattern.chars().collect(), fold)
            }
            "-type" => {
                let kinds: Vec<char> = self
                    .value(&token)
                    .split(',')
                    .map(|kind| match kind {
                        "f" | "d" | "l" | "b" | "c" | "p" | "s" => {
                            kind.chars().next().unwrap_or('f')
                        }
                        _ => TOOL.fail(&format!("Unknown argument to -type: {kind}")),
                    })
                    .collect();
                Expr::Type(kinds)
            }
            "-maxdepth" | "-mindepth" => {
                let text = self.value(&token);
                let depth = text.parse::<usize>().unwrap_or_else(|_| {
                    TOOL.fail(&format!(
                        "Expected a positive decimal integer argument to {token}, but got '{text}'"
                    ))
                });
                if token == "-maxdepth" {
                    self.max_depth = depth;
                } else {
                    self.min_depth = depth;
                }
                Expr::Constant(true)
            }
            "-print" => Expr::Print,
            "-true" => Expr::Constant(true),
            "-false" => Expr::Constant(false),
            ")" => TOOL.fail("invalid expression; you have too many ')'"),
            other if other.starts_with('-') => TOOL.fail(&format!("unknown predicate '{other}'")),
            other => TOOL.fail(&format!("paths must precede expression: '{other}'")),
        }
    }
}

/// The walk: the expression, the depth limits, whether anything went wrong.
struct Walk {
    expr: Expr,
    max_depth: usize,
    min_depth: usize,
    failed: bool,
}

impl Walk {
    fn visit(&mut self, path: &str, name: &str, depth: usize, out: &mut cella_userland::Output) {
        let meta = match fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) => {
                TOOL.warn(&format!("'{path}': {}", describe(&e)));
                self.failed = true;
                return;
            }
        };
        let kind = if meta.file_type().is_symlink() {
            'l'
        } else if meta.is_dir() {
            'd'
        } else {
            'f'
        };
        if depth >= self.min_depth {
            self.expr.holds(&Visit { path, name, kind }, out);
        }
        if kind != 'd' || depth >= self.max_depth {
            return;
        }
        let children = match children(path) {
            Ok(children) => children,
            Err(e) => {
                TOOL.warn(&format!("'{path}': {}", describe(&e)));
                self.failed = true;
                return;
            }
        };
        for (child, child_path) in children {
            self.visit(&child_path, &child, depth + 1, out);
        }
    }
}

pub fn main() {
    enter_working_directory();
    let args = args();
    let first_expression = args
        .iter()
        .position(|arg| (arg.starts_with('-') && arg.len() > 1) || arg == "!" || arg == "(")
        .unwrap_or(args.len());
    let mut paths: Vec<String> = args[..first_expression].to_vec();
    let mut parser = Parser {
        args: args[first_expression..].to_vec(),
        at: 0,
        max_depth: usize::MAX,
        min_depth: 0,
    };
    let mut expr = if parser.args.is_empty() {
        Expr::Constant(true)
    } else {
        parser.or()
    };
    if let Some(extra) = parser.peek() {
        TOOL.fail(&format!("unexpected extra predicate '{extra}'"));
    }
    if !expr.prints() {
        expr = Expr::And(Box::new(expr), Box::new(Expr::Print));
    }
    if paths.is_empty() {
        paths.push(".".into());
    }
    let mut walk = Walk {
        expr,
        max_depth: parser.max_depth,
        min_depth: parser.min_depth,
        failed: false,
    };
    let mut out = TOOL.output();
    for path in &paths {
        let trimmed = path.trim_end_matches('/');
        let name = Path::new(if trimmed.is_empty() { "/" } else { trimmed })
            .file_name()
            .map_or_else(
                || if trimmed.is_empty() { "/" } else { trimmed }.to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
        walk.visit(path, &name, 0, &mut out);
    }
    out.exit(i32::from(walk.failed));
}
