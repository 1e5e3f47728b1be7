//! The command language of POSIX.1-2017 (XCU chapter 2): a lexer that turns text into words
//! (keeping track of what was quoted) and operators, and a recursive-descent parser that
//! builds lists of and-or chains of pipelines of commands: simple commands, the compound
//! commands (`{ }`, `( )`, `if`, `while`, `until`, `for`, `case`) and function definitions.
//! Words keep their parameter expansions (`${V:-x}`...), command substitutions (`$(...)`,
//! backquotes, parsed here too) and arithmetic (`$((...))`) for [`crate::expand`].
//! Here-document bodies are read after the newline that ends their command.
//! Input that stops in the middle of a construct (an open quote or `if`, a trailing `|`, a
//! here-document without its delimiter) is reported as [`ParseError::Incomplete`] so that
//! the caller can read another line and try again.

use std::cell::RefCell;
use std::rc::Rc;

/// One piece of a word, before expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Literal text; `quoted` text is neither split nor a pattern.
    Text { text: String, quoted: bool },
    /// A parameter: `$NAME`, `${NAME...}` or a special one (`?`, `$`, `!`, `#`, `@`, `*`,
    /// `-`, `0`-`9`), with what to do with its value.
    Param {
        name: String,
        op: ParamOp,
        quoted: bool,
    },
    /// `$(...)` or a backquoted command: its parsed program and its source text.
    Command {
        program: Program,
        text: String,
        quoted: bool,
    },
    /// `$((...))`: the expression, itself expanded (as in double quotes) before evaluation.
    Arith { expr: Word, quoted: bool },
    /// A leading unquoted `~`: the home directory.
    Tilde,
}

/// What `${NAME...}` does with the value of NAME.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamOp {
    /// `$NAME`, `${NAME}`.
    Plain,
    /// `${#NAME}`: the length in characters.
    Length,
    /// `${NAME-w}` `${NAME=w}` `${NAME?w}` `${NAME+w}`, and with `:` (`colon`) an empty value
    /// counts as unset.
    Test {
        kind: TestKind,
        colon: bool,
        word: Word,
    },
    /// `${NAME%p}` `${NAME%%p}` (`suffix`) and `${NAME#p}` `${NAME##p}`: the value without the
    /// shortest (or `longest`) part matching the pattern.
    Trim {
        suffix: bool,
        longest: bool,
        pattern: Word,
    },
}

/// The four tests of `${NAME:-w}` and its kin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestKind {
    /// `-`: the word if unset.
    Default,
    /// `=`: the word if unset, assigned to NAME.
    Assign,
    /// `?`: an error if unset.
    Error,
    /// `+`: the word if set.
    Alternative,
}

/// A word as written: the segments that expansion joins (and splits) into fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Word {
    /// Its pieces, in order.
    pub segments: Vec<Segment>,
}

impl Word {
    /// A word of unquoted literal text (for tests and callers building commands).
    pub fn literal(text: &str) -> Word {
        Word {
            segments: vec![Segment::Text {
                text: text.to_string(),
                quoted: false,
            }],
        }
    }

    /// The word's text if it is entirely unquoted literal text.
    pub fn plain(&self) -> Option<&str> {
        match self.segments.as_slice() {
            [
                Segment::Text {
                    text,
                    quoted: false,
                },
            ] => Some(text),
            _ => None,
        }
    }

    fn push_char(&mut self, c: char, quoted: bool) {
        if let Some(Segment::Text { text, quoted: q }) = self.segments.last_mut()
            && *q == quoted
        {
            text.push(c);
            return;
        }
        self.segments.push(Segment::Text {
            text: c.to_string(),
            quoted,
        });
    }

    /// Whether any part of it was quoted (a here-document delimiter so written keeps its
    /// body literal).
    fn has_quotes(&self) -> bool {
        self.segments.iter().any(|s| match s {
            Segment::Text { quoted, .. }
            | Segment::Param { quoted, .. }
            | Segment::Command { quoted, .. }
            | Segment::Arith { quoted, .. } => *quoted,
            Segment::Tilde => false,
        })
    }
}

/// What a redirection does with its file descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectOp {
    /// `<`: read from a file.
    Read,
    /// `>` (and `>|`): write to a file, truncating it.
    Write,
    /// `>>`: append to a file.
    Append,
    /// `<>`: open a file for reading and writing.
    ReadWrite,
    /// `<&` and `>&`: copy another descriptor (`2>&1`), or close it (`>&-`).
    Dup,
    /// `<<` and `<<-`: read a here-document.
    HereDoc,
}

/// A here-document's body, filled in when the lexer reaches the lines after its command.
pub type HereBody = Rc<RefCell<Word>>;

/// One redirection: `fd OP target`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// The descriptor redirected (0 for `<`, 1 for `>` unless written before the operator).
    pub fd: u32,
    /// What to do.
    pub op: RedirectOp,
    /// The file name, the descriptor number for [`RedirectOp::Dup`], or the delimiter of a
    /// here-document.
    pub target: Word,
    /// A here-document's body (expanded as in double quotes unless the delimiter was quoted).
    pub body: Option<HereBody>,
}

/// A simple command: assignments, words and redirections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Simple {
    /// `NAME=value` words before the command name.
    pub assignments: Vec<(String, Word)>,
    /// The command name and its arguments (empty for a command of assignments only).
    pub words: Vec<Word>,
    /// The redirections, in the order written.
    pub redirects: Vec<Redirect>,
    /// The line it starts on, counted from 1 at the start of the parsed text.
    pub line: usize,
}

/// One arm of a `case`: `pattern | pattern) body ;;`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseArm {
    /// The patterns, any of which selects the arm.
    pub patterns: Vec<Word>,
    /// What runs then.
    pub body: Program,
}

/// A compound command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Compound {
    /// `{ list; }`.
    Group(Program),
    /// `( list )`: run in a child shell; `text` is the list's source.
    Subshell { program: Program, text: String },
    /// `if c; then b; elif c; then b; else b; fi`.
    If {
        /// Each condition with its body, `if` first, then the `elif`s.
        branches: Vec<(Program, Program)>,
        /// The `else` body.
        otherwise: Option<Program>,
    },
    /// `while c; do b; done` and (`until`) `until c; do b; done`.
    Loop {
        until: bool,
        condition: Program,
        body: Program,
    },
    /// `for NAME [in WORDS]; do b; done`; without `in`, the positional parameters.
    For {
        name: String,
        words: Option<Vec<Word>>,
        body: Program,
    },
    /// `case WORD in arms esac`.
    Case { word: Word, arms: Vec<CaseArm> },
}

/// A command of a pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `NAME=v cmd args >redirects`.
    Simple(Simple),
    /// A compound command with the redirections written after it.
    Compound {
        body: Compound,
        redirects: Vec<Redirect>,
    },
    /// `name() compound`; `text` is the whole definition's source.
    Function {
        name: String,
        body: Rc<Command>,
        text: String,
    },
}

/// `[!] a | b | c`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pipeline {
    /// Whether `!` inverts its status.
    pub negated: bool,
    /// The stages, left to right (at least one).
    pub commands: Vec<Command>,
    /// The source text of each stage (a child shell runs a compound stage from it).
    pub texts: Vec<String>,
}

/// How a pipeline hangs on the previous one in an and-or chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connector {
    /// `&&`: run if the previous status was 0.
    And,
    /// `||`: run if it was not.
    Or,
}

/// `p1 && p2 || p3`, run in the foreground or (ending in `&`) in the background.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AndOr {
    /// The first pipeline.
    pub first: Pipeline,
    /// The others with their connectors.
    pub rest: Vec<(Connector, Pipeline)>,
    /// Whether it ended in `&`.
    pub background: bool,
    /// Its source text without the separator, as `jobs` shows it.
    pub text: String,
}

/// A parsed line (or script): and-or chains in order.
pub type Program = Vec<AndOr>;

/// Why text did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The text ends in the middle of a construct; more input may complete it.
    Incomplete,
    /// This token cannot appear where it does (`newline` for the end of a line), on this
    /// line (counted from 1).
    Unexpected { token: String, line: usize },
}

impl ParseError {
    /// The line the error is on, if known.
    pub fn line(&self) -> Option<usize> {
        match self {
            ParseError::Incomplete => None,
            ParseError::Unexpected { line, .. } => Some(*line),
        }
    }
}

/// Worded as dash words its syntax errors.
impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Incomplete => write!(f, "Syntax error: end of file unexpected"),
            ParseError::Unexpected { token, .. } if token == "newline" => {
                write!(f, "Syntax error: newline unexpected")
            }
            ParseError::Unexpected { token, .. } => {
                write!(f, "Syntax error: \"{token}\" unexpected")
            }
        }
    }
}

/// Control operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Pipe,
    AndIf,
    OrIf,
    Semi,
    DoubleSemi,
    Amp,
    Newline,
    Open,
    Close,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Pipe => "|",
            Op::AndIf => "&&",
            Op::OrIf => "||",
            Op::Semi => ";",
            Op::DoubleSemi => ";;",
            Op::Amp => "&",
            Op::Newline => "newline",
            Op::Open => "(",
            Op::Close => ")",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(Word),
    Op(Op),
    /// A redirection operator with its descriptor if one was written; `bool` is `<<-`.
    Redirect(Option<u32>, RedirectOp, bool),
}

/// A token and where it starts and ends in the source (char offsets).
type Spanned = (Token, usize, usize);

/// A here-document whose body the lexer reads after the next newline.
struct PendingHereDoc {
    delimiter: String,
    strip_tabs: bool,
    quoted: bool,
    body: HereBody,
}

struct Lexer {
    chars: Rc<[char]>,
    at: usize,
    /// Where the input ends (the whole text, or a here-document body's end).
    end: usize,
    here_docs: Vec<PendingHereDoc>,
}

fn is_meta(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '|' | '&' | ';' | '<' | '>' | '(' | ')'
    )
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `name` is a valid variable name.
pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

/// The special parameters after `$`.
const SPECIAL_PARAMS: &str = "?$!#@*-";

/// The reserved words, recognised where a command starts.
const RESERVED: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for", "{",
    "}", "!",
];

/// How a `\` inside text being read as in double quotes behaves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum QuoteMode {
    /// `"..."`: `\` escapes `$ \` " \` and newline.
    Double,
    /// A here-document body or an arithmetic expression: `\` escapes `$ \` \` and newline;
    /// the text ends at the end of input.
    Body,
}

impl Lexer {
    fn new(chars: Rc<[char]>, at: usize, end: usize) -> Lexer {
        Lexer {
            chars,
            at,
            end,
            here_docs: Vec::new(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        let at = self.at + ahead;
        if at < self.end {
            self.chars.get(at).copied()
        } else {
            None
        }
    }

    fn text(&self, start: usize, end: usize) -> String {
        self.chars[start..end].iter().collect()
    }

    /// Skips blanks, comments and line continuations; `Incomplete` if the text ends in one.
    fn skip_blanks(&mut self) -> Result<(), ParseError> {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r') => self.at += 1,
                Some('\\') if self.peek_at(1) == Some('\n') => {
                    self.at += 2;
                    if self.peek().is_none() {
                        return Err(ParseError::Incomplete);
                    }
                }
                Some('#') => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.at += 1;
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn next(&mut self) -> Result<Option<Spanned>, ParseError> {
        self.skip_blanks()?;
        let start = self.at;
        let Some(c) = self.peek() else {
            if !self.here_docs.is_empty() {
                return Err(ParseError::Incomplete);
            }
            return Ok(None);
        };
        let token = if is_meta(c) {
            self.at += 1;
            let next = self.peek();
            let mut take = |token| {
                self.at += 1;
                token
            };
            match (c, next) {
                ('\n', _) => {
                    self.read_here_docs()?;
                    Token::Op(Op::Newline)
                }
                ('|', Some('|')) => take(Token::Op(Op::OrIf)),
                ('|', _) => Token::Op(Op::Pipe),
                ('&', Some('&')) => take(Token::Op(Op::AndIf)),
                ('&', _) => Token::Op(Op::Amp),
                (';', Some(';')) => take(Token::Op(Op::DoubleSemi)),
                (';', _) => Token::Op(Op::Semi),
                ('<' | '>', _) => self.redirect_op(c, None),
                ('(', _) => Token::Op(Op::Open),
                _ => Token::Op(Op::Close),
            }
        } else {
            self.word()?
        };
        Ok(Some((token, start, self.at)))
    }

    /// The operator after `<` or `>` (already consumed), for descriptor `fd` if one was written.
    fn redirect_op(&mut self, first: char, fd: Option<u32>) -> Token {
        let op = match (first, self.peek()) {
            ('<', Some('<')) => {
                self.at += 1;
                let strip = self.peek() == Some('-');
                if strip {
                    self.at += 1;
                }
                return Token::Redirect(fd, RedirectOp::HereDoc, strip);
            }
            ('<', Some('>')) => RedirectOp::ReadWrite,
            ('>', Some('>')) => RedirectOp::Append,
            ('>', Some('|')) => RedirectOp::Write,
            (_, Some('&')) => RedirectOp::Dup,
            ('>', _) => return Token::Redirect(fd, RedirectOp::Write, false),
            _ => return Token::Redirect(fd, RedirectOp::Read, false),
        };
        self.at += 1;
        Token::Redirect(fd, op, false)
    }

    /// Reads the bodies of the here-documents started on the line just ended.
    fn read_here_docs(&mut self) -> Result<(), ParseError> {
        for doc in std::mem::take(&mut self.here_docs) {
            let mut body = String::new();
            loop {
                if self.peek().is_none() {
                    return Err(ParseError::Incomplete);
                }
                let start = self.at;
                while self.peek().is_some_and(|c| c != '\n') {
                    self.at += 1;
                }
                let mut line = self.text(start, self.at);
                let ended = self.peek().is_some();
                if ended {
                    self.at += 1;
                }
                if doc.strip_tabs {
                    line = line.trim_start_matches('\t').to_string();
                }
                if line == doc.delimiter {
                    break;
                }
                if !ended {
                    return Err(ParseError::Incomplete);
                }
                body.push_str(&line);
                body.push('\n');
            }
            let word = if doc.quoted {
                Word {
                    segments: vec![Segment::Text {
                        text: body,
                        quoted: true,
                    }],
                }
            } else {
                let chars: Rc<[char]> = body.chars().collect();
                let end = chars.len();
                let mut lexer = Lexer::new(chars, 0, end);
                let mut word = Word::default();
                lexer.quoted_text(&mut word, QuoteMode::Body)?;
                word
            };
            *doc.body.borrow_mut() = word;
        }
        Ok(())
    }

    fn word(&mut self) -> Result<Token, ParseError> {
        let mut word = Word::default();
        if self.peek() == Some('~') && self.peek_at(1).is_none_or(|c| c == '/' || is_meta(c)) {
            self.at += 1;
            word.segments.push(Segment::Tilde);
        }
        while let Some(c) = self.peek() {
            if is_meta(c) {
                if matches!(c, '<' | '>')
                    && let Some(digits) = word.plain()
                    && digits.len() <= 2
                    && digits.chars().all(|d| d.is_ascii_digit())
                {
                    let fd = digits.parse().unwrap_or(0);
                    self.at += 1;
                    return Ok(self.redirect_op(c, Some(fd)));
                }
                break;
            }
            self.word_char(&mut word, false)?;
        }
        Ok(Token::Word(word))
    }

    /// Reads one character (or quoted string, or expansion) of an unquoted word into `word`;
    /// inside `${...}` of a double-quoted word (`in_double`) single quotes are literal.
    fn word_char(&mut self, word: &mut Word, in_double: bool) -> Result<(), ParseError> {
        let Some(c) = self.peek() else {
            return Ok(());
        };
        self.at += 1;
        match c {
            '\'' if !in_double => {
                let start = self.at;
                while self.peek() != Some('\'') {
                    if self.peek().is_none() {
                        return Err(ParseError::Incomplete);
                    }
                    self.at += 1;
                }
                let text = self.text(start, self.at);
                self.at += 1;
                word.segments.push(Segment::Text { text, quoted: true });
            }
            '"' => {
                let before = word.segments.len();
                self.quoted_text(word, QuoteMode::Double)?;
                if word.segments.len() == before {
                    // `""` is still a (quoted, empty) field.
                    word.segments.push(Segment::Text {
                        text: String::new(),
                        quoted: true,
                    });
                }
            }
            '\\' => match self.peek() {
                None => word.push_char('\\', in_double),
                Some('\n') => {
                    self.at += 1;
                    if self.peek().is_none() {
                        return Err(ParseError::Incomplete);
                    }
                }
                Some(escaped) => {
                    self.at += 1;
                    word.push_char(escaped, true);
                }
            },
            '$' => self.dollar(word, in_double)?,
            '`' => self.backquote(word, in_double)?,
            _ => word.push_char(c, in_double),
        }
        Ok(())
    }

    /// Text read as in double quotes (the opening quote consumed) up to the closing quote,
    /// or (in [`QuoteMode::Body`]) to the end of input.
    fn quoted_text(&mut self, word: &mut Word, mode: QuoteMode) -> Result<(), ParseError> {
        loop {
            let Some(c) = self.peek() else {
                return match mode {
                    QuoteMode::Double => Err(ParseError::Incomplete),
                    QuoteMode::Body => Ok(()),
                };
            };
            self.at += 1;
            match c {
                '"' if mode == QuoteMode::Double => return Ok(()),
                '\\' => match self.peek() {
                    None if mode == QuoteMode::Double => return Err(ParseError::Incomplete),
                    Some('\n') => self.at += 1,
                    Some(e @ ('$' | '`' | '\\')) => {
                        self.at += 1;
                        word.push_char(e, true);
                    }
                    Some('"') if mode == QuoteMode::Double => {
                        self.at += 1;
                        word.push_char('"', true);
                    }
                    _ => word.push_char('\\', true),
                },
                '$' => self.dollar(word, true)?,
                '`' => self.backquote(word, true)?,
                _ => word.push_char(c, true),
            }
        }
    }

    /// A command substitution in backquotes (the opening one consumed).
    fn backquote(&mut self, word: &mut Word, quoted: bool) -> Result<(), ParseError> {
        let mut inner = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(ParseError::Incomplete);
            };
            self.at += 1;
            match c {
                '`' => break,
                '\\' => match self.peek() {
                    Some(e @ ('$' | '`' | '\\')) => {
                        self.at += 1;
                        inner.push(e);
                    }
                    Some('"') if quoted => {
                        self.at += 1;
                        inner.push('"');
                    }
                    _ => inner.push('\\'),
                },
                _ => inner.push(c),
            }
        }
        let program = parse(&inner)?;
        word.segments.push(Segment::Command {
            program,
            text: inner,
            quoted,
        });
        Ok(())
    }

    /// An expansion after `$` (consumed), or a literal `$` if none follows.
    fn dollar(&mut self, word: &mut Word, quoted: bool) -> Result<(), ParseError> {
        match self.peek() {
            Some('(') if self.peek_at(1) == Some('(') => self.arithmetic(word, quoted),
            Some('(') => {
                self.at += 1;
                let start = self.at;
                let mut parser = Parser::new(Lexer::new(self.chars.clone(), start, self.end));
                let program = parser.list(&[])?;
                match parser.take()? {
                    Some((Token::Op(Op::Close), close, end)) => {
                        self.at = end;
                        word.segments.push(Segment::Command {
                            program,
                            text: self.text(start, close),
                            quoted,
                        });
                        Ok(())
                    }
                    None => Err(ParseError::Incomplete),
                    Some(other) => Err(parser.unexpected(Some(&other))),
                }
            }
            Some('{') => {
                self.at += 1;
                self.braced(word, quoted)
            }
            Some(c) if SPECIAL_PARAMS.contains(c) || c.is_ascii_digit() => {
                self.at += 1;
                word.segments.push(Segment::Param {
                    name: c.to_string(),
                    op: ParamOp::Plain,
                    quoted,
                });
                Ok(())
            }
            Some(c) if is_name_start(c) => {
                let start = self.at;
                while self.peek().is_some_and(is_name_char) {
                    self.at += 1;
                }
                word.segments.push(Segment::Param {
                    name: self.text(start, self.at),
                    op: ParamOp::Plain,
                    quoted,
                });
                Ok(())
            }
            _ => {
                word.push_char('$', quoted);
                Ok(())
            }
        }
    }

    /// `$((expr))` after the `$` (consumed).
    fn arithmetic(&mut self, word: &mut Word, quoted: bool) -> Result<(), ParseError> {
        self.at += 2;
        let start = self.at;
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return Err(ParseError::Incomplete),
                Some('(') => depth += 1,
                Some(')') if depth == 0 => {
                    if self.peek_at(1) != Some(')') {
                        return Err(self.unexpected_here(")"));
                    }
                    break;
                }
                Some(')') => depth -= 1,
                _ => {}
            }
            self.at += 1;
        }
        let end = self.at;
        self.at += 2;
        let mut lexer = Lexer::new(self.chars.clone(), start, end);
        let mut expr = Word::default();
        lexer.quoted_text(&mut expr, QuoteMode::Body)?;
        word.segments.push(Segment::Arith { expr, quoted });
        Ok(())
    }

    fn unexpected_here(&self, token: &str) -> ParseError {
        ParseError::Unexpected {
            token: token.into(),
            line: line_of(&self.chars, self.at),
        }
    }

    /// `${...}` after the `{` (consumed).
    fn braced(&mut self, word: &mut Word, quoted: bool) -> Result<(), ParseError> {
        let length = self.peek() == Some('#')
            && self
                .peek_at(1)
                .is_some_and(|c| c != '}' && (is_name_char(c) || SPECIAL_PARAMS.contains(c)));
        if length {
            self.at += 1;
        }
        let start = self.at;
        match self.peek() {
            Some(c) if is_name_start(c) => {
                while self.peek().is_some_and(is_name_char) {
                    self.at += 1;
                }
            }
            Some(c) if c.is_ascii_digit() => {
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.at += 1;
                }
            }
            Some(c) if SPECIAL_PARAMS.contains(c) => self.at += 1,
            None => return Err(ParseError::Incomplete),
            Some(_) => return Err(self.bad_substitution(start)),
        }
        let name = self.text(start, self.at);
        let Some(c) = self.peek() else {
            return Err(ParseError::Incomplete);
        };
        self.at += 1;
        let op = if c == '}' {
            if length {
                ParamOp::Length
            } else {
                ParamOp::Plain
            }
        } else if length {
            return Err(self.bad_substitution(start));
        } else {
            let colon = c == ':';
            let op_char = if colon {
                let Some(next) = self.peek() else {
                    return Err(ParseError::Incomplete);
                };
                self.at += 1;
                next
            } else {
                c
            };
            let kind = match op_char {
                '-' => Some(TestKind::Default),
                '=' => Some(TestKind::Assign),
                '?' => Some(TestKind::Error),
                '+' => Some(TestKind::Alternative),
                _ => None,
            };
            match (kind, op_char) {
                (Some(kind), _) => ParamOp::Test {
                    kind,
                    colon,
                    word: self.brace_word(quoted)?,
                },
                (None, '%' | '#') if !colon => {
                    let longest = self.peek() == Some(op_char);
                    if longest {
                        self.at += 1;
                    }
                    ParamOp::Trim {
                        suffix: op_char == '%',
                        longest,
                        // A pattern is matched as written, whatever quotes surround it.
                        pattern: self.brace_word(false)?,
                    }
                }
                _ => return Err(self.bad_substitution(start)),
            }
        };
        word.segments.push(Segment::Param { name, op, quoted });
        Ok(())
    }

    /// The word inside `${NAME-word}` up to the closing brace (consumed).
    fn brace_word(&mut self, in_double: bool) -> Result<Word, ParseError> {
        let mut word = Word::default();
        loop {
            match self.peek() {
                None => return Err(ParseError::Incomplete),
                Some('}') => {
                    self.at += 1;
                    return Ok(word);
                }
                Some(_) => self.word_char(&mut word, in_double)?,
            }
        }
    }

    fn bad_substitution(&self, start: usize) -> ParseError {
        let mut end = start;
        while self.chars.get(end).is_some_and(|&c| c != '}' && c != '\n') {
            end += 1;
        }
        ParseError::Unexpected {
            token: format!("${{{}}}", self.text(start, end)),
            line: line_of(&self.chars, start),
        }
    }
}

/// The line (from 1) of char offset `at`.
fn line_of(chars: &[char], at: usize) -> usize {
    1 + chars[..at.min(chars.len())]
        .iter()
        .filter(|&&c| c == '\n')
        .count()
}

struct Parser {
    lexer: Lexer,
    peeked: Option<Option<Spanned>>,
    /// Where the last token taken ends.
    last_end: usize,
    /// A cache for [`Parser::line`]: a char offset and its line.
    line_cache: (usize, usize),
}

impl Parser {
    fn new(lexer: Lexer) -> Parser {
        let start = lexer.at;
        Parser {
            line_cache: (start, line_of(&lexer.chars, start)),
            lexer,
            peeked: None,
            last_end: start,
        }
    }

    /// The line of char offset `at` (offsets asked for mostly grow, so counting goes on
    /// from the last one).
    fn line(&mut self, at: usize) -> usize {
        let (from, line) = self.line_cache;
        let line = if at >= from {
            line + self.lexer.chars[from..at]
                .iter()
                .filter(|&&c| c == '\n')
                .count()
        } else {
            line_of(&self.lexer.chars, at)
        };
        self.line_cache = (at, line);
        line
    }

    fn peek(&mut self) -> Result<Option<&Spanned>, ParseError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next()?);
        }
        Ok(self.peeked.as_ref().and_then(|t| t.as_ref()))
    }

    fn take(&mut self) -> Result<Option<Spanned>, ParseError> {
        self.peek()?;
        let token = self.peeked.take().flatten();
        if let Some((_, _, end)) = &token {
            self.last_end = *end;
        }
        Ok(token)
    }

    fn peek_op(&mut self) -> Result<Option<Op>, ParseError> {
        Ok(match self.peek()? {
            Some((Token::Op(op), _, _)) => Some(*op),
            _ => None,
        })
    }

    /// The peeked token if it is the unquoted word `word` (a reserved word where one can be).
    fn peek_reserved(&mut self) -> Result<Option<&'static str>, ParseError> {
        Ok(match self.peek()? {
            Some((Token::Word(w), _, _)) => w
                .plain()
                .and_then(|text| RESERVED.iter().chain(&["in"]).find(|r| **r == text))
                .copied(),
            _ => None,
        })
    }

    fn skip_newlines(&mut self) -> Result<(), ParseError> {
        while self.peek_op()? == Some(Op::Newline) {
            self.take()?;
        }
        Ok(())
    }

    fn unexpected(&mut self, token: Option<&Spanned>) -> ParseError {
        let Some((token, start, end)) = token else {
            return ParseError::Incomplete;
        };
        let name = match token {
            Token::Op(op) => op.name().to_string(),
            _ => self.lexer.text(*start, *end),
        };
        let line = self.line(*start);
        ParseError::Unexpected { token: name, line }
    }

    /// The error for the peeked token (end of input: incomplete).
    fn unexpected_peeked(&mut self) -> ParseError {
        let token = self.peek().ok().flatten().cloned();
        self.unexpected(token.as_ref())
    }

    /// Takes reserved word `word`, or fails.
    fn expect(&mut self, word: &str) -> Result<(), ParseError> {
        if self.peek_reserved()? == Some(word) {
            self.take()?;
            Ok(())
        } else {
            Err(self.unexpected_peeked())
        }
    }

    /// A list of and-or chains separated by `;`, `&` or newlines, up to the end of input,
    /// `)`, `;;` or one of the reserved words `ends` where a command would start.
    fn list(&mut self, ends: &[&str]) -> Result<Program, ParseError> {
        let mut program = Vec::new();
        loop {
            self.skip_newlines()?;
            match self.peek()? {
                None => return Ok(program),
                Some((Token::Op(Op::Close | Op::DoubleSemi), _, _)) => return Ok(program),
                _ => {}
            }
            if let Some(word) = self.peek_reserved()?
                && ends.contains(&word)
            {
                return Ok(program);
            }
            let start = self.peek()?.map_or(0, |t| t.1);
            let mut and_or = self.and_or()?;
            and_or.text = self.lexer.text(start, self.last_end);
            match self.peek_op()? {
                Some(Op::Amp) => {
                    self.take()?;
                    and_or.background = true;
                }
                Some(Op::Semi | Op::Newline) => {
                    self.take()?;
                }
                Some(Op::Close | Op::DoubleSemi) => {}
                None if self.peek()?.is_none() => {}
                None if self
                    .peek_reserved()?
                    .is_some_and(|word| ends.contains(&word)) => {}
                _ => return Err(self.unexpected_peeked()),
            }
            program.push(and_or);
        }
    }

    /// A list that must not be empty, ended by one of `ends`.
    fn body(&mut self, ends: &[&str]) -> Result<Program, ParseError> {
        let program = self.list(ends)?;
        if program.is_empty() {
            return Err(self.unexpected_peeked());
        }
        Ok(program)
    }

    fn and_or(&mut self) -> Result<AndOr, ParseError> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        while let Some(op @ (Op::AndIf | Op::OrIf)) = self.peek_op()? {
            self.take()?;
            self.skip_newlines()?;
            let connector = if op == Op::AndIf {
                Connector::And
            } else {
                Connector::Or
            };
            rest.push((connector, self.pipeline()?));
        }
        Ok(AndOr {
            first,
            rest,
            background: false,
            text: String::new(),
        })
    }

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        let mut pipeline = Pipeline::default();
        if self.peek_reserved()? == Some("!") {
            self.take()?;
            pipeline.negated = true;
        }
        loop {
            let start = match self.peek()? {
                Some((_, start, _)) => *start,
                None => return Err(ParseError::Incomplete),
            };
            let command = self.command()?;
            pipeline.commands.push(command);
            pipeline.texts.push(self.lexer.text(start, self.last_end));
            if self.peek_op()? != Some(Op::Pipe) {
                return Ok(pipeline);
            }
            self.take()?;
            self.skip_newlines()?;
        }
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        let body = match self.peek_reserved()? {
            Some("{") => {
                self.take()?;
                let program = self.body(&["}"])?;
                self.expect("}")?;
                Compound::Group(program)
            }
            Some("if") => self.if_command()?,
            Some(word @ ("while" | "until")) => {
                self.take()?;
                let condition = self.body(&["do"])?;
                let body = self.do_group()?;
                Compound::Loop {
                    until: word == "until",
                    condition,
                    body,
                }
            }
            Some("for") => self.for_command()?,
            Some("case") => self.case_command()?,
            Some("in") | None => {
                if self.peek_op()? == Some(Op::Open) {
                    self.take()?;
                    let start = self.last_end;
                    let program = self.body(&[])?;
                    let end = match self.peek()? {
                        Some((Token::Op(Op::Close), start, _)) => *start,
                        _ => return Err(self.unexpected_peeked()),
                    };
                    self.take()?;
                    Compound::Subshell {
                        program,
                        text: self.lexer.text(start, end),
                    }
                } else {
                    return self.simple();
                }
            }
            Some(_) => return Err(self.unexpected_peeked()),
        };
        let redirects = self.redirects()?;
        Ok(Command::Compound { body, redirects })
    }

    /// The redirections after a compound command.
    fn redirects(&mut self) -> Result<Vec<Redirect>, ParseError> {
        let mut redirects = Vec::new();
        while let Some((Token::Redirect(..), _, _)) = self.peek()? {
            let Some((Token::Redirect(fd, op, strip), _, _)) = self.take()? else {
                unreachable!("peeked a redirection");
            };
            redirects.push(self.redirect(fd, op, strip)?);
        }
        Ok(redirects)
    }

    /// `do list done`.
    fn do_group(&mut self) -> Result<Program, ParseError> {
        self.skip_newlines()?;
        self.expect("do")?;
        let body = self.body(&["done"])?;
        self.expect("done")?;
        Ok(body)
    }

    fn if_command(&mut self) -> Result<Compound, ParseError> {
        self.take()?;
        let mut branches = Vec::new();
        let mut otherwise = None;
        loop {
            let condition = self.body(&["then"])?;
            self.expect("then")?;
            let body = self.body(&["elif", "else", "fi"])?;
            branches.push((condition, body));
            match self.peek_reserved()? {
                Some("elif") => {
                    self.take()?;
                }
                Some("else") => {
                    self.take()?;
                    otherwise = Some(self.body(&["fi"])?);
                    self.expect("fi")?;
                    break;
                }
                _ => {
                    self.expect("fi")?;
                    break;
                }
            }
        }
        Ok(Compound::If {
            branches,
            otherwise,
        })
    }

    fn for_command(&mut self) -> Result<Compound, ParseError> {
        self.take()?;
        let name = match self.take()? {
            Some((Token::Word(word), _, _)) if word.plain().is_some_and(is_name) => {
                word.plain().unwrap_or_default().to_string()
            }
            other => return Err(self.unexpected(other.as_ref())),
        };
        self.skip_newlines()?;
        let mut words = None;
        if self.peek_reserved()? == Some("in") {
            self.take()?;
            let mut list = Vec::new();
            while let Some((Token::Word(_), _, _)) = self.peek()? {
                if let Some((Token::Word(word), _, _)) = self.take()? {
                    list.push(word);
                }
            }
            match self.peek_op()? {
                Some(Op::Semi | Op::Newline) => {
                    self.take()?;
                }
                _ => return Err(self.unexpected_peeked()),
            }
            words = Some(list);
        } else if self.peek_op()? == Some(Op::Semi) {
            self.take()?;
        }
        let body = self.do_group()?;
        Ok(Compound::For { name, words, body })
    }

    fn case_command(&mut self) -> Result<Compound, ParseError> {
        self.take()?;
        let word = match self.take()? {
            Some((Token::Word(word), _, _)) => word,
            other => return Err(self.unexpected(other.as_ref())),
        };
        self.skip_newlines()?;
        self.expect("in")?;
        let mut arms = Vec::new();
        loop {
            self.skip_newlines()?;
            if self.peek_reserved()? == Some("esac") {
                self.take()?;
                break;
            }
            if self.peek_op()? == Some(Op::Open) {
                self.take()?;
            }
            let mut patterns = Vec::new();
            loop {
                match self.take()? {
                    Some((Token::Word(word), _, _)) => patterns.push(word),
                    other => return Err(self.unexpected(other.as_ref())),
                }
                match self.take()? {
                    Some((Token::Op(Op::Pipe), _, _)) => {}
                    Some((Token::Op(Op::Close), _, _)) => break,
                    other => return Err(self.unexpected(other.as_ref())),
                }
            }
            let body = self.list(&["esac"])?;
            arms.push(CaseArm { patterns, body });
            if self.peek_op()? == Some(Op::DoubleSemi) {
                self.take()?;
            } else if self.peek_reserved()? != Some("esac") {
                return Err(self.unexpected_peeked());
            }
        }
        Ok(Compound::Case { word, arms })
    }

    /// The target of a redirection whose operator was just taken.
    fn redirect(
        &mut self,
        fd: Option<u32>,
        op: RedirectOp,
        strip_tabs: bool,
    ) -> Result<Redirect, ParseError> {
        let target = match self.take()? {
            Some((Token::Word(target), _, _)) => target,
            other => return Err(self.unexpected(other.as_ref())),
        };
        let reads = matches!(
            op,
            RedirectOp::Read | RedirectOp::HereDoc | RedirectOp::ReadWrite
        );
        let mut redirect = Redirect {
            fd: fd.unwrap_or(u32::from(!reads)),
            op,
            target,
            body: None,
        };
        if op == RedirectOp::HereDoc {
            let body = HereBody::default();
            self.lexer.here_docs.push(PendingHereDoc {
                delimiter: unquoted_text(&redirect.target),
                strip_tabs,
                quoted: redirect.target.has_quotes(),
                body: body.clone(),
            });
            redirect.body = Some(body);
        }
        Ok(redirect)
    }

    fn simple(&mut self) -> Result<Command, ParseError> {
        let start = self.peek()?.map_or(0, |t| t.1);
        let line = self.line(start);
        let mut command = Simple {
            line,
            ..Simple::default()
        };
        let mut empty = true;
        loop {
            match self.peek()? {
                Some((Token::Word(_), _, _)) => {
                    let Some((Token::Word(word), _, _)) = self.take()? else {
                        unreachable!("peeked a word");
                    };
                    empty = false;
                    if command.words.is_empty()
                        && command.assignments.is_empty()
                        && command.redirects.is_empty()
                        && self.peek_op()? == Some(Op::Open)
                        && let Some(name) = word.plain().filter(|n| is_name(n))
                    {
                        return self.function(name.to_string(), start);
                    }
                    match assignment(&word) {
                        Some(pair) if command.words.is_empty() => command.assignments.push(pair),
                        _ => command.words.push(word),
                    }
                }
                Some((Token::Redirect(..), _, _)) => {
                    let Some((Token::Redirect(fd, op, strip), _, _)) = self.take()? else {
                        unreachable!("peeked a redirection");
                    };
                    empty = false;
                    command.redirects.push(self.redirect(fd, op, strip)?);
                }
                _ => {
                    if empty {
                        return Err(self.unexpected_peeked());
                    }
                    return Ok(Command::Simple(command));
                }
            }
        }
    }

    /// `name() compound-command [redirections]` after the name (taken).
    fn function(&mut self, name: String, start: usize) -> Result<Command, ParseError> {
        self.take()?;
        match self.take()? {
            Some((Token::Op(Op::Close), _, _)) => {}
            other => return Err(self.unexpected(other.as_ref())),
        }
        self.skip_newlines()?;
        let body = match self.peek_reserved()? {
            Some("{" | "if" | "while" | "until" | "for" | "case") => self.command()?,
            None if self.peek_op()? == Some(Op::Open) => self.command()?,
            _ => return Err(self.unexpected_peeked()),
        };
        Ok(Command::Function {
            name,
            body: Rc::new(body),
            text: self.lexer.text(start, self.last_end),
        })
    }
}

/// A here-document delimiter's text with its quotes removed.
fn unquoted_text(word: &Word) -> String {
    let mut text = String::new();
    for segment in &word.segments {
        match segment {
            Segment::Text { text: t, .. } => text.push_str(t),
            Segment::Param { name, .. } => {
                text.push('$');
                text.push_str(name);
            }
            Segment::Command { text: t, .. } => {
                text.push_str("$(");
                text.push_str(t);
                text.push(')');
            }
            Segment::Arith { .. } => text.push_str("$((...))"),
            Segment::Tilde => text.push('~'),
        }
    }
    text
}

/// `NAME=value` split into the name and the value's word, if `word` is an assignment.
fn assignment(word: &Word) -> Option<(String, Word)> {
    let Some(Segment::Text {
        text,
        quoted: false,
    }) = word.segments.first()
    else {
        return None;
    };
    let (name, value) = text.split_once('=')?;
    if !is_name(name) {
        return None;
    }
    let mut segments = Vec::new();
    if !value.is_empty() {
        segments.push(Segment::Text {
            text: value.to_string(),
            quoted: false,
        });
    }
    segments.extend(word.segments[1..].iter().cloned());
    Some((name.to_string(), Word { segments }))
}

/// A script parsed command by command, as POSIX shells run it: each complete command — the
/// and-or lists up to the first newline outside a construct, with their here-documents — is
/// parsed when the previous one has run, in one pass over the text.
pub struct Script {
    chars: Rc<[char]>,
    at: usize,
    /// The line (from 1) that `at` is on.
    line: usize,
}

impl Script {
    pub fn new(source: &str) -> Script {
        Script {
            chars: source.chars().collect(),
            at: 0,
            line: 1,
        }
    }

    /// The next complete command, `None` at the end of the text. Lines (in commands and
    /// errors) count from the start of the script.
    pub fn next_command(&mut self) -> Result<Option<Program>, ParseError> {
        let end = self.chars.len();
        let mut parser = Parser::new(Lexer::new(self.chars.clone(), self.at, end));
        parser.line_cache = (self.at, self.line);
        let mut program = Vec::new();
        parser.skip_newlines()?;
        while parser.peek()?.is_some() {
            let start = parser.peek()?.map_or(0, |t| t.1);
            let mut and_or = parser.and_or()?;
            and_or.text = parser.lexer.text(start, parser.last_end);
            let newline = match parser.peek_op()? {
                Some(Op::Amp) => {
                    parser.take()?;
                    and_or.background = true;
                    false
                }
                Some(Op::Semi) => {
                    parser.take()?;
                    false
                }
                Some(Op::Newline) => {
                    parser.take()?;
                    true
                }
                None if parser.peek()?.is_none() => true,
                _ => return Err(parser.unexpected_peeked()),
            };
            program.push(and_or);
            if newline || parser.peek_op()? == Some(Op::Newline) {
                if !newline {
                    parser.take()?;
                }
                break;
            }
        }
        // Nothing is peeked past the newline taken: the lexer stands after it (and after
        // the bodies of its here-documents).
        let next = parser.lexer.at.min(end);
        self.line += self.chars[self.at..next]
            .iter()
            .filter(|&&c| c == '\n')
            .count();
        self.at = next;
        Ok((!program.is_empty()).then_some(program))
    }

    /// The line after the script's last: where the end of input is.
    pub fn end_line(&self) -> usize {
        1 + self.chars.iter().filter(|&&c| c == '\n').count()
    }
}

/// Parses `source` (one or more lines, a whole script).
pub fn parse(source: &str) -> Result<Program, ParseError> {
    let chars: Rc<[char]> = source.chars().collect();
    let end = chars.len();
    let mut parser = Parser::new(Lexer::new(chars, 0, end));
    let program = parser.list(&[])?;
    match parser.peek()? {
        None => Ok(program),
        Some(token) => {
            let token = token.clone();
            Err(parser.unexpected(Some(&token)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(text: &str, quoted: bool) -> Segment {
        Segment::Text {
            text: text.into(),
            quoted,
        }
    }

    fn param(name: &str, quoted: bool) -> Segment {
        Segment::Param {
            name: name.into(),
            op: ParamOp::Plain,
            quoted,
        }
    }

    /// The only command of `source`, which must be simple.
    fn one(source: &str) -> Simple {
        let program = parse(source).unwrap();
        assert_eq!(program.len(), 1, "{source}");
        match &program[0].first.commands[..] {
            [Command::Simple(simple)] => simple.clone(),
            other => panic!("{source}: {other:?}"),
        }
    }

    /// The only command of `source`, which must be compound.
    fn compound(source: &str) -> Compound {
        let program = parse(source).unwrap();
        match &program[0].first.commands[..] {
            [Command::Compound { body, .. }] => body.clone(),
            other => panic!("{source}: {other:?}"),
        }
    }

    fn error(source: &str) -> String {
        match parse(source) {
            Err(ParseError::Unexpected { token, .. }) => token,
            other => panic!("{source}: {other:?}"),
        }
    }

    /// The words of the simple commands of `program`, in order, as plain text.
    fn words(program: &Program) -> Vec<String> {
        let mut out = Vec::new();
        for and_or in program {
            for pipeline in std::iter::once(&and_or.first).chain(and_or.rest.iter().map(|r| &r.1)) {
                for command in &pipeline.commands {
                    if let Command::Simple(simple) = command {
                        out.push(
                            simple
                                .words
                                .iter()
                                .map(|w| w.plain().unwrap_or("?"))
                                .collect::<Vec<_>>()
                                .join(" "),
                        );
                    }
                }
            }
        }
        out
    }

    #[test]
    fn quoting() {
        let command = one(r#"echo 'a b' "c $X d" e\ f '' "" \$A"#);
        assert_eq!(command.words[1].segments, vec![text("a b", true)]);
        assert_eq!(
            command.words[2].segments,
            vec![text("c ", true), param("X", true), text(" d", true)]
        );
        assert_eq!(
            command.words[3].segments,
            vec![text("e", false), text(" ", true), text("f", false)]
        );
        assert_eq!(command.words[4].segments, vec![text("", true)]);
        assert_eq!(command.words[5].segments, vec![text("", true)]);
        assert_eq!(
            command.words[6].segments,
            vec![text("$", true), text("A", false)]
        );
        assert_eq!(
            one(r#"echo "a\"b\c""#).words[1].segments,
            vec![text("a\"b\\c", true)]
        );
        assert_eq!(one("echo \"$@\"").words[1].segments, vec![param("@", true)]);
    }

    #[test]
    fn parameters() {
        let segments = |source: &str| one(&format!("echo {source}")).words[1].segments.clone();
        assert_eq!(segments("$10"), vec![param("1", false), text("0", false)]);
        assert_eq!(segments("${10}"), vec![param("10", false)]);
        assert_eq!(
            segments("$#$?$$"),
            vec![param("#", false), param("?", false), param("$", false)]
        );
        assert_eq!(
            segments("${#V}"),
            vec![Segment::Param {
                name: "V".into(),
                op: ParamOp::Length,
                quoted: false
            }]
        );
        assert_eq!(
            segments("${V:-a b}"),
            vec![Segment::Param {
                name: "V".into(),
                op: ParamOp::Test {
                    kind: TestKind::Default,
                    colon: true,
                    word: Word {
                        segments: vec![text("a b", false)]
                    }
                },
                quoted: false
            }]
        );
        for (source, kind, colon) in [
            ("${V=x}", TestKind::Assign, false),
            ("${V:?x}", TestKind::Error, true),
            ("${V+x}", TestKind::Alternative, false),
        ] {
            assert!(
                matches!(&segments(source)[0], Segment::Param { op: ParamOp::Test { kind: k, colon: c, .. }, .. } if *k == kind && *c == colon),
                "{source}"
            );
        }
        for (source, suffix, longest) in [
            ("${V%.*}", true, false),
            ("${V%%.*}", true, true),
            ("${V#*/}", false, false),
            ("${V##*/}", false, true),
        ] {
            assert!(
                matches!(&segments(source)[0], Segment::Param { op: ParamOp::Trim { suffix: s, longest: l, .. }, .. } if *s == suffix && *l == longest),
                "{source}"
            );
        }
        assert_eq!(error("echo ${V/x}"), "${V/x}");
        assert_eq!(parse("echo ${V:-"), Err(ParseError::Incomplete));
    }

    #[test]
    fn command_substitution() {
        let command = one("echo $(echo a; echo b) \"`echo c`\"");
        match &command.words[1].segments[..] {
            [
                Segment::Command {
                    program,
                    text,
                    quoted: false,
                },
            ] => {
                assert_eq!(text, "echo a; echo b");
                assert_eq!(words(program), ["echo a", "echo b"]);
            }
            other => panic!("{other:?}"),
        }
        match &command.words[2].segments[..] {
            [
                Segment::Command {
                    text, quoted: true, ..
                },
            ] => assert_eq!(text, "echo c"),
            other => panic!("{other:?}"),
        }
        // A `)` of a case pattern does not end the substitution.
        let command = one("x=$(case a in a) echo y;; esac)");
        assert!(matches!(
            &command.assignments[0].1.segments[..],
            [Segment::Command { .. }]
        ));
        assert_eq!(parse("echo $(echo"), Err(ParseError::Incomplete));
        assert_eq!(parse("echo `echo"), Err(ParseError::Incomplete));
    }

    #[test]
    fn arithmetic() {
        let command = one("echo $((1 + $X * (2)))");
        match &command.words[1].segments[..] {
            [
                Segment::Arith {
                    expr,
                    quoted: false,
                },
            ] => assert_eq!(
                expr.segments,
                vec![text("1 + ", true), param("X", true), text(" * (2)", true)]
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(parse("echo $((1 +"), Err(ParseError::Incomplete));
    }

    #[test]
    fn compound_commands() {
        match compound("if a; then b; elif c\nthen d; else e; fi") {
            Compound::If {
                branches,
                otherwise,
            } => {
                assert_eq!(branches.len(), 2);
                assert_eq!(words(&branches[1].0), ["c"]);
                assert_eq!(words(&otherwise.unwrap()), ["e"]);
            }
            other => panic!("{other:?}"),
        }
        match compound("while a\ndo b; c; done") {
            Compound::Loop {
                until: false,
                condition,
                body,
            } => {
                assert_eq!(words(&condition), ["a"]);
                assert_eq!(words(&body), ["b", "c"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            compound("until a; do b; done"),
            Compound::Loop { until: true, .. }
        ));
        match compound("for i in 1 2 $X; do echo $i; done") {
            Compound::For {
                name,
                words: Some(list),
                ..
            } => {
                assert_eq!(name, "i");
                assert_eq!(list.len(), 3);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            compound("for i; do :; done"),
            Compound::For { words: None, .. }
        ));
        assert!(matches!(
            compound("for i\ndo :; done"),
            Compound::For { words: None, .. }
        ));
        match compound("case $x in\n a|b) one;;\n (c*) two ;;\n *) ;; esac") {
            Compound::Case { arms, .. } => {
                assert_eq!(arms.len(), 3);
                assert_eq!(arms[0].patterns.len(), 2);
                assert_eq!(words(&arms[1].body), ["two"]);
                assert!(arms[2].body.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(compound("case x in esac"), Compound::Case { arms, .. } if arms.is_empty())
        );
        match compound("{ a; b; } > out") {
            Compound::Group(program) => assert_eq!(words(&program), ["a", "b"]),
            other => panic!("{other:?}"),
        }
        let program = parse("{ a; } >out 2>&1").unwrap();
        assert!(
            matches!(&program[0].first.commands[0], Command::Compound { redirects, .. } if redirects.len() == 2)
        );
        match compound("(cd /; ls)") {
            Compound::Subshell { program, text } => {
                assert_eq!(text, "cd /; ls");
                assert_eq!(words(&program), ["cd /", "ls"]);
            }
            other => panic!("{other:?}"),
        }
        // Reserved words are words elsewhere.
        assert_eq!(
            words(&parse("echo if then done }").unwrap()),
            ["echo if then done }"]
        );
    }

    #[test]
    fn functions() {
        let program = parse("greet() { echo hi $1; }\ngreet you").unwrap();
        match &program[0].first.commands[0] {
            Command::Function { name, body, text } => {
                assert_eq!(name, "greet");
                assert_eq!(text, "greet() { echo hi $1; }");
                assert!(matches!(
                    **body,
                    Command::Compound {
                        body: Compound::Group(_),
                        ..
                    }
                ));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            &parse("f()\n(echo)").unwrap()[0].first.commands[0],
            Command::Function { .. }
        ));
        assert_eq!(error("f() echo"), "echo");
    }

    #[test]
    fn here_documents() {
        let program =
            parse("cat <<EOF; cat <<-'END'\nhello $X\n\\$y\nEOF\n\tquoted $X\n\tEND\necho after")
                .unwrap();
        let body = |i: usize| match &program[0].first.commands[0] {
            _ if i == 0 => match &program[0].first.commands[0] {
                Command::Simple(s) => s.redirects[0].body.clone().unwrap().borrow().clone(),
                _ => unreachable!(),
            },
            _ => match &program[1].first.commands[0] {
                Command::Simple(s) => s.redirects[0].body.clone().unwrap().borrow().clone(),
                _ => unreachable!(),
            },
        };
        assert_eq!(
            body(0).segments,
            vec![text("hello ", true), param("X", true), text("\n$y\n", true)]
        );
        assert_eq!(body(1).segments, vec![text("quoted $X\n", true)]);
        assert_eq!(words(&program), ["cat", "cat", "echo after"]);
        assert_eq!(parse("cat <<EOF\nabc\n"), Err(ParseError::Incomplete));
        assert_eq!(parse("cat <<EOF"), Err(ParseError::Incomplete));
    }

    #[test]
    fn redirections() {
        let command = one("cmd <in >out 2>err >>app 2>&1 3<&0 <>rw a>b");
        let ops: Vec<(u32, RedirectOp, Option<&str>)> = command
            .redirects
            .iter()
            .map(|r| (r.fd, r.op, r.target.plain()))
            .collect();
        use RedirectOp::*;
        assert_eq!(
            ops,
            vec![
                (0, Read, Some("in")),
                (1, Write, Some("out")),
                (2, Write, Some("err")),
                (1, Append, Some("app")),
                (2, Dup, Some("1")),
                (3, Dup, Some("0")),
                (0, ReadWrite, Some("rw")),
                (1, Write, Some("b")),
            ]
        );
        assert_eq!(words(&parse("cmd a>b").unwrap()), ["cmd a"]);
    }

    #[test]
    fn assignments() {
        let command = one("A=1 B=\"x y\" C= env D=2");
        assert_eq!(
            command
                .assignments
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            ["A", "B", "C"]
        );
        assert_eq!(command.assignments[1].1.segments, vec![text("x y", true)]);
        assert_eq!(command.words.len(), 2);
        assert_eq!(one("'X'=1").assignments, vec![]);
    }

    #[test]
    fn lists_and_text() {
        let program = parse("a | b && c || d; e & f\n! g").unwrap();
        assert_eq!(program.len(), 4);
        assert_eq!(program[0].text, "a | b && c || d");
        assert_eq!(program[0].first.texts, ["a", "b"]);
        assert!(program[1].background);
        assert!(program[3].first.negated);
        assert_eq!(one("x\n").line, 1);
        let program = parse("a\n\nb\nif c\nthen d; fi").unwrap();
        let Command::Simple(b) = &program[1].first.commands[0] else {
            panic!()
        };
        assert_eq!(b.line, 3);
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(error("| a"), "|");
        assert_eq!(error("a && && b"), "&&");
        assert_eq!(error("a ;; b"), ";;");
        assert_eq!(error("a > \n"), "newline");
        assert_eq!(error("a )"), ")");
        assert_eq!(error("done"), "done");
        assert_eq!(error("if then"), "then");
        assert_eq!(error("if a; then fi"), "fi");
        assert_eq!(error("for 1 in a; do :; done"), "1");
        assert_eq!(error("{ }"), "}");
        match parse("echo ok\n\nfi") {
            Err(e) => {
                assert_eq!(e.line(), Some(3));
                assert_eq!(e.to_string(), "Syntax error: \"fi\" unexpected");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn incomplete_input() {
        for source in [
            "echo 'abc",
            "echo \"abc",
            "a |",
            "a &&\n",
            "echo \\\n",
            "if a; then b",
            "if a; then b; else",
            "while a; do",
            "for i in 1 2",
            "case x in",
            "case x in a) b;;",
            "{ a;",
            "(a",
            "f() {",
            "f()",
        ] {
            assert_eq!(parse(source), Err(ParseError::Incomplete), "{source:?}");
        }
    }

    #[test]
    fn a_script_command_by_command() {
        let mut script = Script::new("a; b &\nif c\nthen d\nfi\ncat <<E\nbody\nE\n\n# x\nlast");
        let program = script.next_command().unwrap().unwrap();
        assert_eq!(words(&program), ["a", "b"]);
        assert!(program[1].background);
        let program = script.next_command().unwrap().unwrap();
        assert!(matches!(
            &program[0].first.commands[0],
            Command::Compound { .. }
        ));
        let program = script.next_command().unwrap().unwrap();
        let Command::Simple(cat) = &program[0].first.commands[0] else {
            panic!()
        };
        assert_eq!(cat.line, 5);
        assert_eq!(
            cat.redirects[0].body.as_ref().unwrap().borrow().segments,
            vec![text("body\n", true)]
        );
        let program = script.next_command().unwrap().unwrap();
        assert_eq!(words(&program), ["last"]);
        let Command::Simple(last) = &program[0].first.commands[0] else {
            panic!()
        };
        assert_eq!(last.line, 10);
        assert_eq!(script.next_command(), Ok(None));
        assert_eq!(script.end_line(), 10);
        let mut script = Script::new("x\nif a\nthen b\n");
        assert!(script.next_command().is_ok());
        assert_eq!(script.next_command(), Err(ParseError::Incomplete));
        assert_eq!(script.end_line(), 4);
        let mut script = Script::new("x\n\n)\n");
        assert!(script.next_command().is_ok());
        assert_eq!(
            script.next_command(),
            Err(ParseError::Unexpected {
                token: ")".into(),
                line: 3
            })
        );
    }

    #[test]
    fn comments() {
        assert_eq!(parse("   \n\n# only a comment\n").unwrap(), vec![]);
        assert_eq!(words(&parse("echo a#b # c | x").unwrap()), ["echo a#b"]);
    }
}
