//! Taking a vault for one daemon: `.brain/serve.lock`, locked exclusively with this process's
//! pid written inside, or refused naming the daemon that has it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::serve_lock_path;

/// The daemon's hold on a vault; dropping it (or the process ending) releases the vault.
pub struct DaemonLock {
    _file: File,
}

/// Why a daemon could not start on a vault.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Another daemon holds the vault.
    #[error(
        "another `brain serve` (pid {pid}) already serves {}: stop it first, or use it \
         (commands run against this vault enqueue work for it)",
        vault.display()
    )]
    Busy {
        /// The pid written in its lock, as read (empty if unreadable).
        pid: String,
        /// The vault.
        vault: PathBuf,
    },
    /// The lock file could not be opened, locked or written.
    #[error("cannot {what} {}: {source}; check that .brain/ is writable", path.display())]
    Lock {
        /// What was being done (`open`, `lock`, `write the pid into`).
        what: &'static str,
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Takes the vault at `root` for this process, or says which process has it.
pub fn acquire(root: &Path) -> Result<DaemonLock, DaemonError> {
    let path = serve_lock_path(root);
    let failed = |what: &'static str| {
        let path = path.clone();
        move |source| DaemonError::Lock { what, path, source }
    };
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(failed("open"))?;
    // Other commands check for a daemon by taking the lock shared for an instant: a start that
    // meets such a check tries again for a moment before deciding a daemon is there.
    let mut tries = 0;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if tries < 20 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                return Err(DaemonError::Busy {
                    pid: pid.trim().to_string(),
                    vault: root.to_path_buf(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(failed("lock")(e)),
        }
    }
    let write_pid = |file: &mut File| -> std::io::Result<()> {
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        write!(file, "{}", std::process::id())?;
        file.flush()
    };
    write_pid(&mut file).map_err(failed("write the pid into"))?;
    Ok(DaemonLock { _file: file })
}
