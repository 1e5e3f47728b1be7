//! The command language: a lexer that turns text into words (keeping track of what was
//! quoted) and operators, and a parser that builds lists of and-or chains of pipelines of
//! simple commands, POSIX style. Input that stops in the middle of a construct (an open
//! quote, a trailing `|` or `&&`) is reported as [`ParseError::Incomplete`] so that the
//! caller can read another line and try again.

/// One piece of a word, before expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Literal text; `quoted` text is neither split nor tilde-expanded.
    Text { text: String, quoted: bool },
    /// `$NAME`, `${NAME}` or a special parameter (`?`, `$`, `!`, `#`, `@`, `*`, `0`-`9`).
    Param { name: String, quoted: bool },
    /// A leading unquoted `~`: the home directory.
    Tilde,
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
    fn plain(&self) -> Option<&str> {
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
    /// `<&` and `>&`: copy another descriptor (`2>&1`).
    Dup,
}

/// One redirection: `fd OP target`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// The descriptor redirected (0 for `<`, 1 for `>` unless written before the operator).
    pub fd: u32,
    /// What to do.
    pub op: RedirectOp,
    /// The file name, or the descriptor number for [`RedirectOp::Dup`].
    pub target: Word,
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
}

/// `[!] a | b | c`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pipeline {
    /// Whether `!` inverts its status.
    pub negated: bool,
    /// The stages, left to right (at least one).
    pub commands: Vec<Simple>,
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
    /// This token cannot appear where it does (`newline` for the end of a line).
    Unexpected(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Incomplete => write!(f, "syntax error: unexpected end of file"),
            ParseError::Unexpected(token) => {
                write!(f, "syntax error near unexpected token '{token}'")
            }
        }
    }
}

/// Control operators and the characters the shell does not support.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Pipe,
    AndIf,
    OrIf,
    Semi,
    Amp,
    Newline,
    /// `(` or `)`: subshells and functions are not part of this shell.
    Paren(char),
}

impl Op {
    fn name(self) -> String {
        match self {
            Op::Pipe => "|".into(),
            Op::AndIf => "&&".into(),
            Op::OrIf => "||".into(),
            Op::Semi => ";".into(),
            Op::Amp => "&".into(),
            Op::Newline => "newline".into(),
            Op::Paren(c) => c.to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(Word),
    Op(Op),
    Redirect(Option<u32>, RedirectOp),
}

/// A token and where it starts and ends in the source (char offsets).
type Spanned = (Token, usize, usize);

struct Lexer {
    chars: Vec<char>,
    at: usize,
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

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
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
                ('\n', _) => Token::Op(Op::Newline),
                ('|', Some('|')) => take(Token::Op(Op::OrIf)),
                ('|', _) => Token::Op(Op::Pipe),
                ('&', Some('&')) => take(Token::Op(Op::AndIf)),
                ('&', _) => Token::Op(Op::Amp),
                (';', _) => Token::Op(Op::Semi),
                ('<' | '>', _) => self.redirect_op(c, None),
                _ => Token::Op(Op::Paren(c)),
            }
        } else {
            self.word()?
        };
        Ok(Some((token, start, self.at)))
    }

    /// The operator after `<` or `>` (already consumed), for descriptor `fd` if one was written.
    fn redirect_op(&mut self, first: char, fd: Option<u32>) -> Token {
        let op = match (first, self.peek()) {
            ('>', Some('>')) => RedirectOp::Append,
            ('>', Some('|')) => RedirectOp::Write,
            (_, Some('&')) => RedirectOp::Dup,
            ('>', _) => return Token::Redirect(fd, RedirectOp::Write),
            _ => return Token::Redirect(fd, RedirectOp::Read),
        };
        self.at += 1;
        Token::Redirect(fd, op)
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
            self.at += 1;
            match c {
                '\'' => loop {
                    match self.peek() {
                        None => return Err(ParseError::Incomplete),
                        Some('\'') => {
                            self.at += 1;
                            // An empty '' still makes a (quoted, empty) word.
                            if !matches!(
                                word.segments.last(),
                                Some(Segment::Text { quoted: true, .. })
                            ) {
                                word.segments.push(Segment::Text {
                                    text: String::new(),
                                    quoted: true,
                                });
                            }
                            break;
                        }
                        Some(q) => {
                            self.at += 1;
                            word.push_char(q, true);
                        }
                    }
                },
                '"' => self.double_quoted(&mut word)?,
                '\\' => match self.peek() {
                    None => word.push_char('\\', false),
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
                '$' => self.dollar(&mut word, false)?,
                _ => word.push_char(c, false),
            }
        }
        Ok(Token::Word(word))
    }

    /// The rest of a `"..."` whose opening quote was consumed.
    fn double_quoted(&mut self, word: &mut Word) -> Result<(), ParseError> {
        word.segments.push(Segment::Text {
            text: String::new(),
            quoted: true,
        });
        loop {
            let Some(c) = self.peek() else {
                return Err(ParseError::Incomplete);
            };
            self.at += 1;
            match c {
                '"' => return Ok(()),
                '\\' => match self.peek() {
                    None => return Err(ParseError::Incomplete),
                    Some('\n') => self.at += 1,
                    Some(e @ ('$' | '`' | '"' | '\\')) => {
                        self.at += 1;
                        word.push_char(e, true);
                    }
                    Some(_) => word.push_char('\\', true),
                },
                '$' => self.dollar(word, true)?,
                _ => word.push_char(c, true),
            }
        }
    }

    /// A parameter after `$` (consumed), or a literal `$` if none follows.
    fn dollar(&mut self, word: &mut Word, quoted: bool) -> Result<(), ParseError> {
        let name = match self.peek() {
            Some('{') => {
                let start = self.at + 1;
                let Some(len) = self.chars[start..].iter().position(|&c| c == '}') else {
                    return Err(ParseError::Incomplete);
                };
                let name: String = self.chars[start..start + len].iter().collect();
                let special = name.len() == 1 && "?$!#@*".contains(name.as_str());
                if !(is_name(&name)
                    || special
                    || (!name.is_empty() && name.chars().all(|c| c.is_ascii_digit())))
                {
                    return Err(ParseError::Unexpected(format!("${{{name}}}")));
                }
                self.at = start + len + 1;
                name
            }
            Some(c) if "?$!#@*".contains(c) || c.is_ascii_digit() => {
                self.at += 1;
                c.to_string()
            }
            Some(c) if is_name_start(c) => {
                let start = self.at;
                while self.peek().is_some_and(is_name_char) {
                    self.at += 1;
                }
                self.chars[start..self.at].iter().collect()
            }
            _ => {
                word.push_char('$', quoted);
                return Ok(());
            }
        };
        word.segments.push(Segment::Param { name, quoted });
        Ok(())
    }
}

struct Parser {
    lexer: Lexer,
    peeked: Option<Option<Spanned>>,
}

impl Parser {
    fn peek(&mut self) -> Result<Option<&Spanned>, ParseError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next()?);
        }
        Ok(self.peeked.as_ref().and_then(|t| t.as_ref()))
    }

    fn take(&mut self) -> Result<Option<Spanned>, ParseError> {
        self.peek()?;
        Ok(self.peeked.take().flatten())
    }

    fn peek_op(&mut self) -> Result<Option<Op>, ParseError> {
        Ok(match self.peek()? {
            Some((Token::Op(op), _, _)) => Some(*op),
            _ => None,
        })
    }

    fn skip_newlines(&mut self) -> Result<(), ParseError> {
        while self.peek_op()? == Some(Op::Newline) {
            self.take()?;
        }
        Ok(())
    }

    fn unexpected(token: Option<&Spanned>) -> ParseError {
        match token {
            None => ParseError::Unexpected("newline".into()),
            Some((Token::Op(op), _, _)) => ParseError::Unexpected(op.name()),
            Some((Token::Redirect(_, op), _, _)) => ParseError::Unexpected(
                match op {
                    RedirectOp::Read => "<",
                    RedirectOp::Write => ">",
                    RedirectOp::Append => ">>",
                    RedirectOp::Dup => ">&",
                }
                .into(),
            ),
            Some((Token::Word(_), _, _)) => ParseError::Unexpected("word".into()),
        }
    }

    fn program(&mut self) -> Result<Program, ParseError> {
        let mut program = Vec::new();
        loop {
            self.skip_newlines()?;
            if self.peek()?.is_none() {
                return Ok(program);
            }
            let start = self.peek()?.map_or(0, |t| t.1);
            let (first, end) = self.pipeline()?;
            let mut end = end;
            let mut rest = Vec::new();
            while let Some(op @ (Op::AndIf | Op::OrIf)) = self.peek_op()? {
                self.take()?;
                self.skip_newlines()?;
                if self.peek()?.is_none() {
                    return Err(ParseError::Incomplete);
                }
                let (pipeline, e) = self.pipeline()?;
                end = e;
                let connector = if op == Op::AndIf {
                    Connector::And
                } else {
                    Connector::Or
                };
                rest.push((connector, pipeline));
            }
            let background = match self.peek_op()? {
                Some(Op::Amp) => true,
                Some(Op::Semi | Op::Newline) => false,
                None if self.peek()?.is_none() => false,
                _ => return Err(Self::unexpected(self.peek()?)),
            };
            self.take()?;
            let text = self.lexer.chars[start..end].iter().collect();
            program.push(AndOr {
                first,
                rest,
                background,
                text,
            });
        }
    }

    /// A pipeline and the offset where its text ends.
    fn pipeline(&mut self) -> Result<(Pipeline, usize), ParseError> {
        let mut pipeline = Pipeline::default();
        if let Some((Token::Word(word), _, _)) = self.peek()?
            && word.plain() == Some("!")
        {
            self.take()?;
            pipeline.negated = true;
        }
        loop {
            let (command, end) = self.simple()?;
            pipeline.commands.push(command);
            if self.peek_op()? != Some(Op::Pipe) {
                return Ok((pipeline, end));
            }
            self.take()?;
            self.skip_newlines()?;
            if self.peek()?.is_none() {
                return Err(ParseError::Incomplete);
            }
        }
    }

    fn simple(&mut self) -> Result<(Simple, usize), ParseError> {
        let mut command = Simple::default();
        let mut end = None;
        loop {
            match self.peek()? {
                Some((Token::Word(_), _, _)) => {
                    let Some((Token::Word(word), _, e)) = self.take()? else {
                        unreachable!("peeked a word");
                    };
                    end = Some(e);
                    match assignment(&word) {
                        Some(pair) if command.words.is_empty() => command.assignments.push(pair),
                        _ => command.words.push(word),
                    }
                }
                Some((Token::Redirect(fd, op), _, _)) => {
                    let (fd, op) = (*fd, *op);
                    self.take()?;
                    match self.take()? {
                        Some((Token::Word(target), _, e)) => {
                            end = Some(e);
                            let fd = fd.unwrap_or(u32::from(op != RedirectOp::Read));
                            command.redirects.push(Redirect { fd, op, target });
                        }
                        other => return Err(Self::unexpected(other.as_ref())),
                    }
                }
                other => {
                    return match end {
                        Some(end) => Ok((command, end)),
                        None => Err(Self::unexpected(other)),
                    };
                }
            }
        }
    }
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

/// Parses `source` (one or more lines).
pub fn parse(source: &str) -> Result<Program, ParseError> {
    let mut parser = Parser {
        lexer: Lexer {
            chars: source.chars().collect(),
            at: 0,
        },
        peeked: None,
    };
    parser.program()
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
            quoted,
        }
    }

    fn one(source: &str) -> Simple {
        let program = parse(source).unwrap();
        assert_eq!(program.len(), 1, "{program:?}");
        assert!(program[0].rest.is_empty());
        assert_eq!(program[0].first.commands.len(), 1);
        program[0].first.commands[0].clone()
    }

    fn error(source: &str) -> String {
        match parse(source) {
            Err(ParseError::Unexpected(token)) => token,
            other => panic!("{source:?} gave {other:?}"),
        }
    }

    #[test]
    fn plain_words() {
        let command = one("  ls   -l\t/tmp  ");
        assert_eq!(
            command.words,
            vec![
                Word::literal("ls"),
                Word::literal("-l"),
                Word::literal("/tmp")
            ]
        );
        assert!(command.assignments.is_empty() && command.redirects.is_empty());
    }

    #[test]
    fn quoting() {
        let command = one(r#"echo 'a b' "c d" e\ f 'it''s' "x\"y\\z\q" '$HOME'"#);
        assert_eq!(command.words[1].segments, vec![text("a b", true)]);
        assert_eq!(command.words[2].segments, vec![text("c d", true)]);
        assert_eq!(
            command.words[3].segments,
            vec![text("e", false), text(" ", true), text("f", false)]
        );
        assert_eq!(command.words[4].segments, vec![text("its", true)]);
        assert_eq!(command.words[5].segments, vec![text("x\"y\\z\\q", true)]);
        assert_eq!(command.words[6].segments, vec![text("$HOME", true)]);
    }

    #[test]
    fn empty_quotes_make_a_word() {
        let command = one("echo '' \"\"");
        assert_eq!(command.words.len(), 3);
        assert_eq!(command.words[1].segments, vec![text("", true)]);
        assert_eq!(command.words[2].segments, vec![text("", true)]);
    }

    #[test]
    fn parameters() {
        let command = one(r#"echo $A ${B}c "$C-$?" $$ $1 $@ $# $ x$"#);
        assert_eq!(command.words[1].segments, vec![param("A", false)]);
        assert_eq!(
            command.words[2].segments,
            vec![param("B", false), text("c", false)]
        );
        assert_eq!(
            command.words[3].segments,
            vec![
                text("", true),
                param("C", true),
                text("-", true),
                param("?", true)
            ]
        );
        assert_eq!(command.words[4].segments, vec![param("$", false)]);
        assert_eq!(command.words[5].segments, vec![param("1", false)]);
        assert_eq!(command.words[6].segments, vec![param("@", false)]);
        assert_eq!(command.words[7].segments, vec![param("#", false)]);
        assert_eq!(command.words[8].segments, vec![text("$", false)]);
        assert_eq!(command.words[9].segments, vec![text("x$", false)]);
        assert_eq!(error("echo ${A-b}"), "${A-b}");
    }

    #[test]
    fn escaped_dollar_is_literal() {
        let command = one(r#"echo \$A "\$B""#);
        assert_eq!(
            command.words[1].segments,
            vec![text("$", true), text("A", false)]
        );
        assert_eq!(command.words[2].segments, vec![text("$B", true)]);
    }

    #[test]
    fn tilde() {
        assert_eq!(one("cd ~").words[1].segments, vec![Segment::Tilde]);
        assert_eq!(
            one("cd ~/x").words[1].segments,
            vec![Segment::Tilde, text("/x", false)]
        );
        assert_eq!(one("echo a~").words[1].segments, vec![text("a~", false)]);
        assert_eq!(one("echo '~'").words[1].segments, vec![text("~", true)]);
        assert_eq!(
            one("echo ~user").words[1].segments,
            vec![text("~user", false)]
        );
    }

    #[test]
    fn assignments() {
        let command = one("A=1 B=\"x y\" C= env D=2");
        assert_eq!(
            command.assignments,
            vec![
                ("A".into(), Word::literal("1")),
                (
                    "B".into(),
                    Word {
                        segments: vec![text("x y", true)]
                    }
                ),
                ("C".into(), Word::default()),
            ]
        );
        assert_eq!(
            command.words,
            vec![Word::literal("env"), Word::literal("D=2")]
        );
        assert_eq!(one("X=1").words, vec![]);
        assert_eq!(one("'X'=1").assignments, vec![]);
        assert_eq!(one("1X=1").assignments, vec![]);
    }

    #[test]
    fn redirections() {
        let command = one("cmd <in >out 2>err >>app 2>>eapp 2>&1 >&2 3<&0 a>b");
        let redirects: Vec<(u32, RedirectOp, Word)> = command
            .redirects
            .into_iter()
            .map(|r| (r.fd, r.op, r.target))
            .collect();
        use RedirectOp::*;
        assert_eq!(
            redirects,
            vec![
                (0, Read, Word::literal("in")),
                (1, Write, Word::literal("out")),
                (2, Write, Word::literal("err")),
                (1, Append, Word::literal("app")),
                (2, Append, Word::literal("eapp")),
                (2, Dup, Word::literal("1")),
                (1, Dup, Word::literal("2")),
                (3, Dup, Word::literal("0")),
                (1, Write, Word::literal("b")),
            ]
        );
        assert_eq!(
            command.words,
            vec![Word::literal("cmd"), Word::literal("a")]
        );
        assert_eq!(one("> f").words, vec![]);
        assert_eq!(one("echo x>|f").redirects[0].op, Write);
        assert_eq!(
            one("echo '2'>f").words[1],
            Word {
                segments: vec![text("2", true)]
            }
        );
    }

    #[test]
    fn operators() {
        let program = parse("a | b | c && d || e; f & g\nh &").unwrap();
        assert_eq!(program.len(), 4);
        assert_eq!(program[0].first.commands.len(), 3);
        assert_eq!(
            program[0].rest.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
            vec![Connector::And, Connector::Or]
        );
        assert_eq!(program[0].text, "a | b | c && d || e");
        assert!(!program[0].background);
        assert_eq!(program[1].text, "f");
        assert!(program[1].background);
        assert_eq!(program[2].text, "g");
        assert!(!program[2].background);
        assert_eq!(program[3].text, "h");
        assert!(program[3].background);
    }

    #[test]
    fn operators_without_spaces() {
        let program = parse("a|b&&c||d;e&").unwrap();
        assert_eq!(program.len(), 2);
        assert_eq!(program[0].first.commands.len(), 2);
        assert_eq!(program[0].rest.len(), 2);
        assert!(program[1].background);
    }

    #[test]
    fn negation() {
        let program = parse("! false | true").unwrap();
        assert!(program[0].first.negated);
        assert_eq!(program[0].first.commands.len(), 2);
        assert!(!parse("echo !").unwrap()[0].first.negated);
    }

    #[test]
    fn comments_and_blank_lines() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("   \n\n# only a comment\n").unwrap(), vec![]);
        let command = one("echo a#b # comment | x");
        assert_eq!(
            command.words,
            vec![Word::literal("echo"), Word::literal("a#b")]
        );
        assert_eq!(one("echo '#'").words.len(), 2);
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(error("| a"), "|");
        assert_eq!(error("a | | b"), "|");
        assert_eq!(error("a && && b"), "&&");
        assert_eq!(error("|| b"), "||");
        assert_eq!(error("; a"), ";");
        assert_eq!(error("a ;; b"), ";");
        assert_eq!(error("& a"), "&");
        assert_eq!(error("a > "), "newline");
        assert_eq!(error("a > | b"), "|");
        assert_eq!(error("a < ;"), ";");
        assert_eq!(error("(a)"), "(");
        assert_eq!(error("a )"), ")");
        assert_eq!(
            ParseError::Unexpected("|".into()).to_string(),
            "syntax error near unexpected token '|'"
        );
    }

    #[test]
    fn incomplete_input() {
        for source in [
            "echo 'abc",
            "echo \"abc",
            "echo \"a\\",
            "a |",
            "a |\n",
            "a &&",
            "a ||\n\n",
            "echo \\\n",
            "echo ${A",
        ] {
            assert_eq!(parse(source), Err(ParseError::Incomplete), "{source:?}");
        }
    }

    #[test]
    fn continued_lines() {
        let program = parse("echo 'a\nb' \\\nc |\n wc &&\n true").unwrap();
        let command = &program[0].first.commands[0];
        assert_eq!(command.words[1].segments, vec![text("a\nb", true)]);
        assert_eq!(command.words[2], Word::literal("c"));
        assert_eq!(program[0].first.commands.len(), 2);
        assert_eq!(program[0].rest.len(), 1);
    }

    #[test]
    fn unicode_words() {
        let command = one("echo héllo 'wörld'");
        assert_eq!(command.words[1], Word::literal("héllo"));
        assert_eq!(command.words[2].segments, vec![text("wörld", true)]);
    }
}
