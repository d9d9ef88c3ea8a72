//! The one place the binary picks a store backend. Everything past here holds an
//! `Arc<dyn Backend>` (the `Brain` facade, the job queue, the sync and git handlers, `brain
//! doctor`) and never learns which backend it is; `scripts/test` checks that no
//! other file of the binary (`brain-bench` opens its own scratch SQLite stores, as a
//! benchmark of that backend), the facade, the plugins or the interfaces names a backend type.
//!
//! `[store] backend` says which one a vault uses: SQLite, the embedded default (one file in
//! `.brain/`), or PostgreSQL (`store.url`, the schema created on first use).

use std::path::Path;
use std::sync::Arc;

use brain_core::config::{StoreBackend, StoreConfig};
use brain_store::{Backend, StoreError};
use brain_store_postgres::replica::Folder;
use brain_store_postgres::{ConnectOptions, DEFAULT_REPLICA, PgStore, connect};
use brain_store_sqlite::SqliteStore;

/// Opens the store of an initialized vault. A missing store is refused with how to recover,
/// never replaced by a new, empty one; one this user cannot write is opened read-only.
pub fn open_existing(
    database: &Path,
    config: &StoreConfig,
) -> Result<Arc<dyn Backend>, StoreError> {
    match config.backend {
        StoreBackend::Sqlite => Ok(Arc::new(SqliteStore::open_existing(database, config)?)),
        StoreBackend::Postgres => {
            let store = open_postgres_existing(config)?.with_replica(replica_of(database)?);
            store.check_folder(&folder_of(database), brain_core::time::now_ms())?;
            Ok(Arc::new(store))
        }
    }
}

/// The replica id of the vault folder of `database`: its `.brain/replica`, or
/// [`DEFAULT_REPLICA`] for a folder that has none (attached before replicas, or never given
/// one). A damaged file is refused rather than taken for another replica.
pub fn replica_of(database: &Path) -> Result<String, StoreError> {
    let state = database.parent().unwrap_or(database);
    let file = brain_core::layout::VaultLayout::new(state.parent().unwrap_or(state)).replica_file();
    match std::fs::read(&file) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let id = text.trim();
            if is_replica_id(id) {
                Ok(id.to_string())
            } else {
                Err(StoreError::Refused(
                    format!(
                        "{} does not hold a replica id (letters, digits, '.', '_' or '-', 1 to \
                         64 of them): it names this folder on its shared store; restore it from \
                         a backup (`brain status` in another folder of the store lists the \
                         ids), or if it is lost, move .brain/ aside and run `brain init --store \
                         URL` to join the store again (its notes are merged)",
                        file.display()
                    )
                    .into(),
                ))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DEFAULT_REPLICA.to_string()),
        Err(e) => Err(StoreError::Refused(
            format!(
                "cannot read {} (this folder's replica id on its shared store): {e}; check its \
                 permissions",
                file.display()
            )
            .into(),
        )),
    }
}

fn is_replica_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// A new replica id for the folder `root`: its name (for people reading `brain status`) and
/// six hex digits of a hash of the machine, the folder, the process and the time.
pub fn new_replica_id(root: &Path) -> String {
    let name: String = root
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(24)
        .collect();
    let name = name.trim_matches('-');
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed = format!(
        "{}|{}|{}|{nanos}",
        hostname(),
        root.display(),
        std::process::id()
    );
    let hash = brain_core::hash::content_hash(seed.as_bytes());
    let digits: String = hash
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(6)
        .collect();
    if name.is_empty() {
        format!("vault-{digits}")
    } else {
        format!("{name}-{digits}")
    }
}

/// Creates the store of a new vault (`brain init`, `brain doctor --rebuild`, `brain store
/// copy`); refuses where one (or what a deleted one left) is already there. On PostgreSQL the
/// vault folder is attached to the database as `replica` (else as its `.brain/replica` says):
/// a store that already serves other folders gains this one, behind on every note it holds.
pub fn create(
    database: &Path,
    config: &StoreConfig,
    replica: Option<&str>,
) -> Result<Arc<dyn Backend>, StoreError> {
    match config.backend {
        StoreBackend::Sqlite => Ok(Arc::new(SqliteStore::create(database, config)?)),
        StoreBackend::Postgres => {
            let id = match replica {
                Some(id) => id.to_string(),
                None => replica_of(database)?,
            };
            let store = open_postgres(config)?.with_replica(id);
            store.attach(&folder_of(database), brain_core::time::now_ms())?;
            Ok(Arc::new(store))
        }
    }
}

/// Makes the vault folder of `database` its PostgreSQL store's folder in place of the one
/// recorded (`brain store reattach`); returns the folder it replaced. Refused on SQLite, whose
/// store is inside the folder.
pub fn reattach(database: &Path, config: &StoreConfig) -> Result<Option<Folder>, StoreError> {
    match config.backend {
        StoreBackend::Sqlite => Err(StoreError::Refused(
            "this vault keeps its brain in SQLite, inside the folder (.brain/brain.db): a \
             copied or moved folder takes its store with it, so there is nothing to reattach"
                .into(),
        )),
        StoreBackend::Postgres => open_postgres(config)?
            .with_replica(replica_of(database)?)
            .reattach(&folder_of(database), brain_core::time::now_ms()),
    }
}

/// Removes replica `id` from the PostgreSQL store of the vault of `database` (`brain store
/// forget`); returns how many of its queued jobs were cancelled. Unless `force`, refused while
/// a daemon of that replica published its state within the last minute (it still runs).
pub fn forget_replica(
    database: &Path,
    config: &StoreConfig,
    id: &str,
    force: bool,
) -> Result<u64, StoreError> {
    if config.backend == StoreBackend::Sqlite {
        return Err(StoreError::Refused(
            "this vault keeps its brain in SQLite, which serves one folder: there is no other \
             folder to forget"
                .into(),
        ));
    }
    let store = open_postgres_existing(config)?.with_replica(replica_of(database)?);
    if !force {
        let theirs = open_postgres_existing(config)?.with_replica(id);
        // A daemon of this machine known gone from /proc (killed) does not hold it back.
        let killed_here = brain_store::Store::replicas(&store)?
            .iter()
            .find(|r| r.id == id)
            .and_then(|r| {
                let (pid, started) = r.daemon_process?;
                brain_jobs::liveness::worker_gone(&format!("pid{pid}-{started}@{}-0", r.host))
            })
            .is_some();
        if let Some(state) = brain_store::Store::runtime_state(&theirs, "serve")?
            && !killed_here
            && brain_core::time::now_ms() - state.updated_ms
                < brain_api::daemon::DAEMON_SEEN_WITHIN_MS
            && state.value["state"] != "stopped"
        {
            return Err(StoreError::Refused(
                format!(
                    "a daemon of replica {id} published its state {} s ago, so its folder is \
                     still in use: stop it first, or pass --force",
                    (brain_core::time::now_ms() - state.updated_ms) / 1000
                )
                .into(),
            ));
        }
    }
    store.forget(id, brain_core::time::now_ms())
}

/// The vault folder a PostgreSQL store records for the replica of `database`'s folder (`None`
/// on SQLite, or with none yet).
pub fn recorded_folder(
    database: &Path,
    config: &StoreConfig,
) -> Result<Option<Folder>, StoreError> {
    match config.backend {
        StoreBackend::Sqlite => Ok(None),
        StoreBackend::Postgres => open_postgres(config)?
            .with_replica(replica_of(database)?)
            .folder(),
    }
}

/// The vault folder of `database` (where a SQLite store would be, `.brain/brain.db`), as a
/// PostgreSQL store records the folder it belongs to.
pub fn folder_of(database: &Path) -> Folder {
    let root = database.parent().and_then(Path::parent).unwrap_or(database);
    Folder {
        root: root.display().to_string(),
        host: hostname(),
        inode: inode(root),
    }
}

#[cfg(unix)]
fn inode(path: &Path) -> Option<i64> {
    use std::os::unix::fs::MetadataExt;
    // The device too: roots of file systems share inode numbers (2 on ext4, 1 on tmpfs), so a
    // copy at the root of another one would pass for the folder.
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.dev().rotate_left(32) ^ m.ino()).cast_signed())
}

#[cfg(not(unix))]
fn inode(_path: &Path) -> Option<i64> {
    None
}

/// Whether the PostgreSQL database `url` is the store `config` names under another spelling
/// (another host name for the same server, a service file): the same store id.
pub fn is_same_store(config: &StoreConfig, url: &str) -> Result<bool, StoreError> {
    if config.backend != StoreBackend::Postgres {
        return Ok(false);
    }
    let ours = open_postgres(config)?.store_id()?;
    connect::refuse_password(url)?;
    let theirs = PgStore::open(&ConnectOptions::parse(url)?)?.store_id()?;
    Ok(ours == theirs)
}

/// Opens a store only to read it (an old store set aside by `brain doctor --rebuild`).
pub fn open_read_only(
    database: &Path,
    config: &StoreConfig,
) -> Result<Arc<dyn Backend>, StoreError> {
    match config.backend {
        StoreBackend::Sqlite => Ok(Arc::new(SqliteStore::open_read_only(database)?)),
        StoreBackend::Postgres => Ok(Arc::new(open_postgres(config)?)),
    }
}

/// Opens a PostgreSQL store from a URL, with no vault folder (`brain work --store`, `brain
/// store copy`). A URL with a password is refused: see [`connect::refuse_password`].
pub fn open_url(url: &str) -> Result<Arc<dyn Backend>, StoreError> {
    connect::refuse_password(url)?;
    let options = ConnectOptions::parse(url)?;
    Ok(Arc::new(PgStore::open(&options)?))
}

/// Whether `spec` names a PostgreSQL database rather than a folder or file.
pub fn is_postgres_url(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

fn open_postgres_existing(config: &StoreConfig) -> Result<PgStore, StoreError> {
    let url = store_url(config)?;
    PgStore::open_existing(&ConnectOptions::parse(url)?)
}

fn store_url(config: &StoreConfig) -> Result<&str, StoreError> {
    let url = config
        .url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| {
            StoreError::Refused(
                "store.backend is \"postgres\" but store.url is not set: give the database as \
                 url = \"postgres://USER@HOST/DB\" under [store] in .brain/config.toml"
                    .into(),
            )
        })?;
    connect::refuse_password(url)?;
    Ok(url)
}

fn open_postgres(config: &StoreConfig) -> Result<PgStore, StoreError> {
    PgStore::open(&ConnectOptions::parse(store_url(config)?)?)
}

/// This machine's name, for the folder a store is attached to (as worker ids name it).
fn hostname() -> String {
    brain_jobs::liveness::this_host().to_string()
}
