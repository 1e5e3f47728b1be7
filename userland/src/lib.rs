//! Helpers shared by the coreutils in `src/bin/`: GNU-style option parsing, error messages
//! that read like GNU's, and the few preview1 calls std does not expose on stable Rust
//! (symlinks, `stat` with link counts, setting times on any path), resolved through the
//! preopened directories.
//!
//! Conventions every tool follows through these helpers:
//! - Arguments are read with [`args`], which never traps on bytes that are not UTF-8 (std's
//!   `env::args` panics on them): such bytes read as U+FFFD, so a tool that gets one prints
//!   or looks for the replacement character. Preview1 paths are UTF-8, so no file name is lost.
//! - Tools that take paths call [`enter_working_directory`] first: the shell passes its
//!   directory in `PWD` (and as a `.` preopen, which alone would also capture absolute paths).
//! - Standard output goes through [`Output`]: buffered, and written to fd 1 directly. When
//!   the reader of a pipe is gone (`EPIPE`), the tool ends quietly with status 141, as a Unix
//!   tool killed by `SIGPIPE` does (preview1 has no signals); any other write error prints
//!   `cat: write error: REASON` and exits with the tool's failure status (1; 2 for `ls`,
//!   `grep` and `sort`, 125 for `env`), instead of a panic. Messages to stderr never panic.
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};

/// The program's arguments without `argv[0]`, each converted lossily from bytes.
pub fn args() -> Vec<String> {
    std::env::args_os()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect()
}

/// Makes `PWD` the current directory when it is set and absolute, so that relative paths
/// resolve against the directory the shell is in and absolute ones against `/`, whether the
/// shell granted that directory as a `.` preopen or not (see `cella_process::enter_pwd`). A
/// `PWD` that does not name a directory is ignored, as a stale one would be by a shell.
pub fn enter_working_directory() {
    cella_process::enter_pwd();
}

/// The exit status of a tool whose reader went away: 128 + SIGPIPE, as on Unix.
pub const BROKEN_PIPE_STATUS: i32 = 141;

/// A tool's buffered standard output. Writes never return an error: a closed pipe ends the
/// program quietly with [`BROKEN_PIPE_STATUS`] (what a Unix tool killed by `SIGPIPE` shows);
/// any other error ends it with `NAME: write error: REASON` and the tool's failure status,
/// its `usage_status`.
/// Call [`Output::exit`] rather than `std::process::exit`, which would drop what is buffered.
pub struct Output {
    name: &'static str,
    failure: i32,
    inner: BufWriter<RawStdout>,
}

/// fd 1 written directly: std's `Stdout` is line-buffered, and its search for newlines in
/// every write costs more than the write itself for bulk output (a `cat` of a large file).
/// [`Output`] does its own buffering.
struct RawStdout;

impl Write for RawStdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        use std::os::fd::FromRawFd;
        // SAFETY: fd 1 stays open for the life of the program; ManuallyDrop never closes it.
        let stdout = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
        (&*stdout).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Output {
    /// Writes all of `bytes`.
    pub fn put(&mut self, bytes: &[u8]) {
        if let Err(e) = self.inner.write_all(bytes) {
            self.broken(&e);
        }
    }

    /// Writes what is buffered, for output that should appear now (interactive `cat`).
    pub fn flush_now(&mut self) {
        if let Err(e) = self.inner.flush() {
            self.broken(&e);
        }
    }

    /// Flushes and exits with `status`.
    pub fn exit(mut self, status: i32) -> ! {
        self.flush_now();
        std::process::exit(status)
    }

    fn broken(&mut self, error: &io::Error) -> ! {
        if error.kind() == io::ErrorKind::BrokenPipe {
            // Nobody reads any more (`yes | head -1`): end quietly with the status a
            // Unix process killed by SIGPIPE shows, as the user would see it there.
            std::process::exit(BROKEN_PIPE_STATUS)
        }
        let _ = writeln!(
            io::stderr(),
            "{}: write error: {}",
            self.name,
            describe(error)
        );
        std::process::exit(self.failure)
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.put(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_now();
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.flush_now();
    }
}

/// What a tool tells the option parser about itself.
pub struct Tool {
    /// The name errors start with (`ls: ...`).
    pub name: &'static str,
    /// The one-line synopsis shown after a bad option.
    pub usage: &'static str,
    /// GNU's exit status for a bad command line (2 for `ls`, `grep`, `sort`; 1 for most).
    pub usage_status: i32,
}

impl Tool {
    /// Reports a bad command line on one line and exits with the tool's usage status.
    pub fn usage_error(&self, message: &str) -> ! {
        let _ = writeln!(
            io::stderr(),
            "{}: {message} (usage: {})",
            self.name,
            self.usage
        );
        std::process::exit(self.usage_status)
    }

    /// Prints `NAME: MESSAGE` on stderr and exits with status 1.
    pub fn fail(&self, message: &str) -> ! {
        self.warn(message);
        std::process::exit(1)
    }

    /// The tool's standard output, see [`Output`].
    pub fn output(&self) -> Output {
        Output {
            name: self.name,
            failure: self.usage_status,
            inner: BufWriter::with_capacity(64 * 1024, RawStdout),
        }
    }

    /// For `head` and `tail`: reports a count that is not a number, and exits with 1.
    pub fn invalid_count(&self, by_bytes: bool, value: &str) -> ! {
        let what = if by_bytes { "bytes" } else { "lines" };
        self.fail(&format!("invalid number of {what}: '{value}'"))
    }

    /// For `cp` and `mv`: a usage error, with GNU's words, unless `operands` hold a SOURCE
    /// and a DEST.
    pub fn require_source_and_destination(&self, operands: &[String]) {
        match operands {
            [] => self.usage_error("missing file operand"),
            [only] => self.usage_error(&format!("missing destination file operand after '{only}'")),
            _ => {}
        }
    }

    /// Prints `NAME: MESSAGE` on stderr.
    pub fn warn(&self, message: &str) {
        // Not `eprintln!`, which panics when stderr is a pipe nobody reads any more.
        let _ = writeln!(io::stderr(), "{}: {message}", self.name);
    }

    /// Runs `act(source, target)` for each source of `SOURCE... DEST` (as `cp`, `mv` and `ln`
    /// take them; the caller has checked there are at least two operands, e.g. with
    /// [`Tool::require_source_and_destination`]), where the target
    /// is DEST, or DEST/NAME when DEST is a directory. Several sources need DEST to be a
    /// directory. Each failure is reported; exits with 1 if any failed, else 0.
    pub fn each_into_destination(
        &self,
        mut operands: Vec<String>,
        mut act: impl FnMut(&str, &Path) -> Result<(), String>,
    ) -> ! {
        let dest = operands.pop().unwrap_or_default();
        if operands.len() > 1 {
            match std::fs::metadata(&dest) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => self.fail(&format!("target '{dest}': Not a directory")),
                Err(e) => self.fail(&format!("target '{dest}': {}", describe(&e))),
            }
        }
        let mut status = 0;
        for source in &operands {
            if let Err(message) = act(source, &destination(source, &dest)) {
                self.warn(&message);
                status = 1;
            }
        }
        std::process::exit(status)
    }

    /// Parses `args` (without argv[0]) the way GNU getopt does: clustered flags (`-la`), option
    /// values attached or separate (`-n5`, `-n 5`), options anywhere among the operands, `--`
    /// ending them and `-` being an operand. `flags` lists the letters that take no value,
    /// `valued` those that take one. Returns the options in order and the operands.
    pub fn parse(
        &self,
        args: impl IntoIterator<Item = String>,
        flags: &str,
        valued: &str,
    ) -> (Vec<(char, String)>, Vec<String>) {
        let mut options = Vec::new();
        let mut operands = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--" {
                operands.extend(args.by_ref());
                break;
            }
            if arg.starts_with("--") {
                self.usage_error(&format!("unrecognized option '{arg}'"));
            }
            if arg.len() < 2 || !arg.starts_with('-') {
                operands.push(arg);
                continue;
            }
            for (at, letter) in arg.char_indices().skip(1) {
                if flags.contains(letter) {
                    options.push((letter, String::new()));
                } else if valued.contains(letter) {
                    let rest = &arg[at + letter.len_utf8()..];
                    let value = if rest.is_empty() {
                        args.next().unwrap_or_else(|| {
                            self.usage_error(&format!("option requires an argument -- '{letter}'"))
                        })
                    } else {
                        rest.to_string()
                    };
                    options.push((letter, value));
                    break;
                } else {
                    self.usage_error(&format!("invalid option -- '{letter}'"));
                }
            }
        }
        (options, operands)
    }
}

/// An I/O error as GNU tools word it: `No such file or directory`, without std's
/// ` (os error 44)` suffix.
pub fn describe(error: &io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Turns a preview1 errno into an `io::Error` carrying it.
fn io_error(errno: wasi::Errno) -> io::Error {
    io::Error::from_raw_os_error(i32::from(errno.raw()))
}

/// The preopened directories: their fds and normalised names (`/data`; `.` becomes `/`). A
/// `.` (the working directory the shell grants) is left out when `/` itself is preopened:
/// the tools reach it by its name in `PWD`.
fn preopens() -> Vec<(wasi::Fd, PathBuf)> {
    /// wasi-libc numbers preopens from fd 3 up, without gaps.
    const FIRST_PREOPEN: wasi::Fd = 3;
    let mut found = Vec::new();
    for fd in FIRST_PREOPEN.. {
        // SAFETY: a plain call; it writes only the returned value.
        let Ok(prestat) = (unsafe { wasi::fd_prestat_get(fd) }) else {
            break;
        };
        if prestat.tag != wasi::PREOPENTYPE_DIR.raw() {
            continue;
        }
        // SAFETY: the tag says the union holds the `dir` variant.
        let len = unsafe { prestat.u.dir.pr_name_len };
        let mut name = vec![0u8; len];
        // SAFETY: `name` is a writable buffer of exactly the length the kernel reported.
        if unsafe { wasi::fd_prestat_dir_name(fd, name.as_mut_ptr(), len) }.is_err() {
            continue;
        }
        let name = String::from_utf8_lossy(&name)
            .trim_end_matches('\0')
            .to_string();
        let current_dir = matches!(name.as_str(), "." | "./");
        found.push((fd, normalise(Path::new(&name)), current_dir));
    }
    let has_root = found
        .iter()
        .any(|(_, name, current_dir)| !current_dir && name == Path::new("/"));
    found
        .into_iter()
        .filter(|(_, _, current_dir)| !(has_root && *current_dir))
        .map(|(fd, name, _)| (fd, name))
        .collect()
}

/// `path` made absolute against the current directory, with `.` and `..` folded lexically.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The preopened directory holding `path` (the longest matching name) and the path relative
/// to it, as preview1's `path_*` calls want it. Relative paths are taken from the current
/// directory (wasi-libc's, `/` unless the program changed it).
pub fn resolve(path: &Path) -> io::Result<(wasi::Fd, String)> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let absolute = normalise(&cwd.join(path));
    let (fd, prefix) = preopens()
        .into_iter()
        .filter(|(_, name)| absolute.starts_with(name))
        .max_by_key(|(_, name)| name.components().count())
        .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
    let relative = absolute
        .strip_prefix(&prefix)
        .map_err(|_| io::Error::from(io::ErrorKind::NotFound))?;
    let mut relative = relative.to_string_lossy().into_owned();
    if relative.is_empty() {
        relative.push('.');
    }
    // A trailing slash asks for a directory; keep it as the caller wrote it.
    if path.to_string_lossy().ends_with('/') && relative != "." {
        relative.push('/');
    }
    Ok((fd, relative))
}

/// Creates a symbolic link at `link` whose contents are `target` (`ln -s TARGET LINK`).
pub fn symlink(target: &str, link: &Path) -> io::Result<()> {
    let (fd, relative) = resolve(link)?;
    // SAFETY: a plain call with two string arguments.
    unsafe { wasi::path_symlink(target, fd, &relative) }.map_err(io_error)
}

/// The preview1 `filestat` of `path`, following a final symlink if `follow`: unlike std's
/// `Metadata` it has the link count.
pub fn stat(path: &Path, follow: bool) -> io::Result<wasi::Filestat> {
    let (fd, relative) = resolve(path)?;
    let flags = if follow {
        wasi::LOOKUPFLAGS_SYMLINK_FOLLOW
    } else {
        0
    };
    // SAFETY: a plain call with a string argument; it writes only the returned value.
    unsafe { wasi::path_filestat_get(fd, flags, &relative) }.map_err(io_error)
}

/// Sets the access and modification times of `path` (a file or a directory) to now.
pub fn touch_now(path: &Path) -> io::Result<()> {
    let (fd, relative) = resolve(path)?;
    let now = wasi::FSTFLAGS_ATIM_NOW | wasi::FSTFLAGS_MTIM_NOW;
    // SAFETY: a plain call with a string argument.
    unsafe {
        wasi::path_filestat_set_times(fd, wasi::LOOKUPFLAGS_SYMLINK_FOLLOW, &relative, 0, 0, now)
    }
    .map_err(io_error)
}

/// Opens file `name` for reading; a directory is refused with `EISDIR`, as Linux's `read`
/// would (preview1 reports `EBADF` for reading a directory fd, which reads badly).
pub fn open(name: &str) -> io::Result<std::fs::File> {
    /// preview1's `EISDIR`.
    const EISDIR: i32 = 31;
    let file = std::fs::File::open(name)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::from_raw_os_error(EISDIR));
    }
    Ok(file)
}

/// Reads from stdin straight into `buf`, bypassing std's buffer: a shell reading its script
/// from stdin must not take bytes that belong to the commands it runs after it.
pub fn read_stdin_unbuffered(buf: &mut [u8]) -> io::Result<usize> {
    /// preview1's fd for stdin.
    const STDIN: wasi::Fd = 0;
    let iovec = wasi::Iovec {
        buf: buf.as_mut_ptr(),
        buf_len: buf.len(),
    };
    // SAFETY: the one iovec describes `buf`, which is writable for its whole length.
    unsafe { wasi::fd_read(STDIN, &[iovec]) }.map_err(io_error)
}

/// Reads all of `name` (`-` is stdin), for the tools that read whole inputs.
pub fn read_input(name: &str) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    if name == "-" {
        io::stdin().lock().read_to_end(&mut bytes)?;
    } else {
        open(name)?.read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

/// For `head` and `tail`: rewrites the obsolete `-N` form (`head -5`), still common in
/// pipelines, as `-nN`; GNU takes it as the first argument only.
pub fn expand_obsolete_count(args: &mut [String]) {
    if let Some(first) = args.first_mut()
        && first.len() > 1
        && first.starts_with('-')
        && first[1..].bytes().all(|b| b.is_ascii_digit())
    {
        *first = format!("-n{}", &first[1..]);
    }
}

/// For `head` and `tail` with several files: the `==> NAME <==` line before each (`-` is
/// standard input), after a blank line from the second file on.
pub fn file_header(name: &str, first: bool) -> String {
    let shown = if name == "-" { "standard input" } else { name };
    format!("{}==> {shown} <==\n", if first { "" } else { "\n" })
}

/// Splits `bytes` into lines without their `\n`; a last line without one still counts.
pub fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        lines.pop();
    }
    lines
}

/// The offset just past the first `n` lines of `bytes` (all of it if it has fewer).
pub fn after_lines(bytes: &[u8], n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    bytes
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'\n')
        .nth(n - 1)
        .map_or(bytes.len(), |(at, _)| at + 1)
}

/// Copies `from` to `to` recursively: files by content, directories entry by entry, and
/// symbolic links as links (as `cp -r` does), merging into directories that exist.
pub fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(from)?;
        symlink(&target.to_string_lossy(), to)
    } else if meta.is_dir() {
        // Into a directory that is already there, copy what is inside, as GNU cp does.
        match std::fs::create_dir(to) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && to.is_dir() => {}
            other => other?,
        }
        let mut names: Vec<_> = std::fs::read_dir(from)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        names
            .iter()
            .try_for_each(|name| copy_tree(&from.join(name), &to.join(name)))
    } else {
        std::fs::copy(from, to).map(drop)
    }
}

/// The entries of directory `path` in name order, each as its name and its path
/// (`path/name`, without doubling a `/` that `path` ends in), for the tools that walk trees.
pub fn children(path: &str) -> io::Result<Vec<(String, String)>> {
    let mut names: Vec<String> = std::fs::read_dir(path)?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let separator = if path.ends_with('/') { "" } else { "/" };
    Ok(names
        .into_iter()
        .map(|name| {
            let joined = format!("{path}{separator}{name}");
            (name, joined)
        })
        .collect())
}

/// Where `mv`/`cp`/`ln` put `source` when the destination operand is `dest`: inside it if it
/// is an existing directory (following a symlink), else `dest` itself.
pub fn destination(source: &str, dest: &str) -> PathBuf {
    if std::fs::metadata(dest).is_ok_and(|m| m.is_dir()) {
        let base = Path::new(source.trim_end_matches('/'))
            .file_name()
            .unwrap_or_default();
        Path::new(dest).join(base)
    } else {
        PathBuf::from(dest)
    }
}

/// Whether `inner` is `outer` or lies under it, comparing the paths lexically.
pub fn is_within(inner: &Path, outer: &Path) -> bool {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    normalise(&cwd.join(inner)).starts_with(normalise(&cwd.join(outer)))
}

/// The POSIX character class `name` (`alpha` for `[:alpha:]`) in the C locale, as a test on
/// characters; `None` if there is no such class.
pub fn char_class(name: &str) -> Option<fn(char) -> bool> {
    Some(match name {
        "alpha" => |c: char| c.is_ascii_alphabetic(),
        "digit" => |c: char| c.is_ascii_digit(),
        "alnum" => |c: char| c.is_ascii_alphanumeric(),
        "upper" => |c: char| c.is_ascii_uppercase(),
        "lower" => |c: char| c.is_ascii_lowercase(),
        "space" => |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'),
        "blank" => |c: char| matches!(c, ' ' | '\t'),
        "punct" => |c: char| c.is_ascii_punctuation(),
        "print" => |c: char| matches!(c, ' '..='~'),
        "graph" => |c: char| c.is_ascii_graphic(),
        "cntrl" => |c: char| c.is_ascii_control(),
        "xdigit" => |c: char| c.is_ascii_hexdigit(),
        _ => return None,
    })
}

/// One item of a bracket expression.
enum BracketItem {
    Range(char, char),
    Class(fn(char) -> bool),
}

/// A bracket expression (`[a-z_]`, `[^[:space:]]`) of a regular expression or a file name
/// pattern.
pub struct Bracket {
    negated: bool,
    items: Vec<BracketItem>,
}

impl Bracket {
    /// Parses the bracket expression that `pattern` starts with (at its `[`), where any of
    /// `negators` right after the `[` negates it (`^` in regular expressions, `!` and `^` in
    /// file name patterns): the expression and how many characters it took, or `None` when
    /// no `]` closes it, or a class name is unknown.
    pub fn parse(pattern: &[char], negators: &[char]) -> Option<(Bracket, usize)> {
        let mut i = 1;
        let negated = pattern.get(i).is_some_and(|c| negators.contains(c));
        if negated {
            i += 1;
        }
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let &low = pattern.get(i)?;
            if low == ']' && !first {
                return Some((Bracket { negated, items }, i + 1));
            }
            first = false;
            if low == '[' && pattern.get(i + 1) == Some(&':') {
                let rest = &pattern[i + 2..];
                let end = rest.windows(2).position(|w| w == [':', ']'])?;
                let name: String = rest[..end].iter().collect();
                items.push(BracketItem::Class(char_class(&name)?));
                i += end + 4;
            } else if pattern.get(i + 1) == Some(&'-')
                && let Some(&high) = pattern.get(i + 2)
                && high != ']'
            {
                items.push(BracketItem::Range(low, high));
                i += 3;
            } else {
                items.push(BracketItem::Range(low, low));
                i += 1;
            }
        }
    }

    /// Whether `c` is in the set.
    pub fn matches(&self, c: char) -> bool {
        let inside = self.items.iter().any(|item| match *item {
            BracketItem::Range(low, high) => (low..=high).contains(&c),
            BracketItem::Class(test) => test(c),
        });
        inside != self.negated
    }
}

/// `bytes` as GNU `du -h` and `df -h` show them: `512`, `1.5K`, `12M` (powers of 1024),
/// one decimal below 10, rounded up.
pub fn human_size(bytes: u64) -> String {
    const UNITS: &[char] = &['K', 'M', 'G', 'T', 'P', 'E'];
    if bytes < 1024 {
        return bytes.to_string();
    }
    let mut unit = 0;
    let mut scale = 1024;
    while unit + 1 < UNITS.len() && bytes >= scale * 1024 {
        scale *= 1024;
        unit += 1;
    }
    // Tenths, rounded up.
    let tenths = (u128::from(bytes) * 10).div_ceil(u128::from(scale));
    if tenths < 100 {
        format!("{}.{}{}", tenths / 10, tenths % 10, UNITS[unit])
    } else {
        let whole = u128::from(bytes).div_ceil(u128::from(scale));
        if whole >= 1024 && unit + 1 < UNITS.len() {
            format!("1.0{}", UNITS[unit + 1])
        } else {
            format!("{whole}{}", UNITS[unit])
        }
    }
}
