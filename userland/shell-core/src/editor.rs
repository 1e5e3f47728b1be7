//! The interactive line editor as a state machine: bytes typed on a raw console go in, one at
//! a time, and the bytes that redraw the line come out (plain ANSI: `ESC[nD`, `ESC[nC`,
//! `ESC[K`), until a key ends the line. It keeps the history that the up and down keys walk.
//!
//! Keys: printable characters insert (UTF-8 included; Tab as a space); Backspace (0x7f,
//! 0x08) and Delete (`ESC[3~`) erase; Left/Right, Home/End (`ESC[H`, `ESC[F`, `ESC[1~`,
//! `ESC[4~`, `ESC OH`, `ESC OF`) and Ctrl-A/B/E/F move; Up/Down and Ctrl-P/N walk the
//! history; Ctrl-U, Ctrl-K and Ctrl-W cut before the cursor, after it, and the word before
//! it; Ctrl-L clears the screen; Enter (`\r` or `\n`) ends the line; Ctrl-C cancels it;
//! Ctrl-D on an empty line is end of input and deletes under the cursor otherwise.

use std::fmt::Write as _;

/// How many lines the history keeps.
const HISTORY_LIMIT: usize = 500;

const ESC: u8 = 0x1b;
const CTRL_A: u8 = 0x01;
const CTRL_B: u8 = 0x02;
const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const CTRL_E: u8 = 0x05;
const CTRL_F: u8 = 0x06;
const BACKSPACE: u8 = 0x08;
const CTRL_K: u8 = 0x0b;
const CTRL_L: u8 = 0x0c;
const CTRL_N: u8 = 0x0e;
const CTRL_P: u8 = 0x10;
const CTRL_U: u8 = 0x15;
const CTRL_W: u8 = 0x17;
const DEL: u8 = 0x7f;

/// What ended the line being edited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Enter: the line, without its end.
    Line(String),
    /// Ctrl-C: the line was cancelled.
    Interrupt,
    /// Ctrl-D on an empty line.
    Eof,
}

/// Where in an escape sequence the input is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Escape {
    None,
    /// After ESC.
    Start,
    /// After `ESC [`, with the parameter bytes so far.
    Csi(String),
    /// After `ESC O`.
    Ss3,
}

/// A line editor with its history.
#[derive(Debug)]
pub struct Editor {
    prompt: String,
    line: Vec<char>,
    cursor: usize,
    history: Vec<String>,
    /// The history entry shown; `history.len()` for the line being typed.
    browsing: usize,
    /// The line being typed, kept while the history is shown.
    draft: Vec<char>,
    escape: Escape,
    /// The bytes of a UTF-8 character not yet complete.
    partial: Vec<u8>,
    /// Whether the last byte was `\r`, so that a `\n` right after it is not a second Enter.
    after_cr: bool,
}

impl Default for Editor {
    fn default() -> Self {
        Editor::new()
    }
}

fn left(n: usize, out: &mut Vec<u8>) {
    if n > 0 {
        out.extend_from_slice(format!("\x1b[{n}D").as_bytes());
    }
}

fn right(n: usize, out: &mut Vec<u8>) {
    if n > 0 {
        out.extend_from_slice(format!("\x1b[{n}C").as_bytes());
    }
}

fn put(chars: &[char], out: &mut Vec<u8>) {
    let mut text = String::new();
    for &c in chars {
        let _ = text.write_char(c);
    }
    out.extend_from_slice(text.as_bytes());
}

/// Erases from the cursor to the end of the screen line.
const CLEAR_TO_END: &[u8] = b"\x1b[K";

impl Editor {
    /// An editor with an empty history.
    pub fn new() -> Editor {
        Editor {
            prompt: String::new(),
            line: Vec::new(),
            cursor: 0,
            history: Vec::new(),
            browsing: 0,
            draft: Vec::new(),
            escape: Escape::None,
            partial: Vec::new(),
            after_cr: false,
        }
    }

    /// Starts a new, empty line after `prompt` (written to `out`).
    pub fn begin(&mut self, prompt: &str, out: &mut Vec<u8>) {
        self.prompt = prompt.to_string();
        self.line.clear();
        self.cursor = 0;
        self.browsing = self.history.len();
        self.draft.clear();
        self.escape = Escape::None;
        self.partial.clear();
        out.extend_from_slice(prompt.as_bytes());
    }

    /// The line as typed so far.
    pub fn line(&self) -> String {
        self.line.iter().collect()
    }

    /// Where the cursor is, in characters from the start of the line.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The lines entered so far, oldest first.
    pub fn history(&self) -> &[String] {
        &self.history
    }

    /// Handles one input byte, writing what redraws the line to `out`; returns what ended
    /// the line, if this byte did.
    pub fn feed(&mut self, byte: u8, out: &mut Vec<u8>) -> Option<Outcome> {
        let after_cr = std::mem::replace(&mut self.after_cr, byte == b'\r');
        match std::mem::replace(&mut self.escape, Escape::None) {
            Escape::None => {}
            Escape::Start => {
                self.escape = match byte {
                    b'[' => Escape::Csi(String::new()),
                    b'O' => Escape::Ss3,
                    // Alt+key and the like: ignored.
                    _ => Escape::None,
                };
                return None;
            }
            Escape::Csi(mut params) => {
                if (0x40..=0x7e).contains(&byte) {
                    self.csi(&params, byte, out);
                } else {
                    params.push(char::from(byte));
                    self.escape = Escape::Csi(params);
                }
                return None;
            }
            Escape::Ss3 => {
                self.csi("", byte, out);
                return None;
            }
        }
        if byte >= 0x80 {
            self.utf8(byte, out);
            return None;
        }
        self.partial.clear();
        match byte {
            b'\n' if after_cr => {}
            b'\r' | b'\n' => {
                out.push(b'\n');
                let line = self.line();
                if !line.trim().is_empty() && self.history.last() != Some(&line) {
                    if self.history.len() == HISTORY_LIMIT {
                        self.history.remove(0);
                    }
                    self.history.push(line.clone());
                }
                self.line.clear();
                self.cursor = 0;
                return Some(Outcome::Line(line));
            }
            CTRL_C => {
                out.extend_from_slice(b"^C\n");
                self.line.clear();
                self.cursor = 0;
                return Some(Outcome::Interrupt);
            }
            CTRL_D if self.line.is_empty() => return Some(Outcome::Eof),
            CTRL_D => self.delete(out),
            ESC => self.escape = Escape::Start,
            DEL | BACKSPACE => self.backspace(out),
            CTRL_A => self.home(out),
            CTRL_E => self.end(out),
            CTRL_B => self.left(out),
            CTRL_F => self.right(out),
            CTRL_P => self.up(out),
            CTRL_N => self.down(out),
            CTRL_K => {
                self.line.truncate(self.cursor);
                out.extend_from_slice(CLEAR_TO_END);
            }
            CTRL_U => self.cut_before(self.cursor, out),
            CTRL_W => {
                let mut start = self.cursor;
                while start > 0 && self.line[start - 1] == ' ' {
                    start -= 1;
                }
                while start > 0 && self.line[start - 1] != ' ' {
                    start -= 1;
                }
                self.cut_before(self.cursor - start, out);
            }
            CTRL_L => {
                out.extend_from_slice(b"\x1b[H\x1b[2J");
                out.extend_from_slice(self.prompt.as_bytes());
                put(&self.line, out);
                left(self.line.len() - self.cursor, out);
            }
            // A tab would move the terminal's cursor to a tab stop the editor cannot know.
            b'\t' => self.insert(' ', out),
            b' '..=b'~' => self.insert(char::from(byte), out),
            _ => {}
        }
        None
    }

    /// Collects the bytes of a multi-byte character and inserts it once complete.
    fn utf8(&mut self, byte: u8, out: &mut Vec<u8>) {
        if byte & 0xc0 != 0x80 {
            self.partial.clear();
        }
        self.partial.push(byte);
        let expected = match self.partial[0] {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => {
                self.partial.clear();
                return;
            }
        };
        if self.partial.len() < expected {
            return;
        }
        let bytes = std::mem::take(&mut self.partial);
        if let Some(c) = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|s| s.chars().next())
        {
            self.insert(c, out);
        }
    }

    /// The end of an escape sequence: `ESC [ params final` or `ESC O final`.
    fn csi(&mut self, params: &str, last: u8, out: &mut Vec<u8>) {
        match (last, params) {
            (b'A', _) => self.up(out),
            (b'B', _) => self.down(out),
            (b'C', _) => self.right(out),
            (b'D', _) => self.left(out),
            (b'H', _) | (b'~', "1" | "7") => self.home(out),
            (b'F', _) | (b'~', "4" | "8") => self.end(out),
            (b'~', "3") => self.delete(out),
            _ => {}
        }
    }

    fn insert(&mut self, c: char, out: &mut Vec<u8>) {
        self.line.insert(self.cursor, c);
        self.cursor += 1;
        put(&self.line[self.cursor - 1..], out);
        left(self.line.len() - self.cursor, out);
    }

    /// Rewrites the line from the cursor to its end, clears what is left of the old text,
    /// and puts the cursor back.
    fn redraw_tail(&self, out: &mut Vec<u8>) {
        put(&self.line[self.cursor..], out);
        out.extend_from_slice(CLEAR_TO_END);
        left(self.line.len() - self.cursor, out);
    }

    fn backspace(&mut self, out: &mut Vec<u8>) {
        if self.cursor > 0 {
            self.cut_before(1, out);
        }
    }

    /// Removes the `n` characters before the cursor.
    fn cut_before(&mut self, n: usize, out: &mut Vec<u8>) {
        if n == 0 {
            return;
        }
        self.line.drain(self.cursor - n..self.cursor);
        self.cursor -= n;
        left(n, out);
        self.redraw_tail(out);
    }

    fn delete(&mut self, out: &mut Vec<u8>) {
        if self.cursor < self.line.len() {
            self.line.remove(self.cursor);
            self.redraw_tail(out);
        }
    }

    fn left(&mut self, out: &mut Vec<u8>) {
        if self.cursor > 0 {
            self.cursor -= 1;
            left(1, out);
        }
    }

    fn right(&mut self, out: &mut Vec<u8>) {
        if self.cursor < self.line.len() {
            self.cursor += 1;
            right(1, out);
        }
    }

    fn home(&mut self, out: &mut Vec<u8>) {
        left(self.cursor, out);
        self.cursor = 0;
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        right(self.line.len() - self.cursor, out);
        self.cursor = self.line.len();
    }

    fn up(&mut self, out: &mut Vec<u8>) {
        if self.browsing == 0 {
            return;
        }
        if self.browsing == self.history.len() {
            self.draft = self.line.clone();
        }
        self.browsing -= 1;
        let entry = self.history[self.browsing].chars().collect();
        self.replace(entry, out);
    }

    fn down(&mut self, out: &mut Vec<u8>) {
        if self.browsing >= self.history.len() {
            return;
        }
        self.browsing += 1;
        let entry = match self.history.get(self.browsing) {
            Some(entry) => entry.chars().collect(),
            None => self.draft.clone(),
        };
        self.replace(entry, out);
    }

    /// Shows `line` instead of the current one, with the cursor at its end.
    fn replace(&mut self, line: Vec<char>, out: &mut Vec<u8>) {
        left(self.cursor, out);
        self.line = line;
        self.cursor = self.line.len();
        put(&self.line, out);
        out.extend_from_slice(CLEAR_TO_END);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` after a fresh `begin("$ ")`; returns the outcomes and all output.
    fn type_in(editor: &mut Editor, input: &[u8]) -> (Vec<Outcome>, String) {
        let mut out = Vec::new();
        let mut outcomes = Vec::new();
        editor.begin("$ ", &mut out);
        for &byte in input {
            if let Some(outcome) = editor.feed(byte, &mut out) {
                outcomes.push(outcome);
                editor.begin("$ ", &mut out);
            }
        }
        (outcomes, String::from_utf8(out).unwrap())
    }

    fn line(input: &[u8]) -> String {
        let mut editor = Editor::new();
        match type_in(&mut editor, input).0.as_slice() {
            [Outcome::Line(line)] => line.clone(),
            other => panic!("{input:?} gave {other:?}"),
        }
    }

    /// The line and cursor after `input`, with no Enter.
    fn state(input: &[u8]) -> (String, usize) {
        let mut editor = Editor::new();
        let (outcomes, _) = type_in(&mut editor, input);
        assert!(outcomes.is_empty());
        (editor.line(), editor.cursor())
    }

    #[test]
    fn typing_echoes_and_enter_ends_the_line() {
        let mut editor = Editor::new();
        let (outcomes, out) = type_in(&mut editor, b"ls -l\r");
        assert_eq!(outcomes, [Outcome::Line("ls -l".into())]);
        assert_eq!(out, "$ ls -l\n$ ");
        assert_eq!(line(b"x\n"), "x");
    }

    #[test]
    fn cr_lf_is_one_enter() {
        let mut editor = Editor::new();
        let (outcomes, _) = type_in(&mut editor, b"a\r\nb\n\n");
        assert_eq!(
            outcomes,
            [
                Outcome::Line("a".into()),
                Outcome::Line("b".into()),
                Outcome::Line("".into())
            ]
        );
    }

    #[test]
    fn backspace_both_codes() {
        assert_eq!(line(b"abc\x7f\x7fd\r"), "ad");
        assert_eq!(line(b"abc\x08d\r"), "abd");
        assert_eq!(line(b"\x7f\x7fa\r"), "a");
        let mut editor = Editor::new();
        let (_, out) = type_in(&mut editor, b"ab\x7f");
        assert_eq!(out, "$ ab\x1b[1D\x1b[K");
    }

    #[test]
    fn arrows_move_and_insert_in_the_middle() {
        assert_eq!(state(b"acd\x1b[D\x1b[D"), ("acd".into(), 1));
        assert_eq!(line(b"acd\x1b[D\x1b[Db\r"), "abcd");
        assert_eq!(state(b"ab\x1b[C\x1b[C"), ("ab".into(), 2));
        assert_eq!(state(b"ab\x1b[D\x1b[D\x1b[D"), ("ab".into(), 0));
        let mut editor = Editor::new();
        let (_, out) = type_in(&mut editor, b"ac\x1b[Db");
        assert_eq!(out, "$ ac\x1b[1Dbc\x1b[1D");
    }

    #[test]
    fn backspace_in_the_middle_redraws_the_tail() {
        let mut editor = Editor::new();
        let (_, out) = type_in(&mut editor, b"abc\x1b[D\x7f");
        assert_eq!(editor.line(), "ac");
        assert_eq!(out, "$ abc\x1b[1D\x1b[1Dc\x1b[K\x1b[1D");
    }

    #[test]
    fn home_end_and_delete() {
        for home in [&b"\x1b[H"[..], b"\x1b[1~", b"\x1bOH", b"\x01", b"\x1b[7~"] {
            let input = [b"abc", home].concat();
            assert_eq!(state(&input), ("abc".into(), 0), "{home:?}");
        }
        for end in [&b"\x1b[F"[..], b"\x1b[4~", b"\x1bOF", b"\x05"] {
            let input = [b"abc\x01", end].concat();
            assert_eq!(state(&input), ("abc".into(), 3), "{end:?}");
        }
        assert_eq!(state(b"abc\x01\x1b[3~"), ("bc".into(), 0));
        assert_eq!(state(b"abc\x1b[3~"), ("abc".into(), 3));
        let mut editor = Editor::new();
        let (_, out) = type_in(&mut editor, b"abc\x01\x1b[3~");
        assert_eq!(out, "$ abc\x1b[3Dbc\x1b[K\x1b[2D");
        let (_, out) = type_in(&mut editor, b"\x01\x05");
        assert_eq!(out, "$ ", "no zero-length moves");
    }

    #[test]
    fn ctrl_c_cancels() {
        let mut editor = Editor::new();
        let (outcomes, out) = type_in(&mut editor, b"abc\x03x\r");
        assert_eq!(outcomes, [Outcome::Interrupt, Outcome::Line("x".into())]);
        assert_eq!(out, "$ abc^C\n$ x\n$ ");
        assert!(!editor.history().contains(&"abc".to_string()));
    }

    #[test]
    fn ctrl_d() {
        let mut editor = Editor::new();
        let (outcomes, _) = type_in(&mut editor, b"\x04");
        assert_eq!(outcomes, [Outcome::Eof]);
        assert_eq!(state(b"ab\x04"), ("ab".into(), 2));
        assert_eq!(state(b"ab\x01\x04"), ("b".into(), 0));
    }

    #[test]
    fn cutting() {
        assert_eq!(state(b"abc def\x1b[D\x1b[D\x15"), ("ef".into(), 0));
        assert_eq!(state(b"abc def\x1b[D\x1b[D\x0b"), ("abc d".into(), 5));
        assert_eq!(state(b"ls -l  /tmp  \x17"), ("ls -l  ".into(), 7));
        assert_eq!(state(b"ls -l  /tmp  \x17\x17"), ("ls ".into(), 3));
        assert_eq!(state(b"one\x17\x17"), ("".into(), 0));
    }

    #[test]
    fn ctrl_l_redraws() {
        let mut editor = Editor::new();
        let (_, out) = type_in(&mut editor, b"ab\x1b[D\x0c");
        assert_eq!(out, "$ ab\x1b[1D\x1b[H\x1b[2J$ ab\x1b[1D");
    }

    #[test]
    fn utf8_input() {
        assert_eq!(state("héllo€".as_bytes()), ("héllo€".into(), 6));
        assert_eq!(line("aé\x1b[D\x7fz\r".as_bytes()), "zé");
        assert_eq!(state(b"a\xff\xc3b"), ("ab".into(), 2));
    }

    #[test]
    fn tab_is_a_space() {
        assert_eq!(line(b"ls\t-l\r"), "ls -l");
    }

    #[test]
    fn unknown_keys_are_ignored() {
        assert_eq!(state(b"a\x1b[5~\x1bx\x1b[1;5Cb\x07"), ("ab".into(), 2));
    }

    #[test]
    fn history_walk() {
        let mut editor = Editor::new();
        type_in(&mut editor, b"one\rtwo\rtwo\r   \rthree\r");
        assert_eq!(editor.history(), ["one", "two", "three"]);
        let (outcomes, _) = type_in(&mut editor, b"dra\x1b[A\x1b[A\r");
        assert_eq!(outcomes, [Outcome::Line("two".into())]);
        assert_eq!(editor.history(), ["one", "two", "three", "two"]);
        // Up past the oldest stays there; down past the newest comes back to the draft.
        let (outcomes, _) = type_in(
            &mut editor,
            b"dra\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[B\x1b[B\x1b[B\x1b[B\x1b[B\x1b[Bft\r",
        );
        assert_eq!(outcomes, [Outcome::Line("draft".into())]);
        let (outcomes, _) = type_in(&mut editor, b"\x10\x10\x0e\r");
        assert_eq!(outcomes, [Outcome::Line("draft".into())]);
    }

    #[test]
    fn history_redraw() {
        let mut editor = Editor::new();
        type_in(&mut editor, b"ls\r");
        let (_, out) = type_in(&mut editor, b"abcd\x1b[D\x1b[A");
        assert_eq!(out, "$ abcd\x1b[1D\x1b[3Dls\x1b[K");
        assert_eq!((editor.line(), editor.cursor()), ("ls".into(), 2));
        let (_, out) = type_in(&mut editor, b"\x1b[A\x1b[B");
        assert_eq!(out, "$ ls\x1b[K\x1b[2D\x1b[K");
    }

    #[test]
    fn history_is_bounded() {
        let mut editor = Editor::new();
        for i in 0..HISTORY_LIMIT + 5 {
            type_in(&mut editor, format!("cmd{i}\r").as_bytes());
        }
        assert_eq!(editor.history().len(), HISTORY_LIMIT);
        assert_eq!(editor.history()[0], "cmd5");
    }
}
