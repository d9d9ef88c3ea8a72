//! Listing and counting entities, and what `brain doctor` asks of a store.

use brain_core::EntityRef;
use postgres::types::ToSql;

use crate::db::{Db, get};
use brain_store::{EntitySummary, ListFilter, LiveFile, Result};

/// Entities in path order (bytes, as SQLite orders them). The folder filter is a range on
/// `path` (`folder/` up to `folder0`, `0` being the byte after `/`), which has no wildcard
/// characters a folder name could contain.
pub(crate) fn list(db: &mut Db<'_>, f: &ListFilter) -> Result<Vec<EntitySummary>> {
    let mut sql = String::from(
        "SELECT type, id, title, path, updated_ms, deleted_ms FROM entities WHERE true",
    );
    let mut args: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    let arg = |args: &mut Vec<Box<dyn ToSql + Sync>>, v: Box<dyn ToSql + Sync>| {
        args.push(v);
        format!("${}", args.len())
    };
    if !f.include_deleted {
        sql.push_str(" AND deleted_ms IS NULL");
    }
    if let Some(t) = &f.entity_type {
        let n = arg(&mut args, Box::new(t.clone()));
        sql.push_str(&format!(" AND type = {n}"));
    }
    if let Some(tag) = &f.tag {
        let n = arg(&mut args, Box::new(tag.clone()));
        sql.push_str(&format!(
            " AND row_id IN (SELECT entity_id FROM entity_tags WHERE tag = {n})"
        ));
    }
    if let Some(folder) = f.folder.as_deref().map(|d| d.trim_matches('/'))
        && !folder.is_empty()
    {
        let lo = arg(&mut args, Box::new(format!("{folder}/")));
        let hi = arg(&mut args, Box::new(format!("{folder}0")));
        sql.push_str(&format!(
            " AND path COLLATE \"C\" >= {lo} AND path COLLATE \"C\" < {hi}"
        ));
    }
    sql.push_str(" ORDER BY path COLLATE \"C\", type COLLATE \"C\", id COLLATE \"C\"");
    if f.limit > 0 {
        let n = arg(
            &mut args,
            Box::new(i64::try_from(f.limit).unwrap_or(i64::MAX)),
        );
        sql.push_str(&format!(" LIMIT {n}"));
    }
    let n = arg(
        &mut args,
        Box::new(i64::try_from(f.offset).unwrap_or(i64::MAX)),
    );
    sql.push_str(&format!(" OFFSET {n}"));
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
    let rows = db.query(&sql, &params)?;
    rows.iter()
        .map(|row| {
            Ok(EntitySummary {
                entity: EntityRef::new(get::<String>(row, 0)?, get::<String>(row, 1)?),
                title: get(row, 2)?,
                path: get(row, 3)?,
                updated_ms: get(row, 4)?,
                deleted_ms: get(row, 5)?,
            })
        })
        .collect()
}

/// Number of live entities (an index-only count of the live path keys).
pub(crate) fn count_live(db: &mut Db<'_>) -> Result<u64> {
    let row = db.query_one(
        "SELECT count(*) FROM entities WHERE deleted_ms IS NULL",
        &[],
    )?;
    Ok(u64::try_from(get::<i64>(&row, 0)?).unwrap_or(0))
}

/// Every live entity's path and hash, by path, reading no entity's text.
pub(crate) fn live_files(db: &mut Db<'_>, replica: &str) -> Result<Vec<LiveFile>> {
    let rows = db.query(
        &format!(
            "SELECT e.type, e.id, e.path, e.content_hash, {} FROM entities e
             WHERE e.deleted_ms IS NULL ORDER BY e.path COLLATE \"C\"",
            crate::dirty::is_behind_sql(1)
        ),
        &[&replica],
    )?;
    rows.iter()
        .map(|row| {
            Ok(LiveFile {
                entity: EntityRef::new(get::<String>(row, 0)?, get::<String>(row, 1)?),
                path: get(row, 2)?,
                content_hash: get(row, 3)?,
                dirty: get(row, 4)?,
            })
        })
        .collect()
}

/// What the store can check of itself: every live entity has its search text and no
/// tombstone keeps one, and every file base points at a live-or-deleted entity of the same
/// reference. (The server checks its own pages; `amcheck` is an extension a user may lack.)
/// The schema's tables, each checked for by `brain doctor`.
const TABLES: &[&str] = &[
    "brain_schema",
    "replicas",
    "replica_cursors",
    "entities",
    "entity_tags",
    "file_bases",
    "conflicts",
    "runtime_state",
    "entity_changes",
    "entity_dirty",
    "entity_versions",
    "jobs",
    "job_type_pauses",
    "schedules",
];

pub(crate) fn integrity_problems(db: &mut Db<'_>) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let missing = db.query(
        "SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NULL",
        &[&TABLES.to_vec()],
    )?;
    if !missing.is_empty() {
        let names = missing
            .iter()
            .map(|row| get::<String>(row, 0))
            .collect::<Result<Vec<_>>>()?;
        // The rest of the checks read those tables: said alone, plainly.
        return Ok(vec![format!(
            "the table(s) {} of the schema are missing (dropped by hand?): copy what is left \
             to a new database (`brain store copy --to URL`) or restore the database from a \
             backup",
            names.join(", ")
        )]);
    }
    let row = db.query_one(
        "SELECT count(*) FILTER (WHERE deleted_ms IS NULL AND tsv IS NULL),
                count(*) FILTER (WHERE deleted_ms IS NOT NULL AND tsv IS NOT NULL)
         FROM entities",
        &[],
    )?;
    let (unindexed, indexed_dead): (i64, i64) = (get(&row, 0)?, get(&row, 1)?);
    if unindexed > 0 {
        problems.push(format!("{unindexed} live note(s) have no search text"));
    }
    if indexed_dead > 0 {
        problems.push(format!(
            "{indexed_dead} deleted note(s) are still searchable"
        ));
    }
    let row = db.query_one(
        "SELECT count(*) FROM file_bases b JOIN entities e ON e.row_id = b.entity_id
         WHERE b.type <> e.type OR b.id <> e.id",
        &[],
    )?;
    let mismatched: i64 = get(&row, 0)?;
    if mismatched > 0 {
        problems.push(format!(
            "{mismatched} file base(s) name another note than their row"
        ));
    }
    Ok(problems)
}
