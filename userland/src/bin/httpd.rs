//! `httpd [--root DIR] [--quiet]`: a small HTTP/1.1 server for GET and HEAD. It answers
//! `/hello` with "Hello, world!\n" and serves the files under DIR, the guest path of a
//! preopened directory or of a directory below one (default: the first preopen; with none,
//! only `/hello` is served and every other path is 404). It listens on the sockets the host
//! hands over as fds right after stdio: `wasmi run --tcplisten HOST:PORT httpd.wasm`,
//! `./qemu.sh --tcplisten HOST:PORT userland/httpd.wasm` (wasmtime 49 cannot host it: its
//! `-S tcplisten` needs the legacy preview1 implementation it has dropped). Each request is
//! logged on stdout as `METHOD TARGET STATUS BYTES` (BYTES: the body's length) unless
//! `--quiet`; the startup line on stderr names the listening fds.
//!
//! One thread runs one event loop. Preview1 has no threads, and hosts hand the listener over
//! non-blocking (under wasmi a blocking `accept` gets `EAGAIN`), so every socket is made
//! non-blocking and the process waits in `poll_oneoff`: `FD_READ` on the listeners and on the
//! connections that wait for a request, `FD_WRITE` on those with output pending, and one
//! clock subscription for the nearest timeout.
//!
//! Files are opened with `path_open` on the root's fd, not through `std::fs`: wasi-libc finds
//! the preopens by scanning fds from 3 and stops at the first one that is not a preopened
//! directory, so a listening socket at fd 3 hides every preopen from `std::fs`.
//!
//! Behaviour: a directory serves its `index.html`; a path with a `..` segment (after
//! percent-decoding) is 403 without touching the file system; other known methods get 405
//! with `Allow`, unknown ones 501; a malformed head is 400, a head over 8 KiB is 431, a
//! `Transfer-Encoding` body 501, an HTTP version other than 1.0 and 1.1 is 505 (each of these
//! closes the connection); `Content-Length` bodies are read and dropped up to 1 MiB (413
//! beyond). Connections are kept alive as HTTP/1.1 and 1.0 say, pipelined requests are
//! answered in order, and a connection idle for 15 s, or with a request unfinished after
//! 10 s, is closed. A client's misbehaviour only ever ends its own connection.
//!
//! The request parser and the path sanitiser are tested in this file: build the tests with
//! `cargo test --release --bin httpd --no-run` and run the test `.wasm` under wasmtime.
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::{Duration, Instant};

/// The first fd after stdio, where hosts put listeners and preopens.
const FIRST_FD: wasi::Fd = 3;
/// How far the startup scan looks for listeners and preopens.
const MAX_SCANNED_FD: wasi::Fd = 1024;
/// At this many open connections the listeners are no longer polled.
const MAX_CONNECTIONS: usize = 4096;
/// The largest request head (request line and headers) accepted; beyond it, 431.
const HEADER_LIMIT: usize = 8 * 1024;
/// The largest request body read and dropped; beyond it, 413.
const BODY_LIMIT: u64 = 1024 * 1024;
/// The most bytes read from a socket at once.
const READ_CHUNK: usize = 16 * 1024;
/// The most bytes read from a file at once, and so the largest write of a file's body.
const FILE_CHUNK: usize = 64 * 1024;
/// A file's next chunk is read once less than this is left to send, so a response head and
/// the first chunk go out in one write, and leftovers are cheap to move to the front.
const REFILL_BELOW: usize = 4 * 1024;
/// Pipelined requests are answered until this much output waits, then the socket must drain;
/// buffers grown beyond it by a file are shrunk back once sent.
const OUTPUT_HIGH_WATER: usize = 16 * 1024;
/// How long a kept-alive connection may wait for its next request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a request may take to arrive in full, counted from its first byte.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a response may wait for the socket to take more of it.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection closed by the server still reads (and drops) what the client sends,
/// so that unread input does not make the host reset the connection before the client has
/// read the response.
const LINGER_TIMEOUT: Duration = Duration::from_secs(2);
/// How long accepting pauses after an error other than `EAGAIN` (out of fds, say), so a
/// listener that stays readable does not spin the loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// The most connections accepted per readiness event, so a flood of connects cannot starve
/// the connections already open.
const ACCEPT_BATCH: usize = 64;
/// Marks a subscription's userdata as a listener's (the index of the listener below it);
/// a connection's userdata is its slot index.
const LISTENER_TAG: u64 = 1 << 63;
/// The userdata of the timeout subscription.
const CLOCK_USERDATA: u64 = u64::MAX;
/// The exit status for a bad command line or no socket to listen on.
const USAGE_STATUS: i32 = 2;
const USAGE: &str = "usage: httpd [--root DIR] [--quiet]";
const HELLO_PATH: &[u8] = b"/hello";
const HELLO_BODY: &[u8] = b"Hello, world!\n";
const SERVER_HEADER: &str = "Server: cella-httpd\r\n";
const ALLOW_HEADER: &str = "Allow: GET, HEAD\r\n";
/// Methods that exist but that this server does not allow (405); any other is 501.
const KNOWN_METHODS: [&[u8]; 7] = [
    b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE", b"CONNECT",
];

/// The statuses this server answers with.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Status {
    Ok,
    BadRequest,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    HeaderFieldsTooLarge,
    InternalError,
    NotImplemented,
    VersionNotSupported,
}

impl Status {
    fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::PayloadTooLarge => 413,
            Status::HeaderFieldsTooLarge => 431,
            Status::InternalError => 500,
            Status::NotImplemented => 501,
            Status::VersionNotSupported => 505,
        }
    }

    /// The status line, and the body of an error response.
    fn text(self) -> &'static str {
        match self {
            Status::Ok => "200 OK",
            Status::BadRequest => "400 Bad Request",
            Status::Forbidden => "403 Forbidden",
            Status::NotFound => "404 Not Found",
            Status::MethodNotAllowed => "405 Method Not Allowed",
            Status::PayloadTooLarge => "413 Content Too Large",
            Status::HeaderFieldsTooLarge => "431 Request Header Fields Too Large",
            Status::InternalError => "500 Internal Server Error",
            Status::NotImplemented => "501 Not Implemented",
            Status::VersionNotSupported => "505 HTTP Version Not Supported",
        }
    }
}

/// A parsed request head; the slices point into the connection's input.
#[derive(Debug, PartialEq)]
struct Request<'a> {
    method: &'a [u8],
    target: &'a [u8],
    http10: bool,
    keep_alive: bool,
    content_length: u64,
    /// The request has a `Transfer-Encoding` (chunked or other), which is not supported.
    transfer_encoding: bool,
}

/// Stands for a head that could not be parsed, in the access log and for the response.
const UNPARSED: Request = Request {
    method: b"-",
    target: b"-",
    http10: false,
    keep_alive: false,
    content_length: 0,
    transfer_encoding: false,
};

/// What the bytes received so far hold.
#[derive(Debug, PartialEq)]
enum Parsed<'a> {
    /// The head is not complete yet.
    Partial,
    /// A request, and how many bytes its head took.
    Complete(Request<'a>, usize),
    /// A head that cannot be answered but with this error.
    Invalid(Status),
}

/// The `tchar`s of RFC 9110 §5.6.2, which make up methods and header names.
fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| TOKEN_BYTES[usize::from(b)])
}

/// The bytes of an RFC 9110 token (`tchar`), by value: a table, as headers are checked
/// byte by byte for every request.
const TOKEN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
            )
            || matches!(c, b'^' | b'_' | b'`' | b'|' | b'~');
        b += 1;
    }
    table
};

/// Where the head in `buf` ends: just past the empty line that closes it. Lines may end in
/// CRLF or a bare LF (RFC 9112 §2.2 lets a server accept the latter).
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = buf[from..].iter().position(|&b| b == b'\n') {
        let rest = &buf[from + at + 1..];
        if rest.starts_with(b"\n") {
            return Some(from + at + 2);
        }
        if rest.starts_with(b"\r\n") {
            return Some(from + at + 3);
        }
        from += at + 1;
    }
    None
}

/// Whether the connection stays open after the response, from the request's version and its
/// `Connection` options.
fn keep_alive(http10: bool, close: bool, keep_alive: bool) -> bool {
    !close && (!http10 || keep_alive)
}

/// Parses the request head at the start of `buf`.
fn parse_request(buf: &[u8]) -> Parsed<'_> {
    // Empty lines before a request line are ignored (RFC 9112 §2.2).
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let Some(length) = head_end(&buf[start..]) else {
        return if buf.len() > HEADER_LIMIT {
            Parsed::Invalid(Status::HeaderFieldsTooLarge)
        } else {
            Parsed::Partial
        };
    };
    if length > HEADER_LIMIT {
        return Parsed::Invalid(Status::HeaderFieldsTooLarge);
    }
    let mut lines = buf[start..start + length]
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Parsed::Invalid(Status::BadRequest);
    };
    if !is_token(method) || target.is_empty() || target.iter().any(|&b| b <= b' ' || b == 0x7f) {
        return Parsed::Invalid(Status::BadRequest);
    }
    let http10 = match version {
        b"HTTP/1.1" => false,
        b"HTTP/1.0" => true,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Parsed::Invalid(Status::VersionNotSupported);
        }
        _ => return Parsed::Invalid(Status::BadRequest),
    };
    let (mut close, mut keep) = (false, false);
    let mut content_length = None;
    let mut transfer_encoding = false;
    for line in lines {
        if line.is_empty() {
            break;
        }
        // No space before the colon, no folded lines, no stray CR (RFC 9112 §5).
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Parsed::Invalid(Status::BadRequest);
        };
        let name = &line[..colon];
        let value = line[colon + 1..].trim_ascii();
        if !is_token(name) || value.iter().any(|&b| b == b'\r' || b == 0) {
            return Parsed::Invalid(Status::BadRequest);
        }
        if name.eq_ignore_ascii_case(b"connection") {
            for option in value.split(|&b| b == b',') {
                let option = option.trim_ascii();
                close |= option.eq_ignore_ascii_case(b"close");
                keep |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let Some(length) = parse_length(value) else {
                return Parsed::Invalid(Status::BadRequest);
            };
            if content_length.is_some_and(|known| known != length) {
                return Parsed::Invalid(Status::BadRequest);
            }
            content_length = Some(length);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoding = true;
        }
    }
    Parsed::Complete(
        Request {
            method,
            target,
            http10,
            keep_alive: keep_alive(http10, close, keep),
            content_length: content_length.unwrap_or(0),
            transfer_encoding,
        },
        start + length,
    )
}

/// A `Content-Length` value: decimal digits only, and no overflow.
fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// The value of one hex digit.
fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// The path of a request target: the origin form's path, or an absolute form's
/// (`http://host/path`), without query or fragment.
fn target_path(target: &[u8]) -> &[u8] {
    let mut path = target;
    for scheme in [&b"http://"[..], b"https://"] {
        if path.len() > scheme.len() && path[..scheme.len()].eq_ignore_ascii_case(scheme) {
            let rest = &path[scheme.len()..];
            path = rest
                .iter()
                .position(|&b| b == b'/')
                .map_or(&b"/"[..], |slash| &rest[slash..]);
        }
    }
    let end = path
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(path.len());
    &path[..end]
}

/// Turns a request path into a path relative to the served directory, in `out` ("." for the
/// directory itself); `decoded` is scratch space. Percent escapes are decoded first, so an
/// escaped `..` is caught too: any `..` segment is 403. Bad escapes, bytes that are not
/// UTF-8 (preview1 paths are strings) and NUL are 400.
fn sanitise_path(path: &[u8], decoded: &mut Vec<u8>, out: &mut String) -> Result<(), Status> {
    if !path.starts_with(b"/") {
        return Err(Status::BadRequest);
    }
    decoded.clear();
    let mut bytes = path.iter();
    while let Some(&b) = bytes.next() {
        if b == b'%' {
            let high = bytes.next().copied().and_then(hex);
            let low = bytes.next().copied().and_then(hex);
            let (Some(high), Some(low)) = (high, low) else {
                return Err(Status::BadRequest);
            };
            decoded.push(high << 4 | low);
        } else {
            decoded.push(b);
        }
    }
    let Ok(text) = std::str::from_utf8(decoded) else {
        return Err(Status::BadRequest);
    };
    if text.contains('\0') {
        return Err(Status::BadRequest);
    }
    out.clear();
    for segment in text.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(Status::Forbidden),
            _ => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(segment);
            }
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    Ok(())
}

/// The Content-Type for a file name's extension.
fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let extension = name.rsplit_once('.').map_or("", |(_, extension)| extension);
    const TYPES: [(&str, &str); 11] = [
        ("html", "text/html; charset=utf-8"),
        ("htm", "text/html; charset=utf-8"),
        ("css", "text/css"),
        ("js", "text/javascript"),
        ("json", "application/json"),
        ("txt", "text/plain; charset=utf-8"),
        ("png", "image/png"),
        ("jpg", "image/jpeg"),
        ("jpeg", "image/jpeg"),
        ("svg", "image/svg+xml"),
        ("wasm", "application/wasm"),
    ];
    TYPES
        .iter()
        .find(|(known, _)| extension.eq_ignore_ascii_case(known))
        .map_or("application/octet-stream", |&(_, kind)| kind)
}

/// Appends a response head to `out`. `http10_keep_alive` says a kept HTTP/1.0 connection,
/// which must be confirmed in a header; a closing connection says so.
fn write_head(
    out: &mut Vec<u8>,
    status: Status,
    kind: &str,
    length: u64,
    keep_alive: bool,
    http10: bool,
    extra: &str,
) {
    let connection = match (keep_alive, http10) {
        (false, _) => "Connection: close\r\n",
        (true, true) => "Connection: keep-alive\r\n",
        (true, false) => "",
    };
    // Pieces rather than `write!`: core::fmt costs thousands of wasm instructions a head.
    for piece in [
        b"HTTP/1.1 ".as_slice(),
        status.text().as_bytes(),
        b"\r\n",
        SERVER_HEADER.as_bytes(),
        b"Content-Type: ",
        kind.as_bytes(),
        b"\r\nContent-Length: ",
    ] {
        out.extend_from_slice(piece);
    }
    push_decimal(out, length);
    for piece in [
        b"\r\n".as_slice(),
        extra.as_bytes(),
        connection.as_bytes(),
        b"\r\n",
    ] {
        out.extend_from_slice(piece);
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// The result of `fd_read` or `fd_write`, with `EINTR` retried.
fn retry(mut call: impl FnMut() -> Result<usize, wasi::Errno>) -> Result<usize, wasi::Errno> {
    loop {
        match call() {
            Err(wasi::ERRNO_INTR) => continue,
            result => return result,
        }
    }
}

/// Reads at most `max` bytes from `fd` onto the end of `buf`, without zeroing the space first.
fn read_into(fd: wasi::Fd, buf: &mut Vec<u8>, max: usize) -> Result<usize, wasi::Errno> {
    buf.reserve(max);
    let spare = buf.spare_capacity_mut();
    let iovec = wasi::Iovec {
        buf: spare.as_mut_ptr().cast(),
        buf_len: max.min(spare.len()),
    };
    // SAFETY: the iovec covers `buf`'s spare capacity, which is writable and stays allocated
    // for the call; the host writes at most `buf_len` bytes there.
    let n = retry(|| unsafe { wasi::fd_read(fd, &[iovec]) })?.min(iovec.buf_len);
    // SAFETY: the host initialised the first `n` bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// A connection's socket, closed on drop.
struct Socket(wasi::Fd);

impl Socket {
    fn send(&self, bytes: &[u8]) -> Result<usize, wasi::Errno> {
        let ciovec = wasi::Ciovec {
            buf: bytes.as_ptr(),
            buf_len: bytes.len(),
        };
        // SAFETY: the ciovec covers `bytes`, which the host only reads during the call.
        retry(|| unsafe { wasi::fd_write(self.0, &[ciovec]) }).map(|n| n.min(bytes.len()))
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: the socket owns its fd, and nothing uses it after this.
        let _ = unsafe { wasi::fd_close(self.0) };
    }
}

/// Makes `fd` non-blocking, keeping its other flags; one call when it is already.
fn set_nonblocking(fd: wasi::Fd) -> Result<(), wasi::Errno> {
    // SAFETY: fd_fdstat_get and fd_fdstat_set_flags only take an fd number; an fd that is not
    // ours or not open just gets an errno.
    unsafe {
        let flags = wasi::fd_fdstat_get(fd)?.fs_flags;
        if flags & wasi::FDFLAGS_NONBLOCK != 0 {
            return Ok(());
        }
        wasi::fd_fdstat_set_flags(fd, flags | wasi::FDFLAGS_NONBLOCK)
    }
}

/// What the server serves and where its access log goes; shared by all connections.
struct Site {
    /// The fd of the served directory.
    root: Option<wasi::Fd>,
    quiet: bool,
    /// Access-log lines, written out once per turn of the event loop.
    log: Vec<u8>,
    /// Scratch space for decoding request paths.
    decoded: Vec<u8>,
    path: String,
}

/// A file being sent, and how many of its bytes are still to go.
struct Body {
    file: File,
    remaining: u64,
}

impl Site {
    /// Appends the access-log line of one response.
    fn log(&mut self, method: &[u8], target: &[u8], status: Status, bytes: u64) {
        if self.quiet {
            return;
        }
        self.log.extend_from_slice(method);
        self.log.push(b' ');
        self.log.extend_from_slice(target);
        self.log.push(b' ');
        push_decimal(&mut self.log, status.code().into());
        self.log.push(b' ');
        push_decimal(&mut self.log, bytes);
        self.log.push(b'\n');
    }

    /// Appends an error response to `request` (the status's text as body) and logs it.
    fn error(&mut self, out: &mut Vec<u8>, status: Status, request: &Request) {
        let Request {
            method,
            target,
            http10,
            keep_alive,
            ..
        } = *request;
        let head_only = method == b"HEAD";
        let body = status.text();
        // "\n" ends the body, as it ends /hello's.
        let length = body.len() as u64 + 1;
        let extra = if status == Status::MethodNotAllowed {
            ALLOW_HEADER
        } else {
            ""
        };
        write_head(out, status, "text/plain", length, keep_alive, http10, extra);
        let sent = if head_only {
            0
        } else {
            out.extend_from_slice(body.as_bytes());
            out.push(b'\n');
            length
        };
        self.log(method, target, status, sent);
    }

    /// Appends the response to a well-formed request to `out`; returns the file to send
    /// after it, if any.
    fn respond(&mut self, request: &Request, out: &mut Vec<u8>) -> Option<Body> {
        let Request {
            method,
            target,
            http10,
            keep_alive,
            ..
        } = *request;
        let head_only = method == b"HEAD";
        if method != b"GET" && !head_only {
            let status = if KNOWN_METHODS.contains(&method) {
                Status::MethodNotAllowed
            } else {
                Status::NotImplemented
            };
            self.error(out, status, request);
            return None;
        }
        let path = target_path(target);
        if path == HELLO_PATH {
            let length = HELLO_BODY.len() as u64;
            write_head(
                out,
                Status::Ok,
                "text/plain",
                length,
                keep_alive,
                http10,
                "",
            );
            if !head_only {
                out.extend_from_slice(HELLO_BODY);
            }
            self.log(
                method,
                target,
                Status::Ok,
                if head_only { 0 } else { length },
            );
            return None;
        }
        match self.open(path) {
            Ok((file, length)) => {
                let kind = content_type(&self.path);
                write_head(out, Status::Ok, kind, length, keep_alive, http10, "");
                let sent = if head_only { 0 } else { length };
                self.log(method, target, Status::Ok, sent);
                (sent > 0).then_some(Body {
                    file,
                    remaining: length,
                })
            }
            Err(status) => {
                self.error(out, status, request);
                None
            }
        }
    }

    /// Opens the regular file a request path names (a directory's `index.html`), leaving its
    /// relative path in `self.path`; returns it with its length.
    fn open(&mut self, path: &[u8]) -> Result<(File, u64), Status> {
        let Some(root) = self.root else {
            return Err(Status::NotFound);
        };
        sanitise_path(path, &mut self.decoded, &mut self.path)?;
        let file = open_at(root, &self.path)?;
        let metadata = file.metadata().map_err(|_| Status::InternalError)?;
        if metadata.is_file() {
            return Ok((file, metadata.len()));
        }
        if !metadata.is_dir() {
            return Err(Status::NotFound);
        }
        drop(file);
        self.path.push_str("/index.html");
        let file = open_at(root, &self.path)?;
        let metadata = file.metadata().map_err(|_| Status::InternalError)?;
        if !metadata.is_file() {
            return Err(Status::NotFound);
        }
        Ok((file, metadata.len()))
    }
}

/// Opens `path` under the directory `dir` for reading.
fn open_at(dir: wasi::Fd, path: &str) -> Result<File, Status> {
    const RIGHTS: wasi::Rights =
        wasi::RIGHTS_FD_READ | wasi::RIGHTS_FD_SEEK | wasi::RIGHTS_FD_FILESTAT_GET;
    // SAFETY: path_open reads `path`'s bytes during the call and returns a new fd; the
    // sandbox keeps the lookup under `dir` (and sanitise_path has removed `..` already).
    let opened =
        unsafe { wasi::path_open(dir, wasi::LOOKUPFLAGS_SYMLINK_FOLLOW, path, 0, RIGHTS, 0, 0) };
    match opened {
        // SAFETY: path_open just returned this fd and nothing else owns it.
        Ok(fd) => Ok(unsafe { File::from_raw_fd(fd as i32) }),
        Err(wasi::ERRNO_ACCES | wasi::ERRNO_PERM | wasi::ERRNO_NOTCAPABLE) => {
            Err(Status::Forbidden)
        }
        Err(
            wasi::ERRNO_NOENT
            | wasi::ERRNO_NOTDIR
            | wasi::ERRNO_LOOP
            | wasi::ERRNO_NAMETOOLONG
            | wasi::ERRNO_ISDIR
            | wasi::ERRNO_INVAL,
        ) => Err(Status::NotFound),
        Err(_) => Err(Status::InternalError),
    }
}

/// One client connection.
struct Connection {
    socket: Socket,
    /// Bytes received and not yet consumed.
    input: Vec<u8>,
    /// Response bytes; those before `sent` are gone already.
    output: Vec<u8>,
    sent: usize,
    /// The file whose bytes follow `output`.
    body: Option<Body>,
    /// Request body bytes still to drop.
    discard: u64,
    /// The server closes the connection once its output is sent.
    close_after: bool,
    /// The client has closed its side.
    eof: bool,
    /// The server has shut down its side and drops input until the client closes.
    lingering: bool,
    /// When the first byte of the request being received arrived.
    request_started: Option<Instant>,
    deadline: Instant,
}

impl Connection {
    fn new(fd: wasi::Fd, now: Instant) -> Self {
        Connection {
            socket: Socket(fd),
            input: Vec::with_capacity(READ_CHUNK),
            output: Vec::new(),
            sent: 0,
            body: None,
            discard: 0,
            close_after: false,
            eof: false,
            lingering: false,
            request_started: None,
            deadline: now + IDLE_TIMEOUT,
        }
    }

    fn pending(&self) -> usize {
        self.output.len() - self.sent
    }

    /// Whether the connection waits for the socket to be writable rather than readable.
    fn wants_write(&self) -> bool {
        self.pending() > 0 || self.body.is_some()
    }

    /// Reads what the client sent, then answers; false when the connection is over.
    fn on_readable(&mut self, site: &mut Site, now: Instant) -> bool {
        match read_into(self.socket.0, &mut self.input, READ_CHUNK) {
            Ok(0) => self.eof = true,
            Ok(_) => {}
            Err(wasi::ERRNO_AGAIN) => return true,
            Err(_) => return false,
        }
        if self.lingering {
            self.input.clear();
            return !self.eof;
        }
        self.advance(site, now)
    }

    /// Answers the complete requests received and sends what the socket takes; false when
    /// the connection is over.
    fn advance(&mut self, site: &mut Site, now: Instant) -> bool {
        loop {
            if !self.lingering {
                self.answer_requests(site);
            }
            if !self.refill() {
                return false;
            }
            if self.pending() == 0 {
                self.output.clear();
                self.sent = 0;
                self.output.shrink_to(OUTPUT_HIGH_WATER);
                if self.lingering {
                    return true;
                }
                if self.eof {
                    return false;
                }
                if self.close_after {
                    return self.linger(now);
                }
                self.rearm(now);
                return true;
            }
            match self.socket.send(&self.output[self.sent..]) {
                Ok(0) => return false,
                Ok(n) => self.sent += n,
                Err(wasi::ERRNO_AGAIN) => {
                    self.rearm(now);
                    return true;
                }
                Err(_) => return false,
            }
        }
    }

    /// Sets the deadline for what the connection waits for now.
    fn rearm(&mut self, now: Instant) {
        self.deadline = if self.wants_write() {
            now + SEND_TIMEOUT
        } else if !self.input.is_empty() || self.discard > 0 {
            *self.request_started.get_or_insert(now) + REQUEST_TIMEOUT
        } else {
            self.request_started = None;
            now + IDLE_TIMEOUT
        };
    }

    /// Shuts down the sending side and drops input for a while; false if that fails.
    fn linger(&mut self, now: Instant) -> bool {
        // SAFETY: sock_shutdown only takes the fd, which this connection owns.
        if unsafe { wasi::sock_shutdown(self.socket.0, wasi::SDFLAGS_WR) }.is_err() {
            return false;
        }
        self.lingering = true;
        self.input.clear();
        self.deadline = now + LINGER_TIMEOUT;
        true
    }

    /// Answers the complete requests in `input`, in order, until a file is to be sent, the
    /// connection is to close, or enough output waits.
    fn answer_requests(&mut self, site: &mut Site) {
        let mut consumed = 0;
        while self.body.is_none() && !self.close_after && self.pending() < OUTPUT_HIGH_WATER {
            let input = &self.input[consumed..];
            if self.discard > 0 {
                let dropped = self.discard.min(input.len() as u64);
                consumed += dropped as usize;
                self.discard -= dropped;
                if self.discard > 0 {
                    break;
                }
                continue;
            }
            if input.is_empty() {
                break;
            }
            match parse_request(input) {
                Parsed::Partial => break,
                Parsed::Invalid(status) => {
                    site.error(&mut self.output, status, &UNPARSED);
                    self.close_after = true;
                    consumed = self.input.len();
                }
                Parsed::Complete(request, length) => {
                    consumed += length;
                    self.request_started = None;
                    let refusal = if request.transfer_encoding {
                        Some(Status::NotImplemented)
                    } else if request.content_length > BODY_LIMIT {
                        Some(Status::PayloadTooLarge)
                    } else {
                        None
                    };
                    if let Some(status) = refusal {
                        // The body cannot be skipped: the connection ends after this.
                        let closing = Request {
                            keep_alive: false,
                            ..request
                        };
                        site.error(&mut self.output, status, &closing);
                        self.close_after = true;
                        consumed = self.input.len();
                    } else {
                        self.body = site.respond(&request, &mut self.output);
                        self.close_after = !request.keep_alive;
                        self.discard = request.content_length;
                    }
                }
            }
        }
        self.input.drain(..consumed);
    }

    /// Moves the next chunk of the file being sent into `output` when little is left there;
    /// false if the file ends early (its length was promised already).
    fn refill(&mut self) -> bool {
        let Some(body) = &mut self.body else {
            return true;
        };
        if self.output.len() - self.sent >= REFILL_BELOW {
            return true;
        }
        self.output.drain(..self.sent);
        self.sent = 0;
        let want = FILE_CHUNK.min(usize::try_from(body.remaining).unwrap_or(FILE_CHUNK));
        match read_into(body.file.as_raw_fd() as wasi::Fd, &mut self.output, want) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                body.remaining -= n as u64;
                if body.remaining == 0 {
                    self.body = None;
                }
                true
            }
        }
    }
}

/// The event loop's state.
struct Server {
    listeners: Vec<wasi::Fd>,
    site: Site,
    /// Connection slots, indexed by the userdata of their subscriptions.
    connections: Vec<Option<Connection>>,
    free: Vec<usize>,
    open: usize,
    accept_paused_until: Option<Instant>,
}

/// A subscription to `fd` becoming readable or writable.
fn fd_subscription(userdata: u64, kind: wasi::Eventtype, fd: wasi::Fd) -> wasi::Subscription {
    wasi::Subscription {
        userdata,
        u: wasi::SubscriptionU {
            tag: kind.raw(),
            u: wasi::SubscriptionUU {
                fd_read: wasi::SubscriptionFdReadwrite {
                    file_descriptor: fd,
                },
            },
        },
    }
}

impl Server {
    fn run(&mut self) -> ! {
        let mut subscriptions: Vec<wasi::Subscription> = Vec::new();
        let mut events: Vec<wasi::Event> = Vec::new();
        let mut now = Instant::now();
        loop {
            subscriptions.clear();
            let mut nearest: Option<Instant> = None;
            for index in 0..self.connections.len() {
                let Some(connection) = &self.connections[index] else {
                    continue;
                };
                if connection.deadline <= now {
                    self.close(index);
                    continue;
                }
                nearest = Some(nearest.map_or(connection.deadline, |t| t.min(connection.deadline)));
                let kind = if connection.wants_write() {
                    wasi::EVENTTYPE_FD_WRITE
                } else {
                    wasi::EVENTTYPE_FD_READ
                };
                subscriptions.push(fd_subscription(index as u64, kind, connection.socket.0));
            }
            if let Some(until) = self.accept_paused_until.filter(|&until| until > now) {
                nearest = Some(nearest.map_or(until, |t| t.min(until)));
            } else if self.open < MAX_CONNECTIONS {
                self.accept_paused_until = None;
                for (index, &fd) in self.listeners.iter().enumerate() {
                    let userdata = LISTENER_TAG | index as u64;
                    subscriptions.push(fd_subscription(userdata, wasi::EVENTTYPE_FD_READ, fd));
                }
            }
            if let Some(deadline) = nearest {
                let timeout = deadline.saturating_duration_since(now).as_nanos();
                subscriptions.push(wasi::Subscription {
                    userdata: CLOCK_USERDATA,
                    u: wasi::SubscriptionU {
                        tag: wasi::EVENTTYPE_CLOCK.raw(),
                        u: wasi::SubscriptionUU {
                            clock: wasi::SubscriptionClock {
                                id: wasi::CLOCKID_MONOTONIC,
                                timeout: u64::try_from(timeout).unwrap_or(u64::MAX),
                                precision: 0,
                                flags: 0,
                            },
                        },
                    },
                });
            }
            self.flush_log();
            events.clear();
            events.reserve(subscriptions.len());
            // SAFETY: `subscriptions` holds `len` initialised subscriptions and `events` has
            // room for as many events; the host writes at most that many.
            let ready = unsafe {
                wasi::poll_oneoff(
                    subscriptions.as_ptr(),
                    events.as_mut_ptr(),
                    subscriptions.len(),
                )
            };
            let ready = match ready {
                Ok(n) => n.min(subscriptions.len()),
                Err(e) => {
                    eprintln!("httpd: poll_oneoff: {e}");
                    std::process::exit(1);
                }
            };
            // SAFETY: the host initialised the first `ready` events.
            unsafe { events.set_len(ready) };
            now = Instant::now();
            for event in &events {
                self.dispatch(event, now);
            }
        }
    }

    fn dispatch(&mut self, event: &wasi::Event, now: Instant) {
        if event.userdata == CLOCK_USERDATA {
            return;
        }
        if event.userdata & LISTENER_TAG != 0 {
            let index = (event.userdata & !LISTENER_TAG) as usize;
            if let Some(&fd) = self.listeners.get(index) {
                self.accept(fd, now);
            }
            return;
        }
        let index = event.userdata as usize;
        let Some(Some(connection)) = self.connections.get_mut(index) else {
            return;
        };
        let keep = event.error == wasi::ERRNO_SUCCESS
            && if event.type_ == wasi::EVENTTYPE_FD_READ {
                connection.on_readable(&mut self.site, now)
            } else {
                connection.advance(&mut self.site, now)
            };
        if !keep {
            self.close(index);
        }
    }

    fn accept(&mut self, listener: wasi::Fd, now: Instant) {
        for _ in 0..ACCEPT_BATCH {
            if self.open >= MAX_CONNECTIONS {
                return;
            }
            // SAFETY: sock_accept only takes the listener's fd and returns a new fd.
            let accepted = unsafe { wasi::sock_accept(listener, wasi::FDFLAGS_NONBLOCK) };
            let fd = match accepted {
                Ok(fd) => fd,
                Err(wasi::ERRNO_AGAIN) => return,
                Err(_) => {
                    self.accept_paused_until = Some(now + ACCEPT_BACKOFF);
                    return;
                }
            };
            // Hosts may ignore sock_accept's flags, and one blocking socket would stall
            // every connection.
            let connection = Connection::new(fd, now);
            if set_nonblocking(fd).is_err() {
                continue;
            }
            self.open += 1;
            match self.free.pop() {
                Some(index) => self.connections[index] = Some(connection),
                None => self.connections.push(Some(connection)),
            }
        }
    }

    fn close(&mut self, index: usize) {
        if self.connections[index].take().is_some() {
            self.free.push(index);
            self.open -= 1;
        }
    }

    fn flush_log(&mut self) {
        if !self.site.log.is_empty() {
            let _ = std::io::stdout().lock().write_all(&self.site.log);
            self.site.log.clear();
        }
    }
}

/// A preopened directory: its fd and guest path.
struct Preopen {
    fd: wasi::Fd,
    name: String,
}

/// The listening sockets and preopened directories the host handed over, scanning from
/// fd 3 up to the first fd that is not open.
fn scan_fds() -> (Vec<wasi::Fd>, Vec<Preopen>) {
    let (mut listeners, mut preopens) = (Vec::new(), Vec::new());
    for fd in FIRST_FD..MAX_SCANNED_FD {
        // SAFETY: fd_fdstat_get only takes an fd number and writes its own result.
        let filetype = match unsafe { wasi::fd_fdstat_get(fd) } {
            Ok(stat) => stat.fs_filetype,
            Err(_) => break,
        };
        if filetype == wasi::FILETYPE_SOCKET_STREAM {
            listeners.push(fd);
        } else if filetype == wasi::FILETYPE_DIRECTORY
            && let Some(name) = preopen_name(fd)
        {
            preopens.push(Preopen { fd, name });
        }
    }
    (listeners, preopens)
}

/// The guest path of the preopened directory at `fd`.
fn preopen_name(fd: wasi::Fd) -> Option<String> {
    // SAFETY: fd_prestat_get only takes an fd number and writes its own result.
    let prestat = unsafe { wasi::fd_prestat_get(fd) }.ok()?;
    if prestat.tag != wasi::PREOPENTYPE_DIR.raw() {
        return None;
    }
    // SAFETY: the tag says the union holds `dir`.
    let mut name = vec![0u8; unsafe { prestat.u.dir.pr_name_len }];
    // SAFETY: the host writes at most `name.len()` bytes into `name`.
    unsafe { wasi::fd_prestat_dir_name(fd, name.as_mut_ptr(), name.len()) }.ok()?;
    // Some hosts count a terminating NUL.
    let name = String::from_utf8_lossy(&name);
    Some(name.trim_end_matches('\0').to_owned())
}

/// The directory `--root` names, as an fd and a name: a preopen itself, or a directory
/// below one (in Cella's shell, where `/` is the only preopen, `--root /www`).
fn resolve_root(preopens: &[Preopen], wanted: &str) -> Option<(wasi::Fd, String)> {
    if let Some(preopen) = preopens.iter().find(|p| same_dir(&p.name, wanted)) {
        return Some((preopen.fd, preopen.name.clone()));
    }
    // The preopen with the longest name that is a whole-component prefix of `wanted`.
    let (preopen, rest) = preopens
        .iter()
        .filter_map(|p| {
            let base = p.name.trim_end_matches('/');
            let rest = wanted.strip_prefix(base)?;
            (rest.starts_with('/') || base.is_empty()).then(|| (p, rest.trim_start_matches('/')))
        })
        .max_by_key(|(p, _)| p.name.len())?;
    const DIR_RIGHTS: wasi::Rights = wasi::RIGHTS_PATH_OPEN
        | wasi::RIGHTS_FD_READDIR
        | wasi::RIGHTS_FD_FILESTAT_GET
        | wasi::RIGHTS_PATH_FILESTAT_GET;
    const INHERITED: wasi::Rights = DIR_RIGHTS | wasi::RIGHTS_FD_READ | wasi::RIGHTS_FD_SEEK;
    // SAFETY: path_open reads `rest`'s bytes during the call and returns a new fd.
    let fd = unsafe {
        wasi::path_open(
            preopen.fd,
            wasi::LOOKUPFLAGS_SYMLINK_FOLLOW,
            rest,
            wasi::OFLAGS_DIRECTORY,
            DIR_RIGHTS,
            INHERITED,
            0,
        )
    }
    .ok()?;
    Some((fd, wanted.to_owned()))
}

/// A preopen's name compared without trailing slashes or a leading `./`.
fn same_dir(a: &str, b: &str) -> bool {
    let normal = |s: &str| -> String {
        let s = s.strip_prefix("./").unwrap_or(s);
        let trimmed = s.trim_end_matches('/');
        if trimmed.is_empty() && s.starts_with('/') {
            "/".into()
        } else {
            trimmed.into()
        }
    };
    normal(a) == normal(b)
}

fn usage_error(message: &str) -> ! {
    eprintln!("httpd: {message}\n{USAGE}");
    std::process::exit(USAGE_STATUS)
}

fn main() {
    let (mut root_name, mut quiet) = (None, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quiet" => quiet = true,
            "--root" => match args.next() {
                Some(dir) => root_name = Some(dir),
                None => usage_error("--root needs a directory"),
            },
            _ => match arg.strip_prefix("--root=") {
                Some(dir) => root_name = Some(dir.to_owned()),
                None => usage_error(&format!("unknown argument `{arg}`")),
            },
        }
    }
    let (listeners, preopens) = scan_fds();
    if listeners.is_empty() {
        eprintln!("httpd: no listening socket: run it with --tcplisten HOST:PORT");
        std::process::exit(USAGE_STATUS);
    }
    let root = match &root_name {
        Some(wanted) => match resolve_root(&preopens, wanted) {
            Some(root) => Some(root),
            None => {
                let names: Vec<&str> = preopens.iter().map(|p| p.name.as_str()).collect();
                usage_error(&format!(
                    "--root {wanted} is not a directory in a preopen (preopened: {})",
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                ))
            }
        },
        None => preopens.first().map(|p| (p.fd, p.name.clone())),
    };
    for &fd in &listeners {
        if let Err(e) = set_nonblocking(fd) {
            eprintln!("httpd: warning: fd {fd} stays blocking ({e}); accepts may stall");
        }
    }
    let fds: Vec<String> = listeners.iter().map(|fd| fd.to_string()).collect();
    match &root {
        Some((fd, name)) => eprintln!(
            "httpd: listening on fd {}; serving {name} (fd {fd})",
            fds.join(", "),
        ),
        None => eprintln!(
            "httpd: listening on fd {}; no preopened directory: serving /hello only",
            fds.join(", ")
        ),
    }
    Server {
        listeners,
        site: Site {
            root: root.map(|(fd, _)| fd),
            quiet,
            log: Vec::new(),
            decoded: Vec::new(),
            path: String::new(),
        },
        connections: Vec::new(),
        free: Vec::new(),
        open: 0,
        accept_paused_until: None,
    }
    .run()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(raw: &[u8]) -> (Request<'_>, usize) {
        match parse_request(raw) {
            Parsed::Complete(request, length) => (request, length),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_a_request_and_its_length() {
        let raw = b"GET /a?b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET";
        let (request, length) = complete(raw);
        assert_eq!(request.method, b"GET");
        assert_eq!(request.target, b"/a?b");
        assert!(!request.http10 && request.keep_alive && !request.transfer_encoding);
        assert_eq!(request.content_length, 3);
        assert_eq!(&raw[length..], b"abcGET");
    }

    #[test]
    fn accepts_bare_newlines_and_leading_empty_lines() {
        let (request, length) = complete(b"\r\n\nHEAD / HTTP/1.0\nA: b\n\n");
        assert_eq!(request.method, b"HEAD");
        assert_eq!(length, 25);
    }

    #[test]
    fn waits_for_the_rest_of_the_head() {
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nHost: x\r\n"),
            Parsed::Partial
        );
        assert_eq!(parse_request(b"GET / HTTP/1.1\r\n\r"), Parsed::Partial);
        assert_eq!(parse_request(b""), Parsed::Partial);
    }

    #[test]
    fn rejects_malformed_heads() {
        for raw in [
            &b"garbage\r\n\r\n"[..],
            b"GET /\r\n\r\n",
            b"GET  / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1 x\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
            b"GET / FTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nNo colon\r\n\r\n",
            b"GET / HTTP/1.1\r\nName : v\r\n\r\n",
            b"GET / HTTP/1.1\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        ] {
            assert_eq!(
                parse_request(raw),
                Parsed::Invalid(Status::BadRequest),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn refuses_other_versions_and_big_heads() {
        assert_eq!(
            parse_request(b"GET / HTTP/2.0\r\n\r\n"),
            Parsed::Invalid(Status::VersionNotSupported)
        );
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(HEADER_LIMIT + 1, b'a');
        assert_eq!(
            parse_request(&big),
            Parsed::Invalid(Status::HeaderFieldsTooLarge)
        );
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(
            parse_request(&big),
            Parsed::Invalid(Status::HeaderFieldsTooLarge)
        );
    }

    #[test]
    fn decides_keep_alive_by_version_and_connection() {
        let keep = |raw: &[u8]| complete(raw).0.keep_alive;
        assert!(keep(b"GET / HTTP/1.1\r\n\r\n"));
        assert!(!keep(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
        assert!(!keep(
            b"GET / HTTP/1.1\r\nconnection: Upgrade, CLOSE\r\n\r\n"
        ));
        assert!(!keep(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(keep(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        assert!(
            complete(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
                .0
                .transfer_encoding
        );
    }

    fn sanitised(path: &[u8]) -> Result<String, Status> {
        let mut out = String::new();
        sanitise_path(path, &mut Vec::new(), &mut out).map(|()| out)
    }

    #[test]
    fn sanitises_paths() {
        assert_eq!(sanitised(b"/"), Ok(".".into()));
        assert_eq!(sanitised(b"/a//b/./c.txt"), Ok("a/b/c.txt".into()));
        assert_eq!(sanitised(b"/with%20space"), Ok("with space".into()));
        assert_eq!(sanitised(b"/caf%C3%A9"), Ok("café".into()));
        for escape in [
            &b"/../etc/passwd"[..],
            b"/a/..",
            b"/%2e%2e/x",
            b"/a/%2E%2e%2fb",
        ] {
            assert_eq!(sanitised(escape), Err(Status::Forbidden));
        }
        for bad in [&b"/%zz"[..], b"/%4", b"/%ff", b"/a%00b", b"relative"] {
            assert_eq!(sanitised(bad), Err(Status::BadRequest));
        }
    }

    #[test]
    fn strips_query_fragment_and_authority() {
        assert_eq!(target_path(b"/hello?x=1"), b"/hello");
        assert_eq!(target_path(b"/a#b"), b"/a");
        assert_eq!(target_path(b"http://host:80/hello"), b"/hello");
        assert_eq!(target_path(b"HTTP://host"), b"/");
    }

    #[test]
    fn names_content_types() {
        assert_eq!(content_type("a/index.HTML"), "text/html; charset=utf-8");
        assert_eq!(content_type("x.wasm"), "application/wasm");
        assert_eq!(content_type("dir.d/noext"), "application/octet-stream");
    }
}
