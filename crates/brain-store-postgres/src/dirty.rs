//! Which replica's folder is behind on which entity (`entity_dirty`, migration 0004).
//!
//! A store serves several vault folders; "changed since this folder last held it" is per
//! folder. Every write of an entity's content, place or liveness says who wrote it
//! ([`Writer`]): an interface (`brain put`, MCP: every folder is behind), or one folder's
//! sync (that folder holds it now, every other folder is behind). A folder's export clears its
//! own mark once its file holds the entity (`SetBase`, `DropBase`).

use crate::db::{Db, get};
use brain_store::{ChangeWhy, Result};

/// Who is writing in this transaction, and which folders a change must reach.
pub(crate) struct Writer<'a> {
    /// The replica of the store handle that writes.
    replica: &'a str,
    /// Whether the write comes from that replica's folder (a sync) rather than an interface.
    from_folder: bool,
    /// Every other attached replica.
    others: Vec<String>,
    /// Whether `replica` is a folder of the store (or the store has none yet).
    attached: bool,
    /// What the versions this write makes are made by (history).
    why: ChangeWhy,
}

impl<'a> Writer<'a> {
    /// A write through an interface: each change is new to every folder, this handle's too.
    pub(crate) fn interface(db: &mut Db<'_>, replica: &'a str, why: &ChangeWhy) -> Result<Self> {
        Self::new(db, replica, false, why.clone())
    }

    /// A write by `replica`'s sync: its folder holds what it writes.
    pub(crate) fn folder(db: &mut Db<'_>, replica: &'a str) -> Result<Self> {
        Self::new(db, replica, true, ChangeWhy::file())
    }

    /// What the versions this write makes are made by.
    pub(crate) fn why(&self) -> &ChangeWhy {
        &self.why
    }

    /// Reads the attached replicas under a share lock on `replicas`, held to the commit: a
    /// folder attaching now (which marks every entity for itself under an exclusive lock)
    /// either waits for this transaction and sees its rows, or committed first and is read.
    ///
    /// An interface write marks this handle's replica too only when it is a folder of the
    /// store, or the store has none yet (its first folder takes the marks): a worker with no
    /// folder (`brain work --store`) has nothing to export to.
    fn new(db: &mut Db<'_>, replica: &'a str, from_folder: bool, why: ChangeWhy) -> Result<Self> {
        db.execute("LOCK TABLE replicas IN ROW SHARE MODE", &[])?;
        let rows = db.query("SELECT id FROM replicas", &[])?;
        let all: Vec<String> = rows.iter().map(|r| get(r, 0)).collect::<Result<_>>()?;
        let attached = all.is_empty() || all.iter().any(|id| id == replica);
        if from_folder && !attached {
            // `brain store forget` removed this folder while one of its processes ran on: what
            // it would write now belongs to a replica the store keeps nothing for.
            return Err(brain_store::StoreError::Refused(
                format!(
                    "this folder (replica {replica}) was removed from the store by `brain store \
                     forget`, so nothing of it is written; to join again, move .brain/ aside \
                     and run `brain init --store URL`"
                )
                .into(),
            ));
        }
        let others = all.into_iter().filter(|id| id != replica).collect();
        Ok(Writer {
            replica,
            from_folder,
            others,
            attached,
            why,
        })
    }

    /// The replica this writer writes as.
    pub(crate) fn replica(&self) -> &str {
        self.replica
    }

    /// Entity `row_id` changed (content, place or liveness): every folder that does not hold
    /// the change now is marked behind. `was_behind`: whether the writer's folder was marked
    /// (read with the row), so a folder's import of a note it was not behind on costs no
    /// statement here.
    pub(crate) fn changed(&self, db: &mut Db<'_>, row_id: i64, was_behind: bool) -> Result<()> {
        if self.from_folder {
            if was_behind {
                clear(db, self.replica, row_id)?;
            }
        } else if self.attached {
            mark(db, &[self.replica.to_string()], row_id)?;
        }
        mark(db, &self.others, row_id)
    }

    /// Entity `row_id` was written with what it already held: the writing folder holds it.
    pub(crate) fn in_step(&self, db: &mut Db<'_>, row_id: i64, was_behind: bool) -> Result<()> {
        if self.from_folder && was_behind {
            clear(db, self.replica, row_id)?;
        }
        Ok(())
    }
}

/// Marks `row_id` behind in each of `replicas`.
fn mark(db: &mut Db<'_>, replicas: &[String], row_id: i64) -> Result<()> {
    if replicas.is_empty() {
        return Ok(());
    }
    db.execute(
        "INSERT INTO entity_dirty (replica, entity_id) SELECT r, $2 FROM unnest($1::text[]) r
         ON CONFLICT DO NOTHING",
        &[&replicas, &row_id],
    )?;
    Ok(())
}

/// `replica`'s folder holds `row_id` as the store does.
pub(crate) fn clear(db: &mut Db<'_>, replica: &str, row_id: i64) -> Result<()> {
    db.execute(
        "DELETE FROM entity_dirty WHERE replica = $1 AND entity_id = $2",
        &[&replica, &row_id],
    )?;
    Ok(())
}

/// No folder is behind on `row_id` (a tombstone archived under a name of its own: no folder
/// has its file).
pub(crate) fn clear_all(db: &mut Db<'_>, row_id: i64) -> Result<()> {
    db.execute("DELETE FROM entity_dirty WHERE entity_id = $1", &[&row_id])?;
    Ok(())
}

/// Marks every entity behind in `replica` (a folder attached or reattached: nothing in it is
/// known to hold anything yet).
pub(crate) fn mark_everything(db: &mut Db<'_>, replica: &str) -> Result<()> {
    db.execute(
        "INSERT INTO entity_dirty (replica, entity_id) SELECT $1, row_id FROM entities
         ON CONFLICT DO NOTHING",
        &[&replica],
    )?;
    Ok(())
}

/// SQL for "row `e.row_id` is behind in replica `$R`", with `$R` the parameter number given.
pub(crate) fn is_behind_sql(param: usize) -> String {
    format!(
        "EXISTS (SELECT 1 FROM entity_dirty d WHERE d.replica = ${param} AND d.entity_id = e.row_id)"
    )
}
