//! The `brain` executable as the benches drive it: the one this bench runs in (so a figure is
//! what this build's command costs), its vault opened the way the command opens it, its peak
//! memory, and stopping a daemon it started.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use brain_api::{Brain, Workers};
use brain_core::{Config, VaultLayout};
use brain_store::Backend;
use brain_store_sqlite::SqliteStore;

use crate::error::{Context, Result, fail};

/// The `brain` executable: the one running this bench.
pub(crate) fn brain_exe() -> Result<PathBuf> {
    std::env::current_exe()
        .ctx(|| "cannot find the brain executable this bench runs in, to start it".into())
}

/// `brain --vault <vault> <args>`, not yet started.
pub(crate) fn brain_cmd(vault: &Path, args: &[&str]) -> Result<Command> {
    let mut cmd = Command::new(brain_exe()?);
    cmd.arg("--vault").arg(vault).args(args);
    Ok(cmd)
}

/// An initialized vault as the `brain` command sees it: its effective config (the file, then
/// the `BRAIN_*` environment, read from `brain config show`, so the bench and the command
/// agree) and its SQLite store.
pub(crate) struct OpenVault {
    /// The vault's folder.
    pub root: PathBuf,
    /// Its effective config.
    pub config: Config,
    /// Its store.
    pub store: Arc<dyn Backend>,
}

impl OpenVault {
    /// Opens the vault at `root`, which `brain init` has made.
    pub fn open(root: &Path) -> Result<Self> {
        let out = brain_cmd(root, &["--json", "config", "show"])?
            .output()
            .ctx(|| format!("cannot run brain config show on {}", root.display()))?;
        if !out.status.success() {
            fail!(
                "brain config show on {} failed ({}): {}",
                root.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let config: Config = serde_json::from_slice(&out.stdout).ctx(|| {
            format!(
                "brain config show on {} printed no config this bench can read: is the brain \
                 executable from this build?",
                root.display()
            )
        })?;
        let database = VaultLayout::new(root).database();
        let store = SqliteStore::open_existing(&database, &config.store)
            .ctx(|| format!("cannot open the store of {}", root.display()))?;
        Ok(Self {
            root: root.to_path_buf(),
            config,
            store: Arc::new(store),
        })
    }

    /// The facade over this vault, with every job type this build has and no workers here (the
    /// daemon, or the next command, runs what it queues).
    pub fn facade(&self) -> Result<Brain> {
        let plugins: Vec<Box<dyn brain_api::Plugin>> = vec![
            Box::new(brain_sync::SyncPlugin),
            Box::new(brain_git::GitPlugin),
            Box::new(brain_api::batch::BatchPlugin),
        ];
        let plugged = brain_api::plug(&self.root, &self.config, self.store.clone(), &plugins)
            .map_err(brain_api::BrainError::from)
            .ctx(|| "registering the plugins of this build".into())?;
        Ok(Brain::new(
            &self.root,
            self.config.clone(),
            self.store.clone(),
            plugged,
            Workers::Never,
        ))
    }
}

/// Asks a daemon to stop as Ctrl-C would (SIGTERM): it finishes running jobs, then exits.
#[allow(unsafe_code)]
pub(crate) fn terminate(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill only sends a signal; a stale pid at worst gets a SIGTERM it ignores or
    // reports ESRCH.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

/// Waits for `child` and returns its exit code (-1 if a signal ended it) and its peak resident
/// memory in bytes.
#[allow(unsafe_code)]
pub(crate) fn wait_with_peak_rss(child: std::process::Child) -> Result<(i32, u64)> {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data that wait4 fills in; `pid` is our own un-reaped child,
    // and `child` is not waited on elsewhere (it is forgotten below, so nothing reaps it twice).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    std::mem::forget(child);
    if rc != pid {
        return Err(std::io::Error::last_os_error())
            .ctx(|| format!("wait4 on brain ({pid}) failed"));
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok((code, usage.ru_maxrss as u64 * 1024))
}

/// A `brain serve` this bench started: stopped (SIGTERM, then reaped) when dropped, so a bench
/// that fails half-way leaves no daemon behind holding its vault.
pub(crate) struct Daemon {
    child: Option<std::process::Child>,
    pid: u32,
}

impl Daemon {
    /// Takes charge of a started `brain serve`.
    pub fn new(child: std::process::Child) -> Self {
        let pid = child.id();
        Self {
            child: Some(child),
            pid,
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Stops it and waits until it has exited (it finishes its running jobs first).
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            terminate(self.pid);
            child
                .wait()
                .ctx(|| format!("waiting for brain serve ({}) to stop", self.pid))?;
        }
        Ok(())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
