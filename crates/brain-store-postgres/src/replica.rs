//! The vault folders attached to a store (`replicas`). Each folder is a replica with an id of
//! its own (kept in its `.brain/replica`; a folder attached before replicas has none and is
//! [`crate::DEFAULT_REPLICA`]), its own file bases and runtime state, and its own record of
//! which entities it is behind on (`dirty`). A new folder (`brain init --store` in a second
//! folder, on this machine or another) is attached as a new replica, behind on everything: its
//! first sync writes out every note it lacks and merges the notes it has (same content is one
//! note; different content under one name is kept both ways as a conflict).
//!
//! Every open checks that the folder is the attached one, not only `brain init`: a copy of a
//! vault folder (a backup restored beside it, an rsync to another machine) carries the same
//! `.brain/config.toml` and would otherwise share the store, each sync reading the other
//! folder's notes as deleted. A folder is known by its root folder's inode as well as its path:
//! a move keeps the inode (the store follows it), a copy does not (refused, with what to do).

use brain_store::{Result, StoreError};

use crate::PgStore;
use crate::db::{Db, get};

/// A vault folder as the store records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folder {
    /// Its root, as its machine names it.
    pub root: String,
    /// Its machine.
    pub host: String,
    /// Its root folder's inode, where the system has one.
    pub inode: Option<i64>,
}

impl Folder {
    /// Whether `self` (what the store recorded) is the folder `here`: the same inode on the
    /// same machine or at the same path (moved, or the machine renamed); without an inode on
    /// either side, the same path on the same machine.
    fn is(&self, here: &Folder) -> bool {
        match (self.inode, here.inode) {
            (Some(a), Some(b)) => a == b && (self.host == here.host || self.root == here.root),
            _ => self.root == here.root && self.host == here.host,
        }
    }
}

/// A folder whose replica id (its `.brain/replica`) the store does not know, while the store
/// serves other folders: the file was changed or removed, or the replica was forgotten.
#[derive(Debug, thiserror::Error)]
#[error(
    "the store {database} has no folder with the replica id '{replica}' that {here} names (in \
     its .brain/replica; a folder without that file counts as 'local'), so nothing was done: \
     the file was changed or removed, or that folder was forgotten (`brain store forget`). The \
     store's folders are: {known}. If this folder is one of them, put its id back in \
     .brain/replica; to join the store as a new folder, move .brain/ aside and run `brain init \
     --store URL` (its notes are merged with the store's)"
)]
pub struct UnknownReplica {
    /// The database, without its password.
    pub database: String,
    /// The id the folder gave.
    pub replica: String,
    /// The folder the command ran in.
    pub here: String,
    /// The store's folders: `id (root on host)`, comma-separated.
    pub known: String,
}

/// A command run in a folder that is not the one its store belongs to.
#[derive(Debug, thiserror::Error)]
#[error(
    "the store {database} belongs to the vault folder {root} on {host} as replica '{replica}' \
     (the id in .brain/replica), and {here} is not that folder (a copy of it, or it restored \
     from a backup): two folders as one replica would undo each other's changes, so nothing \
     was done. If this folder took the other one's place (you moved or restored it), run \
     `brain store reattach` here; if it is a copy, move its .brain/ aside and run `brain init \
     --store URL` to join the store as a folder of its own (its notes are merged), or `brain \
     init` for a store of its own"
)]
pub struct NotThisFolder {
    /// This folder's replica id.
    pub replica: String,
    /// The database, without its password.
    pub database: String,
    /// The folder it belongs to.
    pub root: String,
    /// Its machine.
    pub host: String,
    /// The folder the command ran in.
    pub here: String,
}

impl PgStore {
    /// Attaches `folder` as this handle's replica: a new replica is recorded and marked behind
    /// on every entity the store holds; the same folder again changes nothing (a moved one is
    /// recorded where it is now). A replica id recorded for another folder (its `.brain/`
    /// copied here) is refused with [`NotThisFolder`]. Returns how many other folders the
    /// store serves.
    pub fn attach(&self, folder: &Folder, now_ms: i64) -> Result<usize> {
        self.pool.write(|db| {
            match self.locked_folder(db)? {
                Some(attached) if attached.is(folder) => self.record(db, &attached, folder)?,
                Some(attached) => return Err(self.not_this_folder(attached, folder)),
                None => self.insert(db, folder, now_ms)?,
            }
            let others: i64 = get(
                &db.query_one(
                    "SELECT count(*) FROM replicas WHERE id <> $1",
                    &[&self.replica],
                )?,
                0,
            )?;
            Ok(usize::try_from(others).unwrap_or(0))
        })
    }

    /// This handle's replica id.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Checks that `here` is the folder this store belongs to, on every open of a vault; a
    /// store with no folder yet gets this one. Reads only, unless the record needs filling (a
    /// folder attached before inodes were kept, or one that moved).
    pub fn check_folder(&self, here: &Folder, now_ms: i64) -> Result<()> {
        self.check_folder_once(here, now_ms)?;
        if let Ok(mut checked) = self.checked_folder.lock() {
            *checked = Some((here.clone(), std::time::Instant::now()));
        }
        Ok(())
    }

    /// For a long-running process (`Store::verify_identity`, every quarter second; looks at
    /// the record at most every two seconds): fails with [`StoreError::Replaced`] once another
    /// folder was made the store's (`brain store reattach` there), so a daemon of this folder
    /// stops rather than run that folder's jobs on this one. A store that cannot be read now
    /// is not a verdict: the next look decides.
    pub(crate) fn folder_still_ours(&self) -> Result<()> {
        let Ok(mut checked) = self.checked_folder.lock() else {
            return Ok(());
        };
        let Some((ours, last)) = checked.as_mut() else {
            return Ok(());
        };
        if last.elapsed() < std::time::Duration::from_secs(2) {
            return Ok(());
        }
        *last = std::time::Instant::now();
        // A server away is not a verdict, and is not waited for here.
        if self
            .pool
            .answers_within(std::time::Duration::from_secs(1))
            .is_err()
        {
            return Ok(());
        }
        match self.pool.read(|db| self.folder_in(db)) {
            Ok(Some(recorded)) if !recorded.is(ours) => Err(StoreError::Replaced {
                path: self.shown().to_string(),
                what: "taken over by another vault folder (`brain store reattach` there)",
            }),
            // Its record is gone: `brain store forget` removed this folder, and whatever it
            // wrote now would go to a replica the store no longer keeps anything for.
            Ok(None) => Err(StoreError::Replaced {
                path: self.shown().to_string(),
                what: "left by this folder: `brain store forget` removed it from the store (to \
                       join again, move .brain/ aside and run `brain init --store URL`)",
            }),
            _ => Ok(()),
        }
    }

    fn check_folder_once(&self, here: &Folder, now_ms: i64) -> Result<()> {
        let recorded = self.pool.read(|db| self.folder_in(db))?;
        match recorded {
            Some(f) if f == *here => Ok(()),
            Some(f) if !f.is(here) => Err(self.not_this_folder(f, here)),
            _ => self.pool.write(|db| match self.locked_folder(db)? {
                Some(f) if f.is(here) => self.record(db, &f, here),
                Some(f) => Err(self.not_this_folder(f, here)),
                // A store with no folder yet takes this one (a vault attached before folders
                // were recorded); one that serves others does not take an id it never gave.
                None => match self.known_folders(db)? {
                    known if known.is_empty() => self.insert(db, here, now_ms),
                    known => Err(StoreError::Refused(Box::new(UnknownReplica {
                        database: self.shown().to_string(),
                        replica: self.replica.clone(),
                        here: here.root.clone(),
                        known: known.join(", "),
                    }))),
                },
            }),
        }
    }

    /// Makes `here` this store's folder in place of the one recorded (`brain store reattach`:
    /// the folder was moved, restored or copied to replace it). Returns the folder it replaced.
    ///
    /// The folder's file bases are dropped: its files may be older than the store (a backup)
    /// or newer, and with no base the next sync takes neither side for the other's past. A
    /// file that differs from its note is kept both ways as a conflict, a note with no file is
    /// written out, and nothing is imported over a newer note or deleted because an older
    /// folder lacks it.
    pub fn reattach(&self, here: &Folder, now_ms: i64) -> Result<Option<Folder>> {
        self.pool.write(|db| {
            let before = self.locked_folder(db)?;
            match &before {
                Some(f) => self.record(db, f, here)?,
                None => self.insert(db, here, now_ms)?,
            }
            db.execute(
                "DELETE FROM file_bases WHERE replica = $1",
                &[&self.replica],
            )?;
            // Every note as if changed through brain: with no base, a file that differs is
            // a change on both sides (kept both ways), and a note with no file is written.
            crate::dirty::mark_everything(db, &self.replica)?;
            Ok(before)
        })
    }

    /// The folder this store belongs to, if one is attached.
    pub fn folder(&self) -> Result<Option<Folder>> {
        self.pool.read(|db| self.folder_in(db))
    }

    /// Removes the replica `id` (a folder deleted, or a machine gone for good) from the store:
    /// its record, file bases, behind marks, runtime state and folder schedules, and cancels
    /// its queued jobs, so the store stops keeping changes for a folder that will never come
    /// back. The notes stay. Refused for this handle's own replica and for an unknown id
    /// (naming the known ones). Returns how many queued jobs were cancelled.
    pub fn forget(&self, id: &str, now_ms: i64) -> Result<u64> {
        if id == self.replica {
            return Err(StoreError::Refused(
                format!(
                    "{id} is this folder's own replica: run `brain store forget` from another \
                     folder of the store, or move this folder's .brain/ aside"
                )
                .into(),
            ));
        }
        self.pool.write(|db| {
            db.execute("LOCK TABLE replicas IN EXCLUSIVE MODE", &[])?;
            if db
                .query_opt("SELECT 1 FROM replicas WHERE id = $1", &[&id])?
                .is_none()
            {
                let known: Vec<String> = db
                    .query("SELECT id FROM replicas ORDER BY id", &[])?
                    .iter()
                    .map(|r| get(r, 0))
                    .collect::<Result<_>>()?;
                return Err(StoreError::Refused(
                    format!(
                        "the store has no replica {id}; its folders are: {}",
                        known.join(", ")
                    )
                    .into(),
                ));
            }
            let scope = format!("replica:{id}");
            for sql in [
                "DELETE FROM file_bases WHERE replica = $1",
                "DELETE FROM entity_dirty WHERE replica = $1",
                "DELETE FROM runtime_state WHERE replica = $1",
                "DELETE FROM replica_cursors WHERE replica = $1",
                "DELETE FROM job_type_pauses WHERE replica = $1",
                "DELETE FROM replicas WHERE id = $1",
            ] {
                db.execute(sql, &[&id])?;
            }
            db.execute("DELETE FROM schedules WHERE scope = $1", &[&scope])?;
            db.execute(
                "UPDATE jobs SET state = 'cancelled', finished_ms = $2,
                        error = 'its folder was removed from the store (brain store forget)'
                 WHERE replica = $1
                   AND (state = 'queued' OR (state = 'running' AND lease_until_ms < $2))",
                &[&id, &now_ms],
            )
        })
    }

    /// Every folder the store serves, with how many notes each is behind on.
    pub(crate) fn list(&self) -> Result<Vec<brain_store::ReplicaInfo>> {
        self.pool.read(|db| {
            let paused = crate::jobs::paused_replicas(db)?;
            let rows = db.query(
                "SELECT r.id, r.root, r.host, r.created_ms,
                        (SELECT count(*) FROM entity_dirty d WHERE d.replica = r.id),
                        s.updated_ms,
                        (s.value::jsonb ->> 'pid')::bigint,
                        (s.value::jsonb ->> 'started_ms')::bigint,
                        h.value
                 FROM replicas r
                 LEFT JOIN runtime_state s
                   ON s.replica = r.id AND s.key = 'serve'
                  AND s.value::jsonb ->> 'state' <> 'stopped'
                 LEFT JOIN runtime_state h
                   ON h.replica = r.id AND h.key = $1
                 ORDER BY r.created_ms, r.id",
                &[&brain_store::history::RETENTION_KEY],
            )?;
            rows.iter()
                .map(|row| {
                    let id: String = get(row, 0)?;
                    Ok(brain_store::ReplicaInfo {
                        this: id == self.replica,
                        sync_paused: paused.contains(&id),
                        id,
                        root: get(row, 1)?,
                        host: get(row, 2)?,
                        attached_ms: get(row, 3)?,
                        behind: u64::try_from(get::<i64>(row, 4)?).unwrap_or(0),
                        daemon_seen_ms: get(row, 5)?,
                        daemon_process: get::<Option<i64>>(row, 6)?
                            .and_then(|p| u32::try_from(p).ok())
                            .zip(get::<Option<i64>>(row, 7)?),
                        // A value that does not read as rules (written by a newer brain) is
                        // left out rather than failing the list.
                        history_rules: get::<Option<String>>(row, 8)?
                            .and_then(|v| serde_json::from_str(&v).ok()),
                    })
                })
                .collect()
        })
    }

    /// This store's own id (made with its schema): the same for every URL that reaches it.
    pub fn store_id(&self) -> Result<String> {
        self.pool
            .read(|db| get(&db.query_one("SELECT store_id FROM brain_schema", &[])?, 0))
    }

    fn folder_in(&self, db: &mut Db<'_>) -> Result<Option<Folder>> {
        let row = db.query_opt(
            "SELECT root, host, folder_inode FROM replicas WHERE id = $1",
            &[&self.replica],
        )?;
        row.map(|row| {
            Ok(Folder {
                root: get(&row, 0)?,
                host: get(&row, 1)?,
                inode: get(&row, 2)?,
            })
        })
        .transpose()
    }

    fn locked_folder(&self, db: &mut Db<'_>) -> Result<Option<Folder>> {
        db.execute("LOCK TABLE replicas IN EXCLUSIVE MODE", &[])?;
        self.folder_in(db)
    }

    fn record(&self, db: &mut Db<'_>, was: &Folder, now: &Folder) -> Result<()> {
        if was != now {
            tracing::info!(from = %was.root, to = %now.root, "the store's folder is recorded where it is now");
            db.execute(
                "UPDATE replicas SET root = $2, host = $3, folder_inode = $4 WHERE id = $1",
                &[&self.replica, &now.root, &now.host, &now.inode],
            )?;
        }
        Ok(())
    }

    /// Records a new replica, behind on everything the store holds.
    fn insert(&self, db: &mut Db<'_>, folder: &Folder, now_ms: i64) -> Result<()> {
        db.execute(
            "INSERT INTO replicas (id, root, host, folder_inode, created_ms)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &self.replica,
                &folder.root,
                &folder.host,
                &folder.inode,
                &now_ms,
            ],
        )?;
        db.execute(
            "INSERT INTO replica_cursors (replica) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&self.replica],
        )?;
        crate::dirty::mark_everything(db, &self.replica)?;
        crate::runtime::set(
            db,
            &self.replica,
            brain_store::JOINING_KEY,
            &serde_json::Value::Bool(true),
            now_ms,
        )
    }

    /// Every folder of the store: `id (root on host)`.
    fn known_folders(&self, db: &mut Db<'_>) -> Result<Vec<String>> {
        db.query("SELECT id, root, host FROM replicas ORDER BY id", &[])?
            .iter()
            .map(|r| {
                Ok(format!(
                    "{} ({} on {})",
                    get::<String>(r, 0)?,
                    get::<String>(r, 1)?,
                    get::<String>(r, 2)?
                ))
            })
            .collect()
    }

    fn not_this_folder(&self, recorded: Folder, here: &Folder) -> StoreError {
        StoreError::Refused(Box::new(NotThisFolder {
            replica: self.replica.clone(),
            database: self.shown().to_string(),
            root: recorded.root,
            host: recorded.host,
            here: here.root.clone(),
        }))
    }
}
