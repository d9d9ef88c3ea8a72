//! The runner of the system `git` command.
//!
//! [`Git::locate`] finds git and checks its version once; [`Git::run`] runs one command in a
//! repository and returns its output, or a [`GitError`] that says what failed and what to do.
//!
//! Each command gets:
//! - a predictable environment for parsing: `LC_ALL=C` (English messages, which
//!   [`GitError::is_transient`] reads), `GIT_TERMINAL_PROMPT=0` (fail instead of waiting for a
//!   password nobody will type), and no inherited `GIT_DIR`-style variables that would point it
//!   at another repository;
//! - the auth header, if any, as per-command config through the environment
//!   (`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_0`/`GIT_CONFIG_VALUE_0` = `http.extraHeader`): never in
//!   argv (visible in `ps`), never in `.git/config`, never in a URL. It is replaced by `***` in
//!   every error and log line;
//! - a timeout: on unix git runs in its own process group and the whole group (hooks, ssh,
//!   aliases) gets SIGTERM, then SIGKILL;
//! - stdout and stderr read on their own threads, so a large output never deadlocks.

use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::GitError;

/// The environment variable that overrides which `git` program is run.
const OVERRIDE_ENV: &str = "BRAIN_GIT";

/// Inherited variables that would point git at another repository than `-C repo` (they are
/// set, for example, while a git hook runs).
const REPO_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
];

/// How long git gets to exit after SIGTERM before its process group gets SIGKILL.
#[cfg(unix)]
const KILL_GRACE: Duration = Duration::from_millis(250);

/// How long we keep reading git's pipes after it exited. A process it left behind (an ssh
/// `ControlPersist` master, say) may hold them open forever; we keep what was read by then.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// How much of git's stderr an error keeps (its end, where git puts the `fatal:` line).
const STDERR_KEEP: usize = 4096;

/// A git version, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GitVersion {
    /// The major version.
    pub major: u32,
    /// The minor version.
    pub minor: u32,
    /// The patch version (0 when git does not print one).
    pub patch: u32,
}

impl GitVersion {
    /// The oldest git we support: 2.31, the first to read config from `GIT_CONFIG_COUNT` (how
    /// the auth header is passed; an older git would silently send no header).
    pub const MINIMUM: GitVersion = GitVersion {
        major: 2,
        minor: 31,
        patch: 0,
    };

    /// Reads the output of `git --version`, e.g. `git version 2.39.5`,
    /// `git version 2.39.5 (Apple Git-154)` or `git version 2.45.1.windows.1`, and refuses
    /// versions older than [`GitVersion::MINIMUM`] with [`GitError::TooOld`].
    pub fn check(version_output: &str) -> Result<GitVersion, GitError> {
        let bad = || GitError::BadVersion {
            output: version_output.trim().to_owned(),
        };
        let text = version_output
            .trim()
            .strip_prefix("git version ")
            .ok_or_else(bad)?;
        let mut parts = text.split(|c: char| c == '.' || c.is_whitespace());
        let mut number = |required: bool| -> Result<u32, GitError> {
            let part = parts.next().unwrap_or("");
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            match digits.parse() {
                Ok(n) => Ok(n),
                Err(_) if !required => Ok(0),
                Err(_) => Err(bad()),
            }
        };
        let version = GitVersion {
            major: number(true)?,
            minor: number(true)?,
            patch: number(false)?,
        };
        if version < GitVersion::MINIMUM {
            return Err(GitError::TooOld {
                found: version,
                needed: GitVersion::MINIMUM,
            });
        }
        Ok(version)
    }
}

impl fmt::Display for GitVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A secret such as an auth header value (`Authorization: Bearer <token>`). Its `Debug` and
/// `Display` print `***`; only [`Secret::expose`] gives the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret text. Pass it only where it is needed, never to a log or an error.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with this secret replaced by `***`. For an auth header the credential alone (its
    /// last word, e.g. the token after `Bearer`) is replaced too, in case git prints only that.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let whole = self.0.trim();
        if !whole.is_empty() {
            out = out.replace(whole, "***");
        }
        if let Some(last) = whole.split_whitespace().last()
            && last.len() >= 4
            && last != whole
        {
            out = out.replace(last, "***");
        }
        out
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How to run one git command. Its `Debug` shows the header as `***` and only the input's size.
#[derive(Clone)]
pub struct RunOptions {
    /// Git is killed (with everything it started) when it runs longer than this.
    pub timeout: Duration,
    /// An HTTP header sent with every request, e.g. `Authorization: Bearer <token>`; passed as
    /// `http.extraHeader` through the environment for this command only.
    pub auth_header: Option<Secret>,
    /// What to write to git's stdin (none: stdin is empty).
    pub input: Option<Vec<u8>>,
}

impl fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("timeout", &self.timeout)
            .field("auth_header", &self.auth_header)
            .field("input_bytes", &self.input.as_ref().map(Vec::len))
            .finish()
    }
}

impl RunOptions {
    /// No auth header, no input, and `timeout`.
    pub fn with_timeout(timeout: Duration) -> RunOptions {
        RunOptions {
            timeout,
            auth_header: None,
            input: None,
        }
    }
}

impl Default for RunOptions {
    /// A 5 minute timeout, no auth header, no input.
    fn default() -> RunOptions {
        RunOptions::with_timeout(Duration::from_secs(300))
    }
}

/// What a successful git command printed (lossily decoded as UTF-8). Not redacted: it is the
/// caller's data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Standard output.
    pub stdout: String,
    /// Standard error (progress and warnings).
    pub stderr: String,
}

/// A located, version-checked `git` program.
#[derive(Debug, Clone)]
pub struct Git {
    program: PathBuf,
    version: GitVersion,
}

impl Git {
    /// Finds git: the `BRAIN_GIT` environment variable if set and not empty, else `git` on
    /// `PATH`. Runs `git --version` and refuses git older than [`GitVersion::MINIMUM`].
    pub fn locate() -> Result<Git, GitError> {
        let program = std::env::var_os(OVERRIDE_ENV)
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| OsString::from("git"));
        Git::at(program)
    }

    /// Uses this git program (a path, or a name looked up on `PATH`), after checking its version.
    pub fn at(program: impl Into<PathBuf>) -> Result<Git, GitError> {
        let program = program.into();
        let missing = || GitError::Missing {
            program: program.display().to_string(),
        };
        let output = Command::new(&program)
            .arg("--version")
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => missing(),
                _ => GitError::Io {
                    command: format!("{} --version", program.display()),
                    source: e,
                },
            })?;
        if !output.status.success() {
            return Err(missing());
        }
        let version = GitVersion::check(&String::from_utf8_lossy(&output.stdout))?;
        tracing::debug!(program = %program.display(), %version, "found git");
        Ok(Git { program, version })
    }

    /// The program run.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Its version.
    pub fn version(&self) -> GitVersion {
        self.version
    }

    /// Runs `git -C repo args...` and returns what it printed.
    ///
    /// Errors: [`GitError::Failed`] on a non-zero exit (with git's stderr and advice),
    /// [`GitError::TimedOut`] when it ran past `opts.timeout` (it and its children are killed),
    /// [`GitError::Io`] when it cannot be started. All are redacted of `opts.auth_header`.
    pub fn run(&self, repo: &Path, args: &[&str], opts: &RunOptions) -> Result<Output, GitError> {
        let redact = |text: &str| match &opts.auth_header {
            Some(secret) => secret.redact(text),
            None => text.to_owned(),
        };
        let command = redact(&format!("git {}", args.join(" ")));
        let started = Instant::now();
        tracing::debug!(%command, repo = %repo.display(), "running git");

        let mut cmd = Command::new(&self.program);
        cmd.arg("-C")
            .arg(repo)
            .args(args)
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            // `git status` need not refresh the index under `index.lock`: a read never makes
            // another git (or a commit of ours) fail on the lock.
            .env("GIT_OPTIONAL_LOCKS", "0")
            .stdin(if opts.input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for var in REPO_ENV {
            cmd.env_remove(var);
        }
        if let Some(header) = &opts.auth_header {
            cmd.env("GIT_CONFIG_COUNT", "1")
                .env("GIT_CONFIG_KEY_0", "http.extraHeader")
                .env("GIT_CONFIG_VALUE_0", header.expose());
        }
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group, so a timeout can kill everything it started.
            cmd.process_group(0);
        }
        let io_error = |source| GitError::Io {
            command: command.clone(),
            source,
        };
        let mut child = cmd.spawn().map_err(io_error)?;

        // Feed stdin on its own thread: git may not read it all before writing output. Not
        // joined; it ends when git closes its stdin or exits.
        if let (Some(input), Some(mut stdin)) = (opts.input.clone(), child.stdin.take()) {
            thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        let (done_tx, done_rx) = mpsc::channel();
        let stdout = Pipe::read(child.stdout.take(), done_tx.clone());
        let stderr = Pipe::read(child.stderr.take(), done_tx);

        let deadline = started + opts.timeout;
        let status = match wait_until(&mut child, deadline).map_err(io_error)? {
            Some(status) => status,
            None => {
                kill_tree(&mut child);
                tracing::warn!(%command, repo = %repo.display(), after = ?opts.timeout, "git timed out; killed");
                return Err(GitError::TimedOut {
                    command,
                    repo: repo.to_path_buf(),
                    after: opts.timeout,
                });
            }
        };
        // Both readers report when they reach end of file; wait a little for them.
        let drain_until = Instant::now() + DRAIN_GRACE;
        for _ in 0..2 {
            let left = drain_until.saturating_duration_since(Instant::now());
            if done_rx.recv_timeout(left).is_err() {
                tracing::debug!(%command, "git's pipes stayed open after it exited; output may be cut");
                break;
            }
        }
        let output = Output {
            stdout: stdout.text(),
            stderr: stderr.text(),
        };
        tracing::debug!(%command, ?status, elapsed = ?started.elapsed(), "git finished");
        if status.success() {
            return Ok(output);
        }
        Err(GitError::Failed {
            command,
            repo: repo.to_path_buf(),
            code: status.code(),
            stderr: keep_tail(redact(output.stderr.trim())),
        })
    }
}

/// One of git's output pipes, read to its end on its own thread into a shared buffer, so the
/// caller can take what was read even if the pipe never closes.
struct Pipe(Arc<Mutex<Vec<u8>>>);

impl Pipe {
    fn read(source: Option<impl Read + Send + 'static>, done: mpsc::Sender<()>) -> Pipe {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&buffer);
        thread::spawn(move || {
            if let Some(mut source) = source {
                let mut chunk = [0u8; 8192];
                loop {
                    match source.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => match shared.lock() {
                            Ok(mut buf) => buf.extend_from_slice(&chunk[..n]),
                            Err(_) => break,
                        },
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
            }
            let _ = done.send(());
        });
        Pipe(buffer)
    }

    fn text(&self) -> String {
        match self.0.lock() {
            Ok(buf) => String::from_utf8_lossy(&buf).into_owned(),
            Err(poisoned) => String::from_utf8_lossy(&poisoned.into_inner()).into_owned(),
        }
    }
}

/// Waits for the child to exit until `deadline`; `None` when it is still running then.
fn wait_until(
    child: &mut Child,
    deadline: Instant,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

/// Kills git and everything it started, then reaps it. On unix: SIGTERM to its process group
/// (git removes its lock files), a short grace, then SIGKILL to the group. The child is reaped
/// only after both signals, so its pid (the group id) cannot be reused in between.
fn kill_tree(child: &mut Child) {
    #[cfg(unix)]
    {
        signal_group(child.id(), libc::SIGTERM);
        thread::sleep(KILL_GRACE);
        signal_group(child.id(), libc::SIGKILL);
    }
    #[cfg(not(unix))]
    {
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// Sends `signal` to the process group `pgid`.
#[cfg(unix)]
#[allow(unsafe_code)]
fn signal_group(pgid: u32, signal: libc::c_int) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) takes two integers and touches no memory of ours. `-pgid` names the group
    // that `process_group(0)` created for our child, whose leader is not reaped yet, so the id
    // still belongs to that group. Failure (ESRCH: the group is gone) is harmless and ignored.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// Keeps the last [`STDERR_KEEP`] bytes of `text` (on a character boundary).
fn keep_tail(text: String) -> String {
    if text.len() <= STDERR_KEEP {
        return text;
    }
    let mut start = text.len() - STDERR_KEEP;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_redacted() {
        let secret = Secret::new("Authorization: Bearer s3cr3t-token");
        assert_eq!(format!("{secret:?} {secret}"), "*** ***");
        assert_eq!(
            secret.redact("header Authorization: Bearer s3cr3t-token!"),
            "header ***!"
        );
        assert_eq!(secret.redact("token s3cr3t-token"), "token ***");
    }

    #[test]
    fn tail_is_kept_on_a_char_boundary() {
        let text = "é".repeat(STDERR_KEEP);
        let kept = keep_tail(text);
        assert!(kept.starts_with("..."));
        assert!(kept.len() <= STDERR_KEEP + 3);
    }
}
