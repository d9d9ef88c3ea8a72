//! A git server over smart HTTP for tests: bare repositories under one folder, served on
//! 127.0.0.1 by the real `git http-backend` run as a CGI program.
//!
//! It can require an `Authorization` header (answering 401 otherwise, as a forge does), cut
//! pushes off mid-request (as a remote vanishing mid-push does), and records what it saw so a
//! test can check where a token travelled. Standard library only, and nothing else from
//! `common/`, so other test crates can include it with
//! `#[path = "../../../brain-git/tests/git/common/http_remote.rs"] mod http_remote;`.
//!
//! Deliberately small: one thread per connection, no keep-alive (every response closes), the
//! whole request body read into memory before the CGI starts.
#![allow(dead_code)] // each test crate uses its own part
#![allow(clippy::unwrap_used)] // test code: a poisoned lock or a failed bind should panic

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A running server; it stops when dropped.
pub struct HttpRemote {
    port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

/// What the accept loop and the connection threads share.
#[derive(Default)]
struct Shared {
    project_root: PathBuf,
    /// The `Authorization` value every request must carry, if any.
    authorization: Option<String>,
    stop: AtomicBool,
    cut_pushes: AtomicBool,
    unauthorized: AtomicUsize,
    cut: AtomicUsize,
    chunked: AtomicUsize,
    gzipped: AtomicUsize,
    authorizations: Mutex<Vec<String>>,
    request_lines: Mutex<Vec<String>>,
}

/// A loopback port nothing listens on (bound, then released): connecting to it is refused, as
/// with a remote that is down.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    listener.local_addr().unwrap().port()
}

impl HttpRemote {
    /// Serves every bare repository under `project_root` (git's `GIT_PROJECT_ROOT`) at
    /// `http://127.0.0.1:PORT/<name>`, pushes included, without authentication.
    pub fn start(project_root: &Path) -> HttpRemote {
        HttpRemote::launch(project_root, None)
    }

    /// Like [`HttpRemote::start`], but every request must carry exactly this `Authorization`
    /// header value (e.g. `Basic dXNlcjp0b2tlbg==`), else it gets 401 with
    /// `WWW-Authenticate: Basic realm="git"`.
    pub fn start_with_auth(project_root: &Path, authorization: &str) -> HttpRemote {
        HttpRemote::launch(project_root, Some(authorization.to_owned()))
    }

    /// Like [`HttpRemote::start`], on a given port: a remote that "comes up" at a URL that
    /// had nothing listening (see [`closed_port`]).
    pub fn start_on(project_root: &Path, port: u16) -> HttpRemote {
        HttpRemote::bind(
            TcpListener::bind(("127.0.0.1", port)).unwrap(),
            project_root,
            None,
        )
    }

    fn launch(project_root: &Path, authorization: Option<String>) -> HttpRemote {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        HttpRemote::bind(listener, project_root, authorization)
    }

    fn bind(
        listener: TcpListener,
        project_root: &Path,
        authorization: Option<String>,
    ) -> HttpRemote {
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            project_root: project_root.to_path_buf(),
            authorization,
            ..Shared::default()
        });
        let accept_shared = Arc::clone(&shared);
        let accept = thread::spawn(move || {
            for stream in listener.incoming() {
                // Drop wakes this blocking accept by connecting to it after setting `stop`.
                if accept_shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&accept_shared);
                thread::spawn(move || {
                    if let Err(e) = serve(&shared, stream) {
                        eprintln!("http_remote: {e}");
                    }
                });
            }
        });
        HttpRemote {
            port,
            shared,
            accept: Some(accept),
        }
    }

    /// The URL of one repository, e.g. `http://127.0.0.1:PORT/remote.git`.
    pub fn url(&self, repo_name: &str) -> String {
        format!("http://127.0.0.1:{}/{repo_name}", self.port)
    }

    /// While set, a push (`POST .../git-receive-pack`) is cut off: the server reads part of the
    /// request body, then closes the connection without a response, as a remote vanishing
    /// mid-push does. Fetches still work.
    pub fn set_cut_pushes(&self, on: bool) {
        self.shared.cut_pushes.store(on, Ordering::SeqCst);
    }

    /// How many requests were refused with 401.
    pub fn unauthorized_count(&self) -> usize {
        self.shared.unauthorized.load(Ordering::SeqCst)
    }

    /// How many pushes were cut off (see [`HttpRemote::set_cut_pushes`]).
    pub fn cut_count(&self) -> usize {
        self.shared.cut.load(Ordering::SeqCst)
    }

    /// How many requests came with a `Transfer-Encoding: chunked` body.
    pub fn chunked_count(&self) -> usize {
        self.shared.chunked.load(Ordering::SeqCst)
    }

    /// How many requests came with a `Content-Encoding: gzip` body.
    pub fn gzipped_count(&self) -> usize {
        self.shared.gzipped.load(Ordering::SeqCst)
    }

    /// Every `Authorization` header value seen, in order (to check a token travelled as a
    /// header).
    pub fn authorizations(&self) -> Vec<String> {
        self.shared.authorizations.lock().unwrap().clone()
    }

    /// Every request line seen, as `METHOD /path?query` (to check a token never appeared in a
    /// URL).
    pub fn request_lines(&self) -> Vec<String> {
        self.shared.request_lines.lock().unwrap().clone()
    }
}

impl Drop for HttpRemote {
    /// Stops the accept loop and waits for it. Connections already accepted finish on their own.
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// A request line and its headers (names lower-cased).
struct Request {
    method: String,
    /// Path and query, as sent.
    target: String,
    headers: Vec<(String, String)>,
}

impl Request {
    /// Reads the request line and the headers up to the blank line; `None` if the client sent
    /// nothing (as the wake-up connection from `Drop` does).
    fn read(reader: &mut impl BufRead) -> io::Result<Option<Request>> {
        let line = match read_line(reader) {
            Ok(line) => line,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut words = line.split(' ');
        let method = words.next().unwrap_or("").to_owned();
        let target = words.next().unwrap_or("").to_owned();
        let mut headers = Vec::new();
        loop {
            let line = read_line(reader)?;
            if line.is_empty() {
                return Ok(Some(Request {
                    method,
                    target,
                    headers,
                }));
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
    }

    /// The value of a header, by its lower-case name.
    fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, v)| v.as_str())
    }

    /// Whether a header has this value (case-insensitively).
    fn header_is(&self, name: &str, value: &str) -> bool {
        self.header(name)
            .is_some_and(|v| v.eq_ignore_ascii_case(value))
    }

    fn path_and_query(&self) -> (&str, &str) {
        self.target.split_once('?').unwrap_or((&self.target, ""))
    }
}

/// Answers one request on one connection, then closes it.
fn serve(shared: &Shared, stream: TcpStream) -> io::Result<()> {
    // A stuck client must not leave a thread behind forever.
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let peer = stream.peer_addr()?.ip().to_string();
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let Some(request) = Request::read(&mut reader)? else {
        return Ok(());
    };
    let line = format!("{} {}", request.method, request.target);
    shared.request_lines.lock().unwrap().push(line);
    let authorization = request.header("authorization");
    if let Some(value) = authorization {
        shared.authorizations.lock().unwrap().push(value.to_owned());
    }

    if let Some(expected) = &shared.authorization
        && authorization != Some(expected.as_str())
    {
        shared.unauthorized.fetch_add(1, Ordering::SeqCst);
        out.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
              Content-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return close_unread(reader, out);
    }
    // Git 2.47 sends no `Expect`, but curl may add it to big bodies.
    if request.header_is("expect", "100-continue") {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    if request.method == "POST"
        && request.path_and_query().0.ends_with("/git-receive-pack")
        && shared.cut_pushes.load(Ordering::SeqCst)
    {
        // Take a bite of the body, then vanish without a response (curl then reports `Empty
        // reply from server`, git `the remote end hung up unexpectedly`).
        let _ = reader.read(&mut [0u8; 4096])?;
        shared.cut.fetch_add(1, Ordering::SeqCst);
        let _ = out.shutdown(Shutdown::Both);
        return Ok(());
    }

    let body = if request.header_is("transfer-encoding", "chunked") {
        shared.chunked.fetch_add(1, Ordering::SeqCst);
        read_chunked(&mut reader)?
    } else {
        let length = request.header("content-length").unwrap_or("0");
        let length = length
            .parse()
            .map_err(|_| invalid(format!("bad length {length:?}")))?;
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    if request.header_is("content-encoding", "gzip") {
        shared.gzipped.fetch_add(1, Ordering::SeqCst);
    }
    let cgi_output = run_backend(shared, &request, body, &peer)?;
    out.write_all(&cgi_to_http(&cgi_output))?;
    out.flush()
}

/// Runs `git http-backend` for one request and returns its stdout (CGI headers and body).
fn run_backend(
    shared: &Shared,
    request: &Request,
    body: Vec<u8>,
    peer: &str,
) -> io::Result<Vec<u8>> {
    let (path, query) = request.path_and_query();
    let mut cgi = Command::new(git_program());
    cgi.arg("http-backend")
        .env("GIT_PROJECT_ROOT", &shared.project_root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        // The backend refuses pushes unless REMOTE_USER is set or this is true.
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "http.receivepack")
        .env("GIT_CONFIG_VALUE_0", "true")
        .env("REQUEST_METHOD", &request.method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        // Of the body as we pass it: de-chunked, but still gzip-encoded if it was.
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_ADDR", peer)
        .env_remove("GIT_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (var, name) in [
        ("CONTENT_TYPE", "content-type"),
        // `gzip` for big fetch requests: the backend inflates the body itself.
        ("HTTP_CONTENT_ENCODING", "content-encoding"),
        // `version=2` on fetches: without it the backend speaks protocol v0.
        ("HTTP_GIT_PROTOCOL", "git-protocol"),
    ] {
        if let Some(value) = request.header(name) {
            cgi.env(var, value);
        }
    }
    if shared.authorization.is_some() {
        cgi.env("REMOTE_USER", "git");
    }
    let mut child = cgi.spawn()?;
    // Feed stdin on its own thread while `wait_with_output` reads stdout and stderr, so a big
    // body or a big response cannot deadlock.
    let mut stdin = child.stdin.take().unwrap();
    let feeder = thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let output = child.wait_with_output()?;
    let _ = feeder.join();
    if !output.stderr.is_empty() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        eprintln!("git http-backend: {}", stderr.trim());
    }
    Ok(output.stdout)
}

/// Turns CGI output (headers, a blank line, the body) into an HTTP response that closes.
fn cgi_to_http(cgi: &[u8]) -> Vec<u8> {
    let mut status = if cgi.is_empty() {
        "500 Internal Server Error".to_owned()
    } else {
        "200 OK".to_owned()
    };
    let mut head = String::new();
    let mut pos = 0;
    while let Some(len) = cgi[pos..].iter().position(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(&cgi[pos..pos + len]);
        let line = line.trim_end_matches('\r');
        pos += len + 1;
        if line.is_empty() {
            break;
        }
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("status") => {
                status = value.trim().to_owned();
            }
            // We send our own, for the body as we send it.
            Some((name, _)) if name.eq_ignore_ascii_case("content-length") => {}
            _ => head.push_str(&format!("{line}\r\n")),
        }
    }
    let body = &cgi[pos..];
    let mut response = format!(
        "HTTP/1.1 {status}\r\n{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    response
}

/// Reads a `Transfer-Encoding: chunked` body: hex size lines (extensions ignored), each chunk
/// followed by CRLF, ended by a zero-size chunk and optional trailers.
fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("bad chunk size line {line:?}")))?;
        if size == 0 {
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        if !read_line(reader)?.is_empty() {
            return Err(invalid("a chunk is not followed by CRLF".to_owned()));
        }
    }
}

/// One header-style line without its CRLF (or LF); an error at end of input.
fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let text = String::from_utf8_lossy(&line);
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

/// Closes after answering without reading the body: stop writing, then discard what the client
/// still sends for a moment. Closing with unread data would make the kernel send a reset, which
/// can destroy the response before the client reads it.
fn close_unread(mut reader: BufReader<TcpStream>, out: TcpStream) -> io::Result<()> {
    out.shutdown(Shutdown::Write)?;
    out.set_read_timeout(Some(Duration::from_secs(2)))?;
    let _ = io::copy(&mut reader, &mut io::sink());
    Ok(())
}

/// The git program: `BRAIN_GIT` if set (as `brain_git::Git::locate` does), else `git`.
fn git_program() -> std::ffi::OsString {
    std::env::var_os("BRAIN_GIT")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "git".into())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}
