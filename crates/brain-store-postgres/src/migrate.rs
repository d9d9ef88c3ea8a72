//! Schema versions, numbered like SQLite's (`migrations/NNNN_name.sql`): a table `brain_schema`
//! holds the version; every migration past it runs in the opening transaction, under an
//! advisory lock so two processes opening a new database at once migrate it once.

use brain_store::{Result, StoreError};

use crate::db::{Db, get};

/// Every migration, in order; the version of the schema is the number of them applied.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../migrations/0001_init.sql")),
    (
        "0002_folder_identity",
        include_str!("../migrations/0002_folder_identity.sql"),
    ),
    (
        "0003_unlimited_types",
        include_str!("../migrations/0003_unlimited_types.sql"),
    ),
    (
        "0004_replicas",
        include_str!("../migrations/0004_replicas.sql"),
    ),
    (
        "0005_folder_pauses",
        include_str!("../migrations/0005_folder_pauses.sql"),
    ),
    (
        "0006_history",
        include_str!("../migrations/0006_history.sql"),
    ),
];

/// The advisory lock migrations hold (any fixed number; "brainmig" in ASCII).
const MIGRATE_LOCK: i64 = 0x6272_6169_6e6d_6967;

/// Whether the schema needs no migration (read without writing, so a role that may only read,
/// or a hot standby, opens a store that is up to date); refuses a database whose encoding is
/// not UTF-8, where a note with a character outside it would fail every sync.
pub(crate) fn is_current(db: &mut Db<'_>) -> Result<bool> {
    let row = db.query_one(
        "SELECT current_setting('server_encoding'), current_database(), \
                to_regclass('brain_schema') IS NOT NULL",
        &[],
    )?;
    let (encoding, database, has_schema): (String, String, bool) =
        (get(&row, 0)?, get(&row, 1)?, get(&row, 2)?);
    if encoding != "UTF8" {
        return Err(StoreError::Open {
            path: database,
            source: format!(
                "the database's encoding is {encoding}, and a brain needs UTF8 (notes hold \
                 any Unicode text): create the database with ENCODING 'UTF8' (for example \
                 `createdb -E UTF8 -T template0 NAME`) and use that one"
            )
            .into(),
        });
    }
    if !has_schema {
        return Ok(false);
    }
    let found: i32 = match db.query_opt("SELECT version FROM brain_schema", &[])? {
        Some(row) => get(&row, 0)?,
        None => return Ok(false),
    };
    Ok(usize::try_from(found).is_ok_and(|f| f == MIGRATIONS.len()))
}

/// Whether the database holds a brain's schema at all (of any version).
pub(crate) fn has_schema(db: &mut Db<'_>) -> Result<bool> {
    get(
        &db.query_one("SELECT to_regclass('brain_schema') IS NOT NULL", &[])?,
        0,
    )
}

/// Brings the schema in the first schema of the search path up to date.
pub(crate) fn run(db: &mut Db<'_>) -> Result<()> {
    db.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])?;
    db.batch("CREATE TABLE IF NOT EXISTS brain_schema (version INTEGER NOT NULL)")?;
    let row = db.query_opt("SELECT version FROM brain_schema", &[])?;
    let found: i32 = match row {
        Some(row) => get(&row, 0)?,
        None => {
            db.execute("INSERT INTO brain_schema (version) VALUES (0)", &[])?;
            0
        }
    };
    let supported = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    if found > supported {
        let database: String = get(&db.query_one("SELECT current_database()", &[])?, 0)?;
        return Err(StoreError::TooNew {
            path: database,
            found: i64::from(found),
            supported: i64::from(supported),
        });
    }
    for (n, (name, sql)) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tracing::info!(migration = name, "migrating the PostgreSQL store");
        db.batch(sql)?;
        let version = i32::try_from(n + 1).unwrap_or(i32::MAX);
        db.execute("UPDATE brain_schema SET version = $1", &[&version])?;
    }
    Ok(())
}
