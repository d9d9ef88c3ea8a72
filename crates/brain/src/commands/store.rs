//! `brain store copy --to URL|sqlite`: moves a vault's whole brain to the other backend.
//!
//! Everything a store holds of the vault ([`brain_store::StoreDump`]: every entity, deleted
//! ones too, with its feed number and dirty flag, the file bases, every conflict with its id,
//! the feed's position) is read in one snapshot and written to the target in one transaction,
//! then read back and compared by counts and a digest. Only then does config.toml point at the
//! target. The source is left as it was, so going back is editing `[store]` again. Runs with
//! the vault's sync lock held and no daemon running, so no write lands between the read and the
//! switch. The job queue is not copied: queued work is said, and `brain sync` redoes it.

use std::fs::OpenOptions;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use brain_store::jobs::{JobFilter, JobState};
use brain_store::{Backend, StoreError};
use serde_json::json;

use super::{Vault, daemon};
use crate::output;

/// Copies the vault's brain to `to` (a PostgreSQL URL or `sqlite`) and switches the vault to it.
pub fn copy(vault: &Vault, to: &str, force: bool, json: bool) -> Result<u8> {
    // A store other folders share would keep serving them: only this folder would move, and
    // the two stores would drift apart from then on.
    let others: Vec<String> = vault
        .store
        .replicas()?
        .into_iter()
        .filter(|r| !r.this)
        .map(|r| format!("{} ({} on {})", r.id, r.root, r.host))
        .collect();
    if !others.is_empty() {
        bail!(
            "the store of {} is shared with other folders: {}. A copy would move only this \
             folder, and the others would go on with the old store; nothing was copied. Move \
             them too by joining each to the new store (move its .brain/ aside, `brain init \
             --store URL`; its notes are merged), or remove the ones gone for good with `brain \
             store forget ID` first",
            vault.paths.root.display(),
            others.join(", ")
        );
    }
    if let Some(pid) = daemon::running(&vault.paths) {
        bail!(
            "`brain serve` (pid {pid}) is running on {}: stop it first, so no write lands \
             between the copy and the switch",
            vault.paths.root.display()
        );
    }
    // Every other process with this vault open holds the store lock shared: taking it
    // whole means none is writing, and any that starts now waits for the switch, then opens
    // the store the vault has moved to.
    if let Some(store_lock) = &vault.store_lock
        && store_lock.try_lock().is_err()
    {
        bail!(
            "another brain process has {} open (`brain mcp`, `brain put`, a sync...): a write \
             it makes during the copy would stay in the old store; stop it or let it end, then \
             run the copy again",
            vault.paths.root.display()
        );
    }
    let lock_path = vault.paths.layout.sync_lock();
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        bail!(
            "a sync holds {}: wait for it to end (`brain status`), then run the copy again",
            lock_path.display()
        );
    }
    let running = vault.store.list_jobs(&JobFilter {
        states: vec![JobState::Running],
        limit: 10,
        ..JobFilter::default()
    })?;
    if !running.is_empty() {
        bail!(
            "job #{} ({}) is running: wait for it to end (`brain status`), then run the copy \
             again",
            running[0].id,
            running[0].job_type
        );
    }
    let queued = vault
        .store
        .job_counts()?
        .iter()
        .filter(|c| c.state == JobState::Queued)
        .map(|c| c.count)
        .sum::<u64>();

    let dump = vault.store.dump().context("reading the vault's store")?;
    if to != "sqlite" {
        refuse_unholdable(&dump)?;
    }
    let (target, shown, new_store) = open_target(vault, to, force)?;
    let want = dump.fingerprint();
    match target.load_dump(&dump, force) {
        Err(e @ StoreError::NotEmpty { .. }) => return Err(e.into()),
        other => other.with_context(|| format!("writing the brain into {shown}"))?,
    }
    let got = target
        .dump()
        .with_context(|| format!("reading back the copy in {shown}"))?
        .fingerprint();
    if got != want {
        bail!(
            "the copy in {shown} does not match the vault's store (source {want:?}, copy \
             {got:?}): the vault still uses its old store, nothing in it changed; run the copy \
             again with --force to replace the partial copy"
        );
    }
    switch_config(vault, &new_store)?;
    drop(lock);
    if json {
        output::json(&json!({
            "from": source_shown(vault),
            "to": shown,
            "copied": got,
            "verified": true,
            "queued_jobs_not_copied": queued,
        }))?;
        return Ok(0);
    }
    output::line(format!(
        "Copied {} notes ({} deleted kept), {} file bases and {} conflicts to {shown}; the \
         change feed goes on after {}.\nVerified: counts and digest {} match.\n{} now uses \
         {shown}; its old store ({}) is left as it was.",
        got.live,
        got.deleted,
        got.bases,
        got.conflicts,
        got.change_cursor,
        &got.digest[..16],
        vault.paths.root.display(),
        source_shown(vault),
    ))?;
    if queued > 0 {
        output::line(format!(
            "{queued} queued job(s) stay in the old store: run `brain sync` to redo the work."
        ))?;
    }
    Ok(0)
}

/// `.brain/store.lock` held shared (see [`Vault::store_lock`]), waiting for a `brain store
/// copy` that holds it whole; `None` where the folder cannot be written (nothing there writes).
pub fn share_store(paths: &crate::config::VaultPaths) -> Result<Option<std::fs::File>> {
    let path = paths.layout.store_lock();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .or_else(|_| OpenOptions::new().read(true).open(&path));
    let Ok(file) = file else {
        return Ok(None);
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => {
            eprintln!(
                "Waiting for `brain store copy` to finish moving the brain of {}...",
                paths.root.display()
            );
            file.lock_shared()
                .with_context(|| format!("cannot lock {}", path.display()))?;
            Ok(Some(file))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            tracing::debug!(path = %path.display(), error = %e, "the store lock is not available");
            Ok(None)
        }
    }
}

/// `brain store forget REPLICA`: another folder leaves this vault's PostgreSQL store.
pub fn forget(
    cli_vault: Option<&std::path::Path>,
    replica: &str,
    force: bool,
    json: bool,
) -> Result<u8> {
    let paths = super::locate::vault_paths(cli_vault)?;
    paths.require_initialized()?;
    let config = crate::config::load(&paths)?;
    let cancelled =
        crate::backend::forget_replica(&paths.database(), &config.store, replica, force)
            .with_context(|| format!("forgetting the replica {replica}"))?;
    if json {
        output::json(&json!({ "forgotten": replica, "cancelled_jobs": cancelled }))?;
    } else {
        output::line(format!(
            "The store no longer serves the replica {replica}; {cancelled} of its queued job(s) \
             cancelled. If its folder is used again it is refused, until it joins anew (`brain \
             init --store URL` there after moving its .brain/ aside; its notes are merged)."
        ))?;
    }
    Ok(0)
}

/// `brain store reattach`: this folder becomes its PostgreSQL store's folder in place of the
/// recorded one. Refused while the recorded folder is still on this machine, the same folder
/// by its inode, unless `force`: this folder is then a copy of it.
pub fn reattach(cli_vault: Option<&std::path::Path>, force: bool, json: bool) -> Result<u8> {
    let paths = super::locate::vault_paths(cli_vault)?;
    paths.require_initialized()?;
    let config = crate::config::load(&paths)?;
    let here = crate::backend::folder_of(&paths.database());
    let shown = config
        .store
        .url
        .as_deref()
        .map(brain_store_postgres::connect::without_password)
        .unwrap_or_default();
    if !force
        && let Some(recorded) = crate::backend::recorded_folder(&paths.database(), &config.store)?
        && recorded.host == here.host
        && recorded.root != here.root
        && std::path::Path::new(&recorded.root)
            .join(".brain/config.toml")
            .exists()
        && crate::backend::folder_of(&std::path::Path::new(&recorded.root).join(".brain/brain.db"))
            .inode
            == recorded.inode
    {
        bail!(
            "{} is still there and is the folder of the store {shown}: if {} is a copy of it, \
             give the copy a store of its own (move its .brain/ aside and run `brain init`); \
             to make this folder the store's folder all the same (the other one is then \
             refused), pass --force",
            recorded.root,
            here.root
        );
    }
    let before = crate::backend::reattach(&paths.database(), &config.store)
        .with_context(|| format!("reattaching {} to {shown}", paths.root.display()))?;
    let was = before
        .as_ref()
        .filter(|b| **b != here)
        .map(|b| format!("{} on {}", b.root, b.host));
    if json {
        output::json(&json!({ "store": shown, "folder": here.root, "replaced": was }))?;
        return Ok(0);
    }
    match was {
        Some(was) => output::line(format!(
            "{} is now the vault folder of {shown} (it was {was}). Run `brain sync` to bring \
             them in step.",
            here.root
        ))?,
        None => output::line(format!(
            "{} already is the vault folder of {shown}: nothing changed.",
            here.root
        ))?,
    }
    Ok(0)
}

/// The longest path PostgreSQL indexes: a btree row holds about 2,700 bytes, and `path_key` (its
/// case-folded form) can be longer than the path. Files longer than `MAX_ID_BYTES` are no
/// longer imported at all; a SQLite store may still hold one from before.
const MAX_POSTGRES_PATH_BYTES: usize = 1_800;

/// Refuses a copy to PostgreSQL of a brain holding notes it cannot hold (a NUL character in a
/// title or tag, kept by SQLite from a frontmatter escape before such notes were refused; a
/// path too long to index), naming each with what to do, before anything is written.
fn refuse_unholdable(dump: &brain_store::StoreDump) -> Result<()> {
    let mut found = Vec::new();
    for d in &dump.entities {
        let e = &d.entity;
        let why = if e.title.contains('\0') || e.tags.iter().any(|t| t.contains('\0')) {
            "its frontmatter holds a NUL character (an escape such as \\0)"
        } else if e.path.len() > MAX_POSTGRES_PATH_BYTES {
            "its path is too long to index"
        } else {
            continue;
        };
        let state = if e.deleted_ms.is_some() {
            "deleted: `brain restore` it, fix its file, sync, then `brain rm` it again"
        } else {
            "fix its file and run `brain sync`"
        };
        found.push(format!("{} ({why}; {state})", e.entity_ref));
    }
    if found.is_empty() {
        return Ok(());
    }
    bail!(
        "{} note(s) of this brain cannot be held by PostgreSQL, so nothing was copied: {}",
        found.len(),
        found.join("; ")
    )
}

/// What the vault's config will say after the switch.
enum NewStore {
    Sqlite,
    Postgres(String),
}

fn source_shown(vault: &Vault) -> String {
    shown(&vault.paths, &vault.config)
}

/// The vault's store as shown to people: the SQLite file, or the PostgreSQL URL without its
/// password.
pub fn shown(paths: &crate::config::VaultPaths, config: &brain_core::Config) -> String {
    match &config.store.url {
        Some(url) if config.store.backend == brain_core::config::StoreBackend::Postgres => {
            brain_store_postgres::connect::without_password(url)
        }
        _ => paths.database().display().to_string(),
    }
}

fn open_target(
    vault: &Vault,
    to: &str,
    force: bool,
) -> Result<(Arc<dyn Backend>, String, NewStore)> {
    use brain_core::config::StoreBackend;
    if to == "sqlite" {
        if vault.config.store.backend == StoreBackend::Sqlite {
            bail!(
                "{} already uses SQLite: nothing to copy",
                vault.paths.root.display()
            );
        }
        let db = vault.paths.database();
        if db.exists() && force {
            // Replaced, never lost: the old file is kept beside it.
            let stamp = brain_core::time::format_compact(brain_core::time::now_ms());
            super::doctor_rebuild::move_store_aside(&vault.paths, &stamp)?;
        }
        let store = if db.exists() {
            crate::backend::open_existing(&db, &brain_core::config::StoreConfig::default())?
        } else {
            crate::backend::create(&db, &brain_core::config::StoreConfig::default(), None)?
        };
        return Ok((store, db.display().to_string(), NewStore::Sqlite));
    }
    if !crate::backend::is_postgres_url(to) {
        bail!(
            "--to {}: give a PostgreSQL URL (postgres://USER@HOST[:PORT]/DATABASE) or `sqlite`",
            brain_store_postgres::connect::without_password(to)
        );
    }
    if vault.config.store.url.as_deref() == Some(to)
        || crate::backend::is_same_store(&vault.config.store, to).unwrap_or(false)
    {
        bail!(
            "{} already uses {}{}: nothing to copy",
            vault.paths.root.display(),
            brain_store_postgres::connect::without_password(to),
            if vault.config.store.url.as_deref() == Some(to) {
                String::new()
            } else {
                format!(
                    " (the same database as {}, named another way)",
                    source_shown(vault)
                )
            }
        );
    }
    let config = brain_core::config::StoreConfig {
        backend: StoreBackend::Postgres,
        url: Some(to.to_string()),
        ..vault.config.store.clone()
    };
    let store =
        crate::backend::create(&vault.paths.database(), &config, None).with_context(|| {
            format!(
                "setting up {} as this vault's store",
                brain_store_postgres::connect::without_password(to)
            )
        })?;
    Ok((
        store,
        brain_store_postgres::connect::without_password(to),
        NewStore::Postgres(to.to_string()),
    ))
}

/// Points `[store]` of config.toml at the new store, keeping every comment and other setting.
fn switch_config(vault: &Vault, new_store: &NewStore) -> Result<()> {
    let file = vault.paths.config_file();
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", file.display()))?;
    let store = doc
        .entry("store")
        .or_insert(toml_edit::table())
        .as_table_mut()
        .with_context(|| format!("[store] of {} is not a table", file.display()))?;
    match new_store {
        NewStore::Sqlite => {
            store.insert("backend", toml_edit::value("sqlite"));
            store.remove("url");
        }
        NewStore::Postgres(url) => {
            store.insert("backend", toml_edit::value("postgres"));
            store.insert("url", toml_edit::value(url.as_str()));
        }
    }
    let tmp = file.with_extension("toml.new");
    std::fs::write(&tmp, doc.to_string())
        .and_then(|()| std::fs::rename(&tmp, &file))
        .with_context(|| format!("cannot write {}", file.display()))
}
