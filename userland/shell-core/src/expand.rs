//! Word expansion as POSIX orders it: tilde, parameters (`${V:-x}` and the other forms),
//! command substitution (through [`Env::substitute`]) and arithmetic in one pass, then
//! field splitting of the unquoted results at `IFS`, then pathname expansion of unquoted
//! wildcards ([`crate::glob`]); quote removal falls out of keeping quoted text apart.

use crate::arith;
use crate::glob::{self, Dirs, PatternChar};
use crate::syntax::{ParamOp, Program, Segment, TestKind, Word};

/// Why a word could not be expanded: the message (after `sh: LINE: `) that ends the command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpandError(pub String);

/// Where expansion finds values.
pub trait Env {
    /// A variable, or the special parameters `?`, `$`, `!`, `-` and `0`.
    fn var(&self, name: &str) -> Option<String>;
    /// The positional parameters `$1`, `$2`, ...
    fn positional(&self) -> &[String];
    /// Assigns a variable (`${V:=x}`, `$((V=1))`); the error is the message to report.
    fn assign(&mut self, name: &str, value: String) -> Result<(), ExpandError>;
    /// The standard output of `program` (source `text`) run as a command substitution.
    fn substitute(&mut self, program: &Program, text: &str) -> Result<String, ExpandError>;
    /// Whether expanding an unset parameter is an error (`set -u`).
    fn nounset(&self) -> bool {
        false
    }
}

/// The default field separators when `IFS` is unset.
const DEFAULT_IFS: &str = " \t\n";

fn is_ifs_white(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n')
}

/// Fields being built.
#[derive(Default)]
struct Fields {
    done: Vec<Vec<PatternChar>>,
    /// The field being built, each character marked with whether it may be a wildcard.
    current: Vec<PatternChar>,
    /// Whether `current` is a field even if empty (something quoted or literal went in).
    started: bool,
    ifs: String,
}

impl Fields {
    fn push(&mut self, text: &str, active: bool) {
        self.current.extend(text.chars().map(|c| (c, active)));
        self.started = true;
    }

    fn end(&mut self) {
        if self.started || !self.current.is_empty() {
            self.done.push(std::mem::take(&mut self.current));
            self.started = false;
        }
    }

    /// Appends an unquoted expansion's value, splitting it at `IFS`: runs of IFS white space
    /// separate fields, each other IFS character ends one (even an empty one).
    fn push_split(&mut self, value: &str) {
        let mut white = false;
        for c in value.chars() {
            if !self.ifs.contains(c) {
                if white {
                    self.end();
                    white = false;
                }
                self.current.push((c, true));
            } else if is_ifs_white(c) {
                white = true;
            } else {
                self.started = true;
                self.end();
                white = false;
            }
        }
        if white {
            self.end();
        }
    }
}

/// How text inside a parameter's word is treated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    /// As written: quoted text stays whole, unquoted text is literal.
    Word,
    /// Inside double quotes: everything is quoted.
    Quoted,
    /// The word of an unquoted `${V-word}`: its unquoted text is split too.
    Split,
}

struct Expander<'a> {
    env: &'a mut dyn Env,
}

impl Expander<'_> {
    fn ifs(&self) -> String {
        self.env.var("IFS").unwrap_or_else(|| DEFAULT_IFS.into())
    }

    /// The value of a parameter (`None`: unset), `$@` and `$*` joined by spaces.
    fn value(&self, name: &str) -> Option<String> {
        let positional = self.env.positional();
        match name {
            "@" | "*" => Some(positional.join(" ")),
            "#" => Some(positional.len().to_string()),
            _ if name != "0" && name.chars().all(|c| c.is_ascii_digit()) => {
                let index: usize = name.parse().unwrap_or(usize::MAX);
                positional.get(index.wrapping_sub(1)).cloned()
            }
            _ => self.env.var(name),
        }
    }

    fn unset_error(&self, name: &str) -> ExpandError {
        ExpandError(format!("{name}: parameter not set"))
    }

    fn segments(
        &mut self,
        segments: &[Segment],
        fields: &mut Fields,
        context: Context,
    ) -> Result<(), ExpandError> {
        for segment in segments {
            self.segment(segment, fields, context)?;
        }
        Ok(())
    }

    fn segment(
        &mut self,
        segment: &Segment,
        fields: &mut Fields,
        context: Context,
    ) -> Result<(), ExpandError> {
        let outer_quoted = context == Context::Quoted;
        match segment {
            Segment::Text { text, quoted } => {
                if context == Context::Split && !quoted {
                    fields.push_split(text);
                } else {
                    fields.push(text, !quoted && !outer_quoted);
                }
            }
            Segment::Tilde => {
                let home = self
                    .env
                    .var("HOME")
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "/".into());
                fields.push(&home, false);
            }
            Segment::Param { name, op, quoted } => {
                self.param(name, op, *quoted || outer_quoted, fields)?
            }
            Segment::Command {
                program,
                text,
                quoted,
            } => {
                let mut output = self.env.substitute(program, text)?;
                output.truncate(output.trim_end_matches('\n').len());
                self.push_value(&output, *quoted || outer_quoted, fields);
            }
            Segment::Arith { expr, quoted } => {
                let text = self.string(expr)?;
                let value = arith::eval(&text, &mut ArithVars(self.env)).map_err(|message| {
                    ExpandError(format!("arithmetic expression: {message}: \"{text}\""))
                })?;
                self.push_value(&value.to_string(), *quoted || outer_quoted, fields);
            }
        }
        Ok(())
    }

    fn push_value(&self, value: &str, quoted: bool, fields: &mut Fields) {
        if quoted {
            fields.push(value, false);
        } else {
            fields.push_split(value);
        }
    }

    fn param(
        &mut self,
        name: &str,
        op: &ParamOp,
        quoted: bool,
        fields: &mut Fields,
    ) -> Result<(), ExpandError> {
        let value = self.value(name);
        match op {
            ParamOp::Plain if name == "@" || name == "*" => {
                let positional = self.env.positional().to_vec();
                if quoted && name == "*" {
                    let separator: String = self.ifs().chars().take(1).collect();
                    fields.push(&positional.join(&separator), false);
                    return Ok(());
                }
                for (i, value) in positional.iter().enumerate() {
                    if i > 0 {
                        fields.started |= quoted;
                        fields.end();
                    }
                    self.push_value(value, quoted, fields);
                }
            }
            ParamOp::Plain => match value {
                Some(value) => self.push_value(&value, quoted, fields),
                None if self.env.nounset() && name != "!" => return Err(self.unset_error(name)),
                None if quoted => fields.push("", false),
                None => {}
            },
            ParamOp::Length => {
                let value = match value {
                    Some(value) => value,
                    None if self.env.nounset() => return Err(self.unset_error(name)),
                    None => String::new(),
                };
                fields.push(&value.chars().count().to_string(), false);
            }
            ParamOp::Test { kind, colon, word } => {
                let set = value.as_ref().is_some_and(|v| !(*colon && v.is_empty()));
                let context = if quoted {
                    Context::Quoted
                } else {
                    Context::Split
                };
                match kind {
                    _ if set && *kind != TestKind::Alternative => {
                        self.push_value(&value.unwrap_or_default(), quoted, fields)
                    }
                    TestKind::Default | TestKind::Alternative
                        if set || *kind == TestKind::Default =>
                    {
                        self.segments(&word.segments, fields, context)?;
                    }
                    TestKind::Alternative => {
                        if quoted {
                            fields.push("", false);
                        }
                    }
                    TestKind::Assign => {
                        if !crate::syntax::is_name(name) {
                            return Err(ExpandError(format!("{name}: bad variable name")));
                        }
                        let new = self.string(word)?;
                        self.env.assign(name, new.clone())?;
                        self.push_value(&new, quoted, fields);
                    }
                    TestKind::Default | TestKind::Error => {
                        let message = self.string(word)?;
                        return Err(ExpandError(if message.is_empty() {
                            format!("{name}: parameter not set")
                        } else {
                            format!("{name}: {message}")
                        }));
                    }
                }
            }
            ParamOp::Trim {
                suffix,
                longest,
                pattern,
            } => {
                let value = match value {
                    Some(value) => value,
                    None if self.env.nounset() => return Err(self.unset_error(name)),
                    None => String::new(),
                };
                let pattern = self.pattern(pattern)?;
                let trimmed = trim(&value, &pattern, *suffix, *longest);
                self.push_value(&trimmed, quoted, fields);
            }
        }
        Ok(())
    }

    fn fields(&mut self, word: &Word) -> Result<Vec<Vec<PatternChar>>, ExpandError> {
        let mut fields = Fields {
            ifs: self.ifs(),
            ..Fields::default()
        };
        self.segments(&word.segments, &mut fields, Context::Word)?;
        fields.end();
        Ok(fields.done)
    }

    /// `word` as one string, without splitting or pathname expansion.
    fn string(&mut self, word: &Word) -> Result<String, ExpandError> {
        let mut fields = Fields::default();
        self.segments(&word.segments, &mut fields, Context::Word)?;
        fields.end();
        let texts: Vec<String> = fields
            .done
            .iter()
            .map(|field| field.iter().map(|&(c, _)| c).collect())
            .collect();
        Ok(texts.join(" "))
    }

    /// `word` as one pattern: unsplit, its unquoted characters active as wildcards.
    fn pattern(&mut self, word: &Word) -> Result<Vec<PatternChar>, ExpandError> {
        let mut fields = Fields {
            // No splitting: nothing is a separator.
            ifs: String::new(),
            ..Fields::default()
        };
        self.segments(&word.segments, &mut fields, Context::Word)?;
        fields.end();
        Ok(fields.done.into_iter().flatten().collect())
    }
}

/// `value` without its shortest or longest prefix or suffix that matches `pattern`.
fn trim(value: &str, pattern: &[PatternChar], suffix: bool, longest: bool) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    let cuts: Box<dyn Iterator<Item = usize>> = match (suffix, longest) {
        // For a suffix, cut at i keeps chars[..i]; shortest suffix = largest i.
        (true, false) => Box::new((0..=n).rev()),
        (true, true) => Box::new(0..=n),
        (false, false) => Box::new(0..=n),
        (false, true) => Box::new((0..=n).rev()),
    };
    for cut in cuts {
        let (kept, removed) = if suffix {
            (&chars[..cut], &chars[cut..])
        } else {
            (&chars[cut..], &chars[..cut])
        };
        if glob::matches_text(pattern, removed) {
            return kept.iter().collect();
        }
    }
    value.to_string()
}

/// Arithmetic's view of the shell's variables.
struct ArithVars<'a>(&'a mut dyn Env);

impl arith::Vars for ArithVars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0.var(name)
    }

    fn set(&mut self, name: &str, value: String) -> Result<(), String> {
        self.0.assign(name, value).map_err(|e| e.0)
    }
}

/// Expands `word` into fields, without pathname expansion.
pub fn fields(word: &Word, env: &mut dyn Env) -> Result<Vec<String>, ExpandError> {
    Ok(Expander { env }
        .fields(word)?
        .iter()
        .map(|field| field.iter().map(|&(c, _)| c).collect())
        .collect())
}

/// Expands every word of `words` into fields, then unquoted wildcards into file names.
pub fn all_fields(
    words: &[Word],
    env: &mut dyn Env,
    dirs: &dyn Dirs,
) -> Result<Vec<String>, ExpandError> {
    let mut expander = Expander { env };
    let mut out = Vec::new();
    for word in words {
        for field in expander.fields(word)? {
            out.extend(glob::expand(&field, dirs));
        }
    }
    Ok(out)
}

/// Expands `word` into one string, without splitting (assignment values, file names,
/// here-document bodies, the word of `case`).
pub fn string(word: &Word, env: &mut dyn Env) -> Result<String, ExpandError> {
    Expander { env }.string(word)
}

/// Expands `word` into a pattern for `case`: its quoted characters match only themselves.
pub fn pattern(word: &Word, env: &mut dyn Env) -> Result<Vec<PatternChar>, ExpandError> {
    Expander { env }.pattern(word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::{Command, parse};
    use std::collections::HashMap;

    struct Fake {
        vars: HashMap<String, String>,
        positional: Vec<String>,
        nounset: bool,
        /// The texts of the command substitutions run.
        substituted: Vec<String>,
    }

    impl Env for Fake {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).cloned()
        }
        fn positional(&self) -> &[String] {
            &self.positional
        }
        fn assign(&mut self, name: &str, value: String) -> Result<(), ExpandError> {
            self.vars.insert(name.into(), value);
            Ok(())
        }
        fn substitute(&mut self, _: &Program, text: &str) -> Result<String, ExpandError> {
            self.substituted.push(text.into());
            // A stand-in for running it: `echo WORDS` prints them, with two newlines.
            Ok(format!("{}\n\n", text.trim_start_matches("echo ")))
        }
        fn nounset(&self) -> bool {
            self.nounset
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

    fn fake() -> Fake {
        let vars = [
            ("A", "one"),
            ("S", "  x  y\tz "),
            ("E", ""),
            ("P", "/usr/lib/file.tar.gz"),
            ("HOME", "/home/me"),
            ("?", "3"),
            ("0", "sh"),
        ];
        Fake {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            positional: vec!["p 1".into(), "p2".into()],
            nounset: false,
            substituted: Vec::new(),
        }
    }

    fn words_of(source: &str) -> Vec<Word> {
        let program = parse(&format!("echo {source}")).unwrap();
        match &program[0].first.commands[0] {
            Command::Simple(simple) => simple.words[1..].to_vec(),
            other => panic!("{other:?}"),
        }
    }

    fn expand_in(source: &str, env: &mut Fake) -> Result<Vec<String>, ExpandError> {
        all_fields(&words_of(source), env, &NoFiles)
    }

    /// The fields of the arguments of `echo SOURCE`.
    fn expand(source: &str) -> Vec<String> {
        expand_in(source, &mut fake()).unwrap()
    }

    #[test]
    fn variables_and_quotes() {
        assert_eq!(expand("$A ${A}s x$A"), ["one", "ones", "xone"]);
        assert_eq!(expand("$? $0"), ["3", "sh"]);
        assert_eq!(expand("$NOPE"), Vec::<String>::new());
        assert_eq!(expand("'$A' \\$A"), ["$A", "$A"]);
        assert_eq!(expand("\"$S\""), ["  x  y\tz "]);
        assert_eq!(expand("\"$E\" \"\" $E''"), ["", "", ""]);
        assert_eq!(expand("$S"), ["x", "y", "z"]);
        assert_eq!(expand("a${S}b"), ["a", "x", "y", "z", "b"]);
        assert_eq!(expand("~ ~/bin '~'"), ["/home/me", "/home/me/bin", "~"]);
    }

    #[test]
    fn positional_parameters() {
        assert_eq!(expand("$1"), ["p", "1"]);
        assert_eq!(expand("\"$1\" $2 $3"), ["p 1", "p2"]);
        assert_eq!(expand("$# ${#}"), ["2", "2"]);
        assert_eq!(expand("\"$@\""), ["p 1", "p2"]);
        assert_eq!(expand("\"x$@y\""), ["xp 1", "p2y"]);
        assert_eq!(expand("\"$*\""), ["p 1 p2"]);
        assert_eq!(expand("$@"), ["p", "1", "p2"]);
        let mut env = fake();
        env.positional.clear();
        assert_eq!(expand_in("\"$@\"", &mut env).unwrap(), Vec::<String>::new());
        assert_eq!(expand_in("\"$*\"", &mut env).unwrap(), [""]);
        env.vars.insert("IFS".into(), ":".into());
        env.positional = vec!["a".into(), "b".into()];
        assert_eq!(expand_in("\"$*\"", &mut env).unwrap(), ["a:b"]);
    }

    #[test]
    fn field_splitting_by_ifs() {
        let mut env = fake();
        env.vars.insert("IFS".into(), ": ".into());
        env.vars.insert("L".into(), "a:b::c : d:".into());
        assert_eq!(expand_in("$L", &mut env).unwrap(), ["a", "b", "", "c", "d"]);
        env.vars.insert("IFS".into(), String::new());
        assert_eq!(expand_in("$S", &mut env).unwrap(), ["  x  y\tz "]);
    }

    #[test]
    fn parameter_operations() {
        assert_eq!(
            expand("${NOPE:-de fault} \"${NOPE-a b}\""),
            ["de", "fault", "a b"]
        );
        assert_eq!(expand("${E:-x} ${E-x}."), ["x", "."]);
        assert_eq!(expand("${A:+alt} ${NOPE:+alt}."), ["alt", "."]);
        assert_eq!(expand("${E+set} ${E:+nonempty}."), ["set", "."]);
        assert_eq!(expand("${#A} ${#NOPE} ${#P}"), ["3", "0", "20"]);
        assert_eq!(
            expand("${P%.*} ${P%%.*}"),
            ["/usr/lib/file.tar", "/usr/lib/file"]
        );
        assert_eq!(
            expand("${P#*/} ${P##*/}"),
            ["usr/lib/file.tar.gz", "file.tar.gz"]
        );
        assert_eq!(
            expand("${P%nomatch} \"${P#'/usr'}\""),
            ["/usr/lib/file.tar.gz", "/lib/file.tar.gz"]
        );
        assert_eq!(expand("${A%\"*\"}"), ["one"]);
        let mut env = fake();
        assert_eq!(expand_in("${N:=new} $N", &mut env).unwrap(), ["new", "new"]);
        assert_eq!(env.vars["N"], "new");
        assert_eq!(
            expand_in("${NOPE:?is needed}", &mut env),
            Err(ExpandError("NOPE: is needed".into()))
        );
        assert_eq!(
            expand_in("${E:?}", &mut env),
            Err(ExpandError("E: parameter not set".into()))
        );
        assert_eq!(expand_in("${E?}", &mut env).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn nounset() {
        let mut env = fake();
        env.nounset = true;
        assert_eq!(
            expand_in("$NOPE", &mut env),
            Err(ExpandError("NOPE: parameter not set".into()))
        );
        assert_eq!(
            expand_in("${NOPE:-ok} $A", &mut env).unwrap(),
            ["ok", "one"]
        );
        assert!(expand_in("$3", &mut env).is_err());
        assert_eq!(expand_in("\"$@\"", &mut env).unwrap(), ["p 1", "p2"]);
    }

    #[test]
    fn command_substitution_and_arithmetic() {
        let mut env = fake();
        assert_eq!(
            expand_in("$(echo a  b) \"$(echo c  d)\" x`echo e`", &mut env).unwrap(),
            ["a", "b", "c  d", "xe"]
        );
        assert_eq!(env.substituted, ["echo a  b", "echo c  d", "echo e"]);
        assert_eq!(expand("$((1 + 2 * 3)) $(( $? + 1 ))"), ["7", "4"]);
        assert_eq!(
            expand_in("$((n = 5)) $((n += 1))", &mut env).unwrap(),
            ["5", "6"]
        );
        assert_eq!(env.vars["n"], "6");
        assert_eq!(
            expand_in("$((1 / 0))", &mut env),
            Err(ExpandError(
                "arithmetic expression: division by zero: \"1 / 0\"".into()
            ))
        );
    }

    #[test]
    fn pathname_expansion() {
        let mut env = fake();
        env.vars.insert("G".into(), "?.rs".into());
        let words = words_of("*.rs '*.rs' \\*.rs \"*\".rs $G \"$G\" x*");
        assert_eq!(
            all_fields(&words, &mut env, &Files).unwrap(),
            [
                "*.rs", "a.rs", "b.rs", // *.rs
                "*.rs", "*.rs", "*.rs", // quoted three ways
                "*.rs", "a.rs", "b.rs", // $G
                "?.rs", "x*", // "$G", and no match
            ]
        );
    }

    #[test]
    fn strings_and_patterns() {
        let program = parse("X=\"$S\"$A~ cmd").unwrap();
        let Command::Simple(simple) = &program[0].first.commands[0] else {
            panic!()
        };
        assert_eq!(
            string(&simple.assignments[0].1, &mut fake()).unwrap(),
            "  x  y\tz one~"
        );
        let words = words_of("a*'*'\"$A\"");
        assert_eq!(
            pattern(&words[0], &mut fake()).unwrap(),
            [
                ('a', true),
                ('*', true),
                ('*', false),
                ('o', false),
                ('n', false),
                ('e', false)
            ]
        );
        assert_eq!(fields(&Word::literal("*"), &mut fake()).unwrap(), ["*"]);
    }
}
