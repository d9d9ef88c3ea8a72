//! What `brain doctor` asks of a store: SQLite's own page-level check, and every live entity's
//! path and hash to compare with the files on disk.

use brain_core::EntityRef;

use super::SqliteStore;
use brain_store::{LiveFile, Result};

impl SqliteStore {
    /// SQLite's `PRAGMA integrity_check`: every problem it lists (empty when the file is
    /// sound). A file too damaged to be read at all is [`brain_store::StoreError::Damaged`].
    pub fn integrity_problems(&self) -> Result<Vec<String>> {
        self.read(|tx| {
            let mut stmt = tx.prepare("PRAGMA integrity_check")?;
            let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
            let found = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(found.into_iter().filter(|line| line != "ok").collect())
        })
    }

    /// Every live entity's path and hash, by path: one query, so checking a large vault reads
    /// no entity's text.
    pub fn live_files(&self) -> Result<Vec<LiveFile>> {
        self.read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT type, id, path, content_hash, dirty FROM entities
                 WHERE deleted_ms IS NULL ORDER BY path",
            )?;
            let rows = stmt.query_map([], |row| {
                Ok(LiveFile {
                    entity: EntityRef::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?),
                    path: row.get(2)?,
                    content_hash: row.get(3)?,
                    dirty: row.get::<_, i64>(4)? != 0,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}
