//! Word expansion: parameters and `~` are replaced by their values, and the results of
//! unquoted parameters are split into fields at blanks, as POSIX shells do with the default
//! `IFS`. Unquoted wildcards then expand to file names ([`crate::glob`]).

use crate::glob::{self, Dirs, PatternChar};
use crate::syntax::{Segment, Word};

/// Where expansion finds values.
pub trait Env {
    /// A variable, or the special parameters `?`, `$`, `!` and `0`.
    fn var(&self, name: &str) -> Option<String>;
    /// The positional parameters `$1`, `$2`, ...
    fn positional(&self) -> &[String];
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n')
}

/// The values of a parameter: one string, or one per positional parameter for `$@`.
fn values(name: &str, env: &dyn Env) -> Vec<String> {
    let positional = env.positional();
    match name {
        "@" => positional.to_vec(),
        "*" => vec![positional.join(" ")],
        "#" => vec![positional.len().to_string()],
        _ if name != "0" && name.chars().all(|c| c.is_ascii_digit()) => {
            let index: usize = name.parse().unwrap_or(usize::MAX);
            vec![
                positional
                    .get(index.wrapping_sub(1))
                    .cloned()
                    .unwrap_or_default(),
            ]
        }
        _ => vec![env.var(name).unwrap_or_default()],
    }
}

/// Fields being built.
#[derive(Default)]
struct Fields {
    done: Vec<Vec<PatternChar>>,
    /// The field being built, each character marked with whether it may be a wildcard.
    current: Vec<PatternChar>,
    /// Whether `current` is a field even if empty (something quoted or literal went in).
    started: bool,
}

impl Fields {
    fn push(&mut self, text: &str, active: bool) {
        self.current.extend(text.chars().map(|c| (c, active)));
        self.started = true;
    }

    fn end(&mut self) {
        if self.started {
            self.done.push(std::mem::take(&mut self.current));
            self.started = false;
        }
    }

    /// Appends an unquoted value, splitting it at blanks.
    fn push_split(&mut self, value: &str) {
        let mut pieces = value.split(is_blank).filter(|p| !p.is_empty()).peekable();
        if value.starts_with(is_blank) {
            self.end();
        }
        while let Some(piece) = pieces.next() {
            self.push(piece, true);
            if pieces.peek().is_some() {
                self.end();
            }
        }
        if value.ends_with(is_blank) {
            self.end();
        }
    }
}

/// Expands `word` into fields (none for an unquoted empty parameter, several for an unquoted
/// value with blanks or `"$@"`), each character marked with whether it may be a wildcard.
fn patterns(word: &Word, env: &dyn Env) -> Vec<Vec<PatternChar>> {
    let mut fields = Fields::default();
    for segment in &word.segments {
        match segment {
            Segment::Text { text, quoted } => fields.push(text, !quoted),
            Segment::Tilde => fields.push(&home(env), false),
            Segment::Param { name, quoted: true } => {
                let values = values(name, env);
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        fields.end();
                    }
                    fields.push(value, false);
                }
            }
            Segment::Param {
                name,
                quoted: false,
            } => {
                for (i, value) in values(name, env).iter().enumerate() {
                    if i > 0 {
                        fields.end();
                    }
                    fields.push_split(value);
                }
            }
        }
    }
    fields.end();
    fields.done
}

/// Expands `word` into fields, without pathname expansion.
pub fn fields(word: &Word, env: &dyn Env) -> Vec<String> {
    patterns(word, env)
        .iter()
        .map(|field| field.iter().map(|&(c, _)| c).collect())
        .collect()
}

/// Expands every word of `words` into fields, then unquoted wildcards into file names.
pub fn all_fields(words: &[Word], env: &dyn Env, dirs: &dyn Dirs) -> Vec<String> {
    words
        .iter()
        .flat_map(|word| patterns(word, env))
        .flat_map(|field| glob::expand(&field, dirs))
        .collect()
}

/// Expands `word` into one string, without splitting (assignment values, file names).
pub fn string(word: &Word, env: &dyn Env) -> String {
    let mut out = String::new();
    for segment in &word.segments {
        match segment {
            Segment::Text { text, .. } => out.push_str(text),
            Segment::Tilde => out.push_str(&home(env)),
            Segment::Param { name, .. } => out.push_str(&values(name, env).join(" ")),
        }
    }
    out
}

fn home(env: &dyn Env) -> String {
    env.var("HOME")
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;
    use std::collections::HashMap;

    struct Fake {
        vars: HashMap<&'static str, &'static str>,
        positional: Vec<String>,
    }

    impl Env for Fake {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).map(|v| v.to_string())
        }
        fn positional(&self) -> &[String] {
            &self.positional
        }
    }

    struct NoFiles;

    impl Dirs for NoFiles {
        fn list(&self, _: &str) -> Option<Vec<String>> {
            None
        }
    }

    /// A current directory with `a.rs`, `b.rs` and `*.rs`.
    struct Files;

    impl Dirs for Files {
        fn list(&self, dir: &str) -> Option<Vec<String>> {
            (dir == ".").then(|| vec!["b.rs".into(), "a.rs".into(), "*.rs".into()])
        }
    }

    #[test]
    fn pathname_expansion() {
        let program = parse("echo *.rs '*.rs' \\*.rs \"*\".rs $G \"$G\" x*").unwrap();
        let words = &program[0].first.commands[0].words[1..];
        let mut env = fake();
        env.vars.insert("G", "?.rs");
        assert_eq!(
            all_fields(words, &env, &Files),
            [
                "*.rs", "a.rs", "b.rs", // *.rs
                "*.rs", "*.rs", "*.rs", // quoted three ways
                "*.rs", "a.rs", "b.rs", // $G
                "?.rs", "x*", // "$G", and no match
            ]
        );
    }

    fn fake() -> Fake {
        Fake {
            vars: HashMap::from([
                ("A", "one"),
                ("S", "  x  y\tz "),
                ("E", ""),
                ("HOME", "/home/me"),
                ("?", "3"),
                ("$", "42"),
                ("0", "sh"),
            ]),
            positional: vec!["p 1".into(), "p2".into()],
        }
    }

    /// The fields of the arguments of `echo SOURCE`.
    fn expand(source: &str) -> Vec<String> {
        let program = parse(&format!("echo {source}")).unwrap();
        all_fields(&program[0].first.commands[0].words[1..], &fake(), &NoFiles)
    }

    #[test]
    fn variables() {
        assert_eq!(expand("$A ${A}s x$A"), ["one", "ones", "xone"]);
        assert_eq!(expand("$? $$ $0"), ["3", "42", "sh"]);
        assert_eq!(expand("$NOPE"), Vec::<String>::new());
        assert_eq!(expand("a$NOPE"), ["a"]);
    }

    #[test]
    fn single_quotes_do_not_expand() {
        assert_eq!(expand("'$A' \\$A"), ["$A", "$A"]);
    }

    #[test]
    fn double_quotes_expand_without_splitting() {
        assert_eq!(expand("\"$S\""), ["  x  y\tz "]);
        assert_eq!(expand("\"$E\" \"\""), ["", ""]);
        assert_eq!(expand("\"a $A b\""), ["a one b"]);
    }

    #[test]
    fn unquoted_values_split() {
        assert_eq!(expand("$S"), ["x", "y", "z"]);
        assert_eq!(expand("a$S"), ["a", "x", "y", "z"]);
        assert_eq!(expand("a${S}b"), ["a", "x", "y", "z", "b"]);
        assert_eq!(expand("$E"), Vec::<String>::new());
        assert_eq!(expand("$E''"), [""]);
    }

    #[test]
    fn positional_parameters() {
        assert_eq!(expand("$1"), ["p", "1"]);
        assert_eq!(expand("\"$1\" $2 $3"), ["p 1", "p2"]);
        assert_eq!(expand("$#"), ["2"]);
        assert_eq!(expand("\"$@\""), ["p 1", "p2"]);
        assert_eq!(expand("\"x$@y\""), ["xp 1", "p2y"]);
        assert_eq!(expand("\"$*\""), ["p 1 p2"]);
        assert_eq!(expand("$@"), ["p", "1", "p2"]);
    }

    #[test]
    fn tilde() {
        assert_eq!(expand("~ ~/bin '~'"), ["/home/me", "/home/me/bin", "~"]);
    }

    #[test]
    fn single_string() {
        let program = parse("X=\"$S\"$A~ cmd").unwrap();
        let (_, value) = &program[0].first.commands[0].assignments[0];
        assert_eq!(string(value, &fake()), "  x  y\tz one~");
        assert_eq!(string(&Word::literal("f"), &fake()), "f");
        assert_eq!(fields(&Word::literal("*"), &fake()), ["*"]);
    }
}
