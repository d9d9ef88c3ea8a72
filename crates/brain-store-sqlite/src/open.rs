//! How a vault's store file is opened, and how this process notices it is gone.
//!
//! A vault's store is opened, never created, by every command but `brain init` and `brain
//! doctor --rebuild` ([`SqliteStore::open_existing`], [`SqliteStore::create`]): a store
//! created on the fly beside a deleted one acknowledged writes into a file nobody else had
//! open (issue 13). The file's identity (device and inode) is recorded at open and compared
//! before and after every transaction, so a store deleted or replaced under a running process
//! is noticed by its next call, and refused, rather than written to its last open handle.
//!
//! A store whose file or folder this user cannot write is opened read-only: no migration, no
//! write to the log, reads answered, writes refused with [`StoreError::ReadOnly`]. SQLite
//! needs the `-shm` file to read a WAL database; where it cannot be made (a read-only folder
//! with none left), the file is opened `immutable`, which is only done when no `-wal` holds
//! commits the file lacks.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use brain_core::config::{StoreConfig, Synchronous};
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::SqliteStore;
use brain_store::{Result, StoreError};

/// Device and inode of a file: what stays the same while the file is the one opened, and
/// changes when another file takes its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FileIdentity {
    dev: u64,
    ino: u64,
}

impl FileIdentity {
    fn of(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        Ok(Self {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
}

/// The file a store was opened from.
#[derive(Debug)]
pub(super) struct StoreFile {
    path: PathBuf,
    shown: String,
    identity: FileIdentity,
    read_only: bool,
}

impl StoreFile {
    /// The file at `path` as it is now, just opened.
    pub(super) fn opened(path: &Path, read_only: bool) -> Result<Self> {
        let shown = path.display().to_string();
        let identity = match FileIdentity::of(path) {
            Ok(id) => id,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing { path: shown });
            }
            Err(e) => {
                return Err(StoreError::Io {
                    path: shown,
                    source: Box::new(e),
                });
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            shown,
            identity,
            read_only,
        })
    }

    /// The database path, for messages.
    pub(super) fn shown(&self) -> &str {
        &self.shown
    }

    /// Whether writes are refused.
    pub(super) fn read_only(&self) -> bool {
        self.read_only
    }

    /// Fails unless the file at the path is still the one opened.
    pub(super) fn verify(&self) -> Result<()> {
        match FileIdentity::of(&self.path) {
            Ok(id) if id == self.identity => Ok(()),
            Ok(_) => Err(StoreError::Replaced {
                path: self.shown.clone(),
                what: "replaced by another file",
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::Replaced {
                path: self.shown.clone(),
                what: self.how_it_went(),
            }),
            // Unreadable folder, say: the store cannot be shown to be the same one.
            Err(_) => Err(StoreError::Replaced {
                path: self.shown.clone(),
                what: "made unreachable",
            }),
        }
    }

    /// Why the file is not at its path: deleted alone, gone with its folder, or gone with the
    /// folder above that (the vault moved: the store is intact at the vault's new place). Told
    /// apart so a vault moved under a process is never reported as a store deleted (issue 13).
    fn how_it_went(&self) -> &'static str {
        let folder = self.path.parent();
        let vault = folder.and_then(Path::parent);
        if folder.is_none_or(Path::exists) {
            "deleted"
        } else if vault.is_none_or(Path::exists) {
            "removed with its folder"
        } else {
            "moved away or deleted with its vault folder (moved, it is intact where the vault is now)"
        }
    }

    /// The folder, for messages.
    fn folder(&self) -> String {
        folder_of(&self.path)
    }

    /// A read-only error for this store.
    pub(super) fn read_only_error(&self) -> StoreError {
        StoreError::ReadOnly {
            path: self.shown.clone(),
            folder: self.folder(),
        }
    }

    /// Gives an SQLite error the advice that fits it: damage, a full disk, an I/O failure, a
    /// file that went away (SQLite says "disk I/O error" or "readonly database" then).
    pub(super) fn explain(&self, err: StoreError) -> StoreError {
        let source = match err {
            StoreError::Database(e) | StoreError::Open { source: e, .. } => {
                match e.downcast::<rusqlite::Error>() {
                    Ok(sqlite) => *sqlite,
                    Err(other) => return StoreError::Database(other),
                }
            }
            other => return other,
        };
        if let Err(gone @ StoreError::Replaced { .. }) = self.verify() {
            return gone;
        }
        classify(source, &self.path)
    }
}

fn folder_of(path: &Path) -> String {
    path.parent()
        .map_or_else(|| ".".to_string(), |p| p.display().to_string())
}

/// An SQLite error of the store at `path` as the error that says what to do about it.
pub(super) fn classify(source: rusqlite::Error, path: &Path) -> StoreError {
    let shown = path.display().to_string();
    match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Damaged {
            path: shown,
            source: Box::new(source),
        },
        Some(ErrorCode::DiskFull) => StoreError::DiskFull {
            path: shown,
            source: Box::new(source),
        },
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly {
            path: shown,
            folder: folder_of(path),
        },
        Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen) => StoreError::Io {
            path: shown,
            source: Box::new(source),
        },
        _ => StoreError::Open {
            path: shown,
            source: Box::new(source),
        },
    }
}

/// Settings for a connection that may write: WAL so readers in other processes never block the
/// writer, the configured flush level, foreign keys, a 32 MB page cache for a large vault's
/// index, and `busy_timeout` so a concurrent writer is a short wait instead of an error.
pub(super) fn write_pragmas(synchronous: Synchronous) -> String {
    let sync = match synchronous {
        Synchronous::Normal => "NORMAL",
        Synchronous::Full => "FULL",
    };
    format!(
        "PRAGMA journal_mode = WAL;
PRAGMA synchronous = {sync};
PRAGMA foreign_keys = ON;
PRAGMA busy_timeout = 15000;
PRAGMA cache_size = -32000;
PRAGMA temp_store = MEMORY;"
    )
}

/// Settings for a read-only connection: nothing that writes the file or its log.
const READ_PRAGMAS: &str = "PRAGMA foreign_keys = ON;
PRAGMA busy_timeout = 15000;
PRAGMA cache_size = -32000;
PRAGMA temp_store = MEMORY;";

/// `path` with `suffix` appended to its file name (`brain.db-wal`).
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Whether this process can write the store: the file opens for writing and a file can be
/// made in its folder (SQLite makes its `-wal` and `-shm` there). Tried, not read from the
/// mode bits, so what counts is what this user may really do.
fn writable(path: &Path) -> bool {
    if OpenOptions::new().write(true).open(path).is_err() {
        return false;
    }
    let Some(folder) = path.parent() else {
        return false;
    };
    let probe = folder.join(format!(".brain-write-probe-{}", std::process::id()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            true
        }
        // Left over by a process of this id that died: it proves the folder is writable.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&probe).is_ok()
        }
        Err(_) => false,
    }
}

/// A `file:` URI for `path` with `query`, escaping what URIs give a meaning.
fn uri(path: &Path, query: &str) -> String {
    let mut out = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            _ => out.push(c),
        }
    }
    out.push('?');
    out.push_str(query);
    out
}

impl SqliteStore {
    /// Opens the vault store at `path`, which must exist: a missing store is
    /// [`StoreError::Missing`], never created here. Read-only when this user cannot write the
    /// file or its folder ([`SqliteStore::is_read_only`]); otherwise its schema is brought up
    /// to date and `config.synchronous` applied.
    pub fn open_existing(path: &Path, config: &StoreConfig) -> Result<Self> {
        // Taken before the open: a file swapped in between is then a different identity.
        let file = StoreFile::opened(path, false)?;
        if writable(path) {
            // No CREATE flag: a store deleted since the check above is an error, not a new file.
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI;
            let conn =
                Connection::open_with_flags(path, flags).map_err(|e| file.explain(e.into()))?;
            Self::start(conn, &write_pragmas(config.synchronous), Some(file))
        } else {
            Self::open_read_only(path)
        }
    }

    /// Opens the store at `path` for reading only, whoever may write it: no migration, no write
    /// to it or its log. `brain doctor` reads an old store this way without changing it.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let file = StoreFile::opened(path, true)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let first = Connection::open_with_flags(uri(path, "mode=ro"), flags)
            .and_then(|conn| probe(&conn).map(|()| conn));
        let conn = match first {
            Ok(conn) => conn,
            Err(e) => {
                // No `-shm` can be made (a read-only folder): read the file as it is, which is
                // all there is when no log holds newer commits.
                let wal = sibling(path, "-wal");
                let log_holds_commits = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
                if log_holds_commits {
                    return Err(match classify(e, path) {
                        StoreError::ReadOnly { .. } | StoreError::Io { .. } => {
                            StoreError::ReadOnly {
                                path: shown,
                                folder: folder_of(path),
                            }
                        }
                        other => other,
                    });
                }
                Connection::open_with_flags(uri(path, "immutable=1"), flags)
                    .and_then(|conn| probe(&conn).map(|()| conn))
                    .map_err(|e| classify(e, path))?
            }
        };
        Self::start(conn, READ_PRAGMAS, Some(file))
    }

    /// Creates a new, empty vault store at `path`, refusing when a store, or the `-wal` or
    /// `-shm` of a deleted one, is there ([`StoreError::Exists`]): for `brain init` and
    /// `brain doctor --rebuild` only.
    pub fn create(path: &Path, config: &StoreConfig) -> Result<Self> {
        let shown = path.display().to_string();
        for suffix in ["-wal", "-shm"] {
            let leftover = sibling(path, suffix);
            if leftover.exists() {
                return Err(StoreError::Exists {
                    path: shown,
                    found: leftover.display().to_string(),
                });
            }
        }
        // Made here, exclusively, so two processes creating at once never share a new file
        // believing each made it; an empty file is an empty SQLite database.
        match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StoreError::Exists {
                    path: shown.clone(),
                    found: shown,
                });
            }
            Err(e) => {
                return Err(if e.kind() == std::io::ErrorKind::StorageFull {
                    StoreError::DiskFull {
                        path: shown,
                        source: Box::new(e),
                    }
                } else {
                    StoreError::Io {
                        path: shown,
                        source: Box::new(e),
                    }
                });
            }
        }
        Self::open_existing(path, config)
    }

    /// Whether this store refuses writes because its file or folder is read-only.
    pub fn is_read_only(&self) -> bool {
        self.file.as_ref().is_some_and(StoreFile::read_only)
    }

    /// Checks that the store file this process opened is still the one at its path; a
    /// long-running process calls this on a timer so a store deleted or replaced under it
    /// stops it within one tick, whether or not it was about to write.
    pub fn verify_file(&self) -> Result<()> {
        self.file.as_ref().map_or(Ok(()), StoreFile::verify)
    }
}

/// Reads what any query needs (the schema), so a connection that cannot really read fails
/// here and not at the first command.
fn probe(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
}

/// What a read-only open does instead of migrating: the schema must already be this build's,
/// since upgrading it would write.
pub(super) fn check_schema(conn: &Connection, file: &StoreFile) -> Result<()> {
    let latest = super::migrate::LATEST;
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > latest {
        return Err(StoreError::TooNew {
            path: file.shown.clone(),
            found,
            supported: latest,
        });
    }
    if found < latest {
        return Err(StoreError::ReadOnlyOutdated {
            path: file.shown.clone(),
            folder: file.folder(),
            found,
            supported: latest,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flush level a vault's store runs with (SQLite: 1 = NORMAL, 2 = FULL).
    fn synchronous_of(config: &StoreConfig) -> i64 {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::create(&dir.path().join("brain.db"), config).expect("create");
        store
            .lock()
            .pragma_query_value(None, "synchronous", |row| row.get(0))
            .expect("pragma")
    }

    /// `store.synchronous = "full"` really flushes every commit; the default does not.
    #[test]
    fn issue13_store_synchronous_full_is_applied() {
        assert_eq!(synchronous_of(&StoreConfig::default()), 1);
        let full = StoreConfig {
            synchronous: Synchronous::Full,
            ..StoreConfig::default()
        };
        assert_eq!(synchronous_of(&full), 2);
    }

    /// SQLite's disk-full and corruption codes become the errors that say what to do.
    #[test]
    fn sqlite_codes_map_to_advice() {
        let code =
            |c| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(c), Some("x".into()));
        let path = Path::new("/v/.brain/brain.db");
        assert!(matches!(
            classify(code(rusqlite::ffi::SQLITE_FULL), path),
            StoreError::DiskFull { .. }
        ));
        assert!(matches!(
            classify(code(rusqlite::ffi::SQLITE_CORRUPT), path),
            StoreError::Damaged { .. }
        ));
        assert!(matches!(
            classify(code(rusqlite::ffi::SQLITE_NOTADB), path),
            StoreError::Damaged { .. }
        ));
        match classify(code(rusqlite::ffi::SQLITE_READONLY), path) {
            StoreError::ReadOnly { folder, .. } => assert_eq!(folder, "/v/.brain"),
            other => panic!("{other:?}"),
        }
    }

    /// A path with URI characters is escaped, so it names the same file.
    #[test]
    fn uri_escapes_what_uris_give_a_meaning() {
        assert_eq!(
            uri(Path::new("/a b/100%?#/x.db"), "mode=ro"),
            "file:/a b/100%25%3f%23/x.db?mode=ro"
        );
    }
}
