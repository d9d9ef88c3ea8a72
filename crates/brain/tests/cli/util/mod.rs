//! Shared helpers: a fresh temp vault per test and the real `brain` binary run against it.
#![allow(dead_code)]
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub mod daemon;

/// The built binary under test.
pub fn brain_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_brain"))
}

/// `shared/bench/gen_vault.py`, found above the repo.
pub fn generator() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|d| d.join("shared/bench/gen_vault.py"))
        .find(|p| p.is_file())
        .expect("shared/bench/gen_vault.py not found above the repo")
}

/// A temporary vault with `brain init` already run.
pub struct TestVault {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl TestVault {
    /// An empty, initialized vault.
    pub fn new() -> Self {
        let v = Self::uninitialized();
        v.ok(&["init"]);
        v
    }

    /// An empty folder, not yet a vault.
    pub fn uninitialized() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("brain-test-")
                .tempdir()
                .expect("tempdir"),
        }
    }

    /// A vault filled by the shared generator, initialized.
    pub fn generated(notes: usize, adversarial: bool) -> Self {
        let v = Self::uninitialized();
        let mut cmd = Command::new("python3");
        cmd.arg(generator())
            .arg(v.root())
            .args(["--notes", &notes.to_string()]);
        if adversarial {
            cmd.arg("--adversarial");
        }
        let out = cmd.output().expect("python3 runs");
        assert!(
            out.status.success(),
            "generator failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        v.ok(&["init"]);
        v
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// A `brain --vault <root>` command with a clean environment, and a daemon's HTTP on a
    /// port of its own so tests running side by side never collide.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(brain_bin());
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.root())
            .env("BRAIN_SERVE_HTTP", "127.0.0.1:0")
            .arg("--vault")
            .arg(self.root());
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.cmd().args(args).output().expect("brain runs").into()
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut cmd = self.cmd();
        cmd.args(args);
        output_with_stdin(cmd, stdin)
    }

    /// Runs and asserts exit code 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(
            r.code, 0,
            "brain {args:?} failed\nstdout:\n{}\nstderr:\n{}",
            r.stdout, r.stderr
        );
        r
    }

    /// `brain --json sync` expecting success; returns the report.
    pub fn sync(&self) -> Value {
        self.ok(&["--json", "sync"]).json()
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn set_config(&self, toml: &str) {
        std::fs::write(self.path(".brain/config.toml"), toml).unwrap();
    }

    /// Every file outside `.brain/` with its bytes: to prove a sync wrote nothing.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        snap(self.root(), self.root(), &mut out);
        out
    }
}

fn snap(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if p.file_name().is_some_and(|n| n == ".brain") {
            continue;
        }
        let ft = e.file_type().unwrap();
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        if ft.is_dir() {
            snap(root, &p, out);
        } else if ft.is_file() {
            out.insert(rel, std::fs::read(&p).unwrap_or_default());
        } else {
            out.insert(rel, b"<other>".to_vec());
        }
    }
}

/// Wraps a command so it runs without the root-only permission override, so a `chmod 000` file
/// is really unreadable (CI runs as root).
/// Runs `cmd` with `stdin` written to it; what it printed and its code.
pub fn output_with_stdin(mut cmd: Command, stdin: &[u8]) -> Run {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("brain runs");
    // A command that refuses its arguments exits without reading stdin: a closed pipe here is
    // its answer, not the test's failure.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe,
            "writing stdin: {e}"
        );
    }
    child.wait_with_output().unwrap().into()
}

pub fn without_root_override(mut cmd: Command) -> Command {
    if unsafe_free_is_root() {
        let mut wrapped = Command::new("setpriv");
        wrapped.env_clear();
        wrapped.arg("--bounding-set=-dac_override,-dac_read_search");
        wrapped.arg(cmd.get_program());
        wrapped.args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                wrapped.env(k, v);
            }
        }
        cmd = wrapped;
    }
    cmd
}

fn unsafe_free_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

/// Names of entities from `brain --json list`.
pub fn listed(v: &TestVault, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["--json", "list"];
    args.extend_from_slice(extra);
    v.ok(&args)
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                e["type"].as_str().unwrap(),
                e["id"].as_str().unwrap()
            )
        })
        .collect()
}

/// Starts `brain sync` (with `extra` flags) and returns once it printed its first "Importing"
/// line on stderr (the import is under way), with the rest of its stderr to read.
pub fn sync_until_importing(
    v: &TestVault,
    extra: &[&str],
) -> (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStderr>>,
) {
    use std::io::BufRead;
    let mut child = v
        .cmd()
        .arg("sync")
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("brain runs");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = std::io::BufReader::new(stderr).lines();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let failure = loop {
        match lines.next() {
            Some(Ok(line)) if line.starts_with("Importing") => return (child, lines),
            Some(Ok(_)) if std::time::Instant::now() < deadline => {}
            Some(Ok(_)) => break "no progress line within two minutes",
            Some(Err(_)) => break "stderr is not text",
            None => break "sync ended before printing progress",
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    panic!("{failure}");
}

/// A synced vault of 30 notes, `n00.md`..`n29.md`, whose first `deleted` files were then
/// removed from disk: the next sync would delete that many notes at once.
pub fn vault_after_deleting(deleted: usize) -> TestVault {
    let v = TestVault::new();
    for i in 0..30 {
        v.write(&format!("n{i:02}.md"), format!("note {i}\n"));
    }
    v.sync();
    for i in 0..deleted {
        std::fs::remove_file(v.path(&format!("n{i:02}.md"))).expect("note exists");
    }
    v
}

/// Gives `.brain/` and its files their write permission back when dropped, so the temp vault
/// can be removed.
pub struct Writable<'a>(&'a TestVault);

impl Drop for Writable<'_> {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let state = self.0.path(".brain");
        let _ = std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755));
        for e in std::fs::read_dir(&state).into_iter().flatten().flatten() {
            let _ = std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o644));
        }
    }
}

impl TestVault {
    /// Makes `.brain/` and its files read-only (as a user without write access meets them;
    /// run commands without root's override to mean it) until the guard is dropped.
    pub fn make_state_read_only(&self) -> Writable<'_> {
        use std::os::unix::fs::PermissionsExt;
        let restore = Writable(self);
        let state = self.path(".brain");
        for e in std::fs::read_dir(&state).unwrap() {
            std::fs::set_permissions(e.unwrap().path(), std::fs::Permissions::from_mode(0o444))
                .unwrap();
        }
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o555)).unwrap();
        restore
    }
}

impl TestVault {
    /// Runs `brain ARGS` (one shell word string) on this vault under a real pseudo-terminal
    /// (`script` from util-linux), with `NO_COLOR` set or not; returns what the terminal
    /// showed, so a test sees what a person at a terminal sees (colours, bars).
    pub fn on_a_terminal(&self, args: &str, no_color: bool) -> String {
        let line = format!(
            "'{}' --vault '{}' {args}",
            brain_bin().display(),
            self.root().display()
        );
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.root())
            .env("BRAIN_SERVE_HTTP", "127.0.0.1:0");
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let out = cmd.output().expect("script (util-linux) runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
