//! `expr EXPRESSION`: evaluates EXPRESSION, one token an argument, prints the result and
//! exits 0 if it is neither empty nor 0, 1 if it is, 2 if the expression is invalid, as
//! POSIX and GNU `expr` do. Lowest precedence first: `|`, `&`, the comparisons `< <= = ==
//! != >= >` (numeric when both sides are integers, else on strings), `+ -`, `* / %`, and
//! `STRING : REGEX`, with `( )` grouping and GNU's `match`, `substr`, `index`, `length` and
//! `+ TOKEN`. Arithmetic is on 128-bit integers; overflow is an error.
//!
//! `:` matches a basic regular expression anchored at the start of STRING: `.`, `*`,
//! `[...]` (ranges, `^`, classes), `^`, `$`, `\(...\)`, `\{M,N\}`, `\1`...`\9` and `\`
//! quoting. It prints the text of the first `\(...\)` if there is one (empty on no
//! match), else the number of characters matched.
use std::cmp::Ordering;

use cella_userland::{Bracket, Tool, args};

const TOOL: Tool = Tool {
    name: "expr",
    usage: "expr EXPRESSION",
    usage_status: 2,
};

/// The exit status of an invalid expression.
const INVALID: i32 = 2;

/// A value: strings that look like integers take part in arithmetic.
#[derive(Clone)]
enum Value {
    Int(i128),
    Str(String),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Int(n) => n.to_string(),
            Value::Str(s) => s.clone(),
        }
    }

    /// The integer, if the value is one or a string of an optional `-` and digits.
    fn integer(&self) -> Option<i128> {
        match self {
            Value::Int(n) => Some(*n),
            Value::Str(s) => {
                let digits = s.strip_prefix('-').unwrap_or(s);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                s.parse()
                    .ok()
                    .or_else(|| fail("integer argument too large"))
            }
        }
    }

    /// Empty, or zero (`0`, `-0`, `00`): what makes the status 1 and `&`/`|` look further.
    fn is_null(&self) -> bool {
        match self {
            Value::Int(n) => *n == 0,
            Value::Str(s) => {
                let digits = s.strip_prefix('-').unwrap_or(s);
                s.is_empty() || (!digits.is_empty() && digits.bytes().all(|b| b == b'0'))
            }
        }
    }
}

fn fail(message: &str) -> ! {
    TOOL.warn(message);
    std::process::exit(INVALID)
}

fn integer_operand(value: &Value) -> i128 {
    value
        .integer()
        .unwrap_or_else(|| fail("non-integer argument"))
}

struct Parser {
    args: Vec<String>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.args.get(self.at).map(String::as_str)
    }

    /// Takes the next token if it is one of `ops`.
    fn operator(&mut self, ops: &[&str]) -> Option<String> {
        let op = self.peek().filter(|token| ops.contains(token))?.to_string();
        self.at += 1;
        Some(op)
    }

    fn or(&mut self) -> Value {
        let mut left = self.and();
        while self.operator(&["|"]).is_some() {
            let right = self.and();
            if left.is_null() {
                left = if right.is_null() {
                    Value::Int(0)
                } else {
                    right
                };
            }
        }
        left
    }

    fn and(&mut self) -> Value {
        let mut left = self.comparison();
        while self.operator(&["&"]).is_some() {
            let right = self.comparison();
            if left.is_null() || right.is_null() {
                left = Value::Int(0);
            }
        }
        left
    }

    fn comparison(&mut self) -> Value {
        let mut left = self.sum();
        while let Some(op) = self.operator(&["<", "<=", "=", "==", "!=", ">=", ">"]) {
            let right = self.sum();
            let order = match (left.integer(), right.integer()) {
                (Some(l), Some(r)) => l.cmp(&r),
                _ => left.text().cmp(&right.text()),
            };
            let holds = match op.as_str() {
                "<" => order == Ordering::Less,
                "<=" => order != Ordering::Greater,
                "=" | "==" => order == Ordering::Equal,
                "!=" => order != Ordering::Equal,
                ">=" => order != Ordering::Less,
                _ => order == Ordering::Greater,
            };
            left = Value::Int(i128::from(holds));
        }
        left
    }

    fn sum(&mut self) -> Value {
        let mut left = self.product();
        while let Some(op) = self.operator(&["+", "-"]) {
            let right = self.product();
            let (l, r) = (integer_operand(&left), integer_operand(&right));
            let result = if op == "+" {
                l.checked_add(r)
            } else {
                l.checked_sub(r)
            };
            left = Value::Int(result.unwrap_or_else(|| fail("result too large")));
        }
        left
    }

    fn product(&mut self) -> Value {
        let mut left = self.matching();
        while let Some(op) = self.operator(&["*", "/", "%"]) {
            let right = self.matching();
            let (l, r) = (integer_operand(&left), integer_operand(&right));
            if op != "*" && r == 0 {
                fail("division by zero");
            }
            let result = match op.as_str() {
                "*" => l.checked_mul(r),
                "/" => l.checked_div(r),
                _ => l.checked_rem(r),
            };
            left = Value::Int(result.unwrap_or_else(|| fail("result too large")));
        }
        left
    }

    fn matching(&mut self) -> Value {
        let mut left = self.primary();
        while self.operator(&[":"]).is_some() {
            let right = self.primary();
            left = regex_match(&left.text(), &right.text());
        }
        left
    }

    /// The next token as an operand, whatever it is.
    fn operand(&mut self) -> String {
        match self.args.get(self.at) {
            Some(token) => {
                self.at += 1;
                token.clone()
            }
            None => {
                let last = self.args.last().cloned().unwrap_or_default();
                fail(&format!("syntax error: missing argument after '{last}'"))
            }
        }
    }

    fn primary(&mut self) -> Value {
        let token = self.operand();
        match token.as_str() {
            "(" => {
                let value = self.or();
                match self.peek() {
                    Some(")") => {
                        self.at += 1;
                        value
                    }
                    Some(other) => {
                        fail(&format!("syntax error: expecting ')' instead of '{other}'"))
                    }
                    None => fail(&format!(
                        "syntax error: expecting ')' after '{}'",
                        self.args[self.at - 1]
                    )),
                }
            }
            "+" => Value::Str(self.operand()),
            "length" => Value::Int(self.primary().text().chars().count() as i128),
            "match" => {
                let string = self.primary().text();
                regex_match(&string, &self.primary().text())
            }
            "index" => {
                let string = self.primary().text();
                let chars = self.primary().text();
                let at = string.chars().position(|c| chars.contains(c));
                Value::Int(at.map_or(0, |at| at as i128 + 1))
            }
            "substr" => {
                let string = self.primary().text();
                let (start, length) = (self.primary(), self.primary());
                let position = |value: &Value| {
                    value
                        .integer()
                        .and_then(|n| usize::try_from(n).ok())
                        .unwrap_or(0)
                };
                let (start, length) = (position(&start), position(&length));
                if start == 0 {
                    return Value::Str(String::new());
                }
                Value::Str(string.chars().skip(start - 1).take(length).collect())
            }
            ")" => fail("syntax error: unexpected argument ')'"),
            _ => Value::Str(token),
        }
    }
}

/// One element of a regular expression.
enum Node {
    Literal(char),
    Any,
    Set(Bracket),
    /// `\(...\)`: its number (from 1) and contents.
    Group(usize, Vec<Piece>),
    Backref(usize),
    /// `$` at the end (of the expression or of a group).
    End,
}

/// A node and how often it may repeat.
struct Piece {
    node: Node,
    min: usize,
    max: usize,
}

struct RegexParser<'a> {
    chars: &'a [char],
    at: usize,
    groups: usize,
}

impl RegexParser<'_> {
    fn sequence(&mut self, depth: usize) -> Vec<Piece> {
        let mut pieces: Vec<Piece> = Vec::new();
        let start = self.at;
        while let Some(&c) = self.chars.get(self.at) {
            let at_start = self.at == start;
            self.at += 1;
            let node = match c {
                '^' if at_start => continue,
                '$' if self.at == self.chars.len()
                    || (depth > 0 && self.chars[self.at..].starts_with(&['\\', ')'])) =>
                {
                    Node::End
                }
                '.' => Node::Any,
                '*' if !at_start => {
                    if let Some(last) = pieces.last_mut() {
                        last.min = 0;
                        last.max = usize::MAX;
                    }
                    continue;
                }
                '[' => {
                    let (set, length) = Bracket::parse(&self.chars[self.at - 1..], &['^'])
                        .unwrap_or_else(|| fail("Unmatched [, [^, [:, [., or [="));
                    self.at += length - 1;
                    Node::Set(set)
                }
                '\\' => {
                    let Some(&escaped) = self.chars.get(self.at) else {
                        fail("Trailing backslash")
                    };
                    self.at += 1;
                    match escaped {
                        '(' => {
                            self.groups += 1;
                            let number = self.groups;
                            let inner = self.sequence(depth + 1);
                            if !self.chars[self.at..].starts_with(&['\\', ')']) {
                                fail("Unmatched ( or \\(");
                            }
                            self.at += 2;
                            Node::Group(number, inner)
                        }
                        ')' if depth > 0 => {
                            self.at -= 2;
                            return pieces;
                        }
                        ')' => fail("Unmatched ) or \\)"),
                        '{' if !at_start => {
                            let (min, max) = self.interval();
                            if let Some(last) = pieces.last_mut() {
                                last.min = min;
                                last.max = max;
                            }
                            continue;
                        }
                        '1'..='9' => {
                            let number = escaped as usize - '0' as usize;
                            if number > self.groups {
                                fail("Invalid back reference");
                            }
                            Node::Backref(number)
                        }
                        other => Node::Literal(other),
                    }
                }
                other => Node::Literal(other),
            };
            pieces.push(Piece {
                node,
                min: 1,
                max: 1,
            });
        }
        pieces
    }

    /// `M`, `M,` or `M,N` and the closing `\}` of an interval.
    fn interval(&mut self) -> (usize, usize) {
        let rest = &self.chars[self.at..];
        let end = rest
            .windows(2)
            .position(|w| w == ['\\', '}'])
            .unwrap_or_else(|| fail("Unmatched \\{"));
        let text: String = rest[..end].iter().collect();
        self.at += end + 2;
        let number = |s: &str| s.parse::<usize>().ok();
        let bounds = match text.split_once(',') {
            None => number(&text).map(|n| (n, n)),
            Some((min, "")) => number(min).map(|n| (n, usize::MAX)),
            Some((min, max)) => number(min).zip(number(max)),
        };
        match bounds {
            Some((min, max)) if min <= max => (min, max),
            _ => fail("Invalid content of \\{\\}"),
        }
    }
}

/// Where each group matched, by number (index 0 unused).
type Captures = Vec<Option<(usize, usize)>>;

struct Matcher<'a> {
    text: &'a [char],
}

impl Matcher<'_> {
    /// Whether `pieces` match at `at` such that `then` accepts where they end.
    fn sequence(
        &self,
        pieces: &[Piece],
        at: usize,
        caps: &mut Captures,
        then: &mut dyn FnMut(usize, &mut Captures) -> bool,
    ) -> bool {
        let Some((piece, rest)) = pieces.split_first() else {
            return then(at, caps);
        };
        self.repeat(piece, 0, at, caps, &mut |end, caps| {
            self.sequence(rest, end, caps, then)
        })
    }

    /// Greedy repetition of `piece`, `count` times matched so far.
    fn repeat(
        &self,
        piece: &Piece,
        count: usize,
        at: usize,
        caps: &mut Captures,
        then: &mut dyn FnMut(usize, &mut Captures) -> bool,
    ) -> bool {
        if count < piece.max {
            let more = self.node(&piece.node, at, caps, &mut |end, caps| {
                if end == at {
                    // Matched empty: repeating it would never end, and changes nothing.
                    count + 1 >= piece.min && then(end, caps)
                } else {
                    self.repeat(piece, count + 1, end, caps, then)
                }
            });
            if more {
                return true;
            }
        }
        count >= piece.min && then(at, caps)
    }

    fn node(
        &self,
        node: &Node,
        at: usize,
        caps: &mut Captures,
        then: &mut dyn FnMut(usize, &mut Captures) -> bool,
    ) -> bool {
        let c = self.text.get(at).copied();
        match node {
            Node::Literal(l) => c == Some(*l) && then(at + 1, caps),
            Node::Any => c.is_some() && then(at + 1, caps),
            Node::Set(set) => c.is_some_and(|c| set.matches(c)) && then(at + 1, caps),
            Node::End => at == self.text.len() && then(at, caps),
            Node::Backref(n) => {
                let Some((start, end)) = caps[*n] else {
                    return false;
                };
                let length = end - start;
                self.text.get(at..at + length) == Some(&self.text[start..end])
                    && then(at + length, caps)
            }
            Node::Group(n, inner) => {
                let saved = caps[*n];
                let matched = self.sequence(inner, at, caps, &mut |end, caps| {
                    let before = caps[*n];
                    caps[*n] = Some((at, end));
                    then(end, caps) || {
                        caps[*n] = before;
                        false
                    }
                });
                if !matched {
                    caps[*n] = saved;
                }
                matched
            }
        }
    }
}

/// `string : regex`.
fn regex_match(string: &str, regex: &str) -> Value {
    let pattern: Vec<char> = regex.chars().collect();
    let mut parser = RegexParser {
        chars: &pattern,
        at: 0,
        groups: 0,
    };
    let pieces = parser.sequence(0);
    let text: Vec<char> = string.chars().collect();
    let matcher = Matcher { text: &text };
    let mut caps: Captures = vec![None; parser.groups + 1];
    let mut end = None;
    matcher.sequence(&pieces, 0, &mut caps, &mut |at, _| {
        end = Some(at);
        true
    });
    if parser.groups == 0 {
        return Value::Int(end.map_or(0, |end| end as i128));
    }
    match (end, caps[1]) {
        (Some(_), Some((start, stop))) => Value::Str(text[start..stop].iter().collect()),
        _ => Value::Str(String::new()),
    }
}

fn main() {
    let mut args = args();
    // GNU takes a first `--` as the end of (no) options.
    if args.first().is_some_and(|first| first == "--") {
        args.remove(0);
    }
    if args.is_empty() {
        TOOL.usage_error("missing operand");
    }
    let mut parser = Parser { args, at: 0 };
    let value = parser.or();
    if let Some(extra) = parser.peek() {
        fail(&format!("syntax error: unexpected argument '{extra}'"));
    }
    let mut out = TOOL.output();
    out.put(value.text().as_bytes());
    out.put(b"\n");
    out.exit(i32::from(value.is_null()));
}
