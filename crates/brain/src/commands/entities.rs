//! Reading and writing entities: `search`, `list`, `get`, `put`, `rm`, `restore`.

use std::io::{IsTerminal, Read, Write};

use anyhow::{Context, Result, bail};
use brain_api::{Brain, ListRequest, SearchRequest};
use brain_core::EntityRef;
use brain_core::time::format_iso;
use brain_store::{Entity, PutOutcome};
use brain_sync::jobs::DIRECTORY_EXPORT;
use serde_json::json;

use super::Vault;
use crate::cli::{ListArgs, PutArgs, RefMessageArgs, SearchArgs};
use crate::output::{self, clip};

/// Who will carry a store change to the vault, and when, for the message after a write.
fn who_writes(brain: &Brain, served: bool) -> String {
    let paused = brain.paused_types().unwrap_or_default();
    if paused.iter().any(|t| t == DIRECTORY_EXPORT) {
        return "sync is paused: the export waits for `brain sync resume`, then".into();
    }
    if served {
        format!(
            "`brain serve` (in about {} ms)",
            brain.config().serve.sync_debounce_ms
        )
    } else {
        "the next `brain sync` (or a running `brain serve`)".into()
    }
}

/// Says on stderr, in one line with the fix, when an answer read from the store about the
/// notes at `paths` may be older than the files (see `Brain::stale_hint` for what it can tell).
/// A one-shot read has no watcher: without this, a note edited on disk and not synced yet is
/// answered with its old text and nothing says so.
pub(super) fn say_if_stale(vault: &Vault, paths: &[&str]) {
    let Ok(plugged) = vault.plugged() else {
        return;
    };
    let brain = vault.brain(plugged, brain_api::Workers::Never);
    if let Some(hint) = brain.stale_hint(paths) {
        eprintln!("brain: {hint}");
    }
}

fn parse_ref(s: &str) -> Result<EntityRef> {
    Ok(s.parse::<EntityRef>()?)
}

/// The marks `brain search` puts around matched words: bold yellow on a terminal (unless
/// `NO_COLOR`), else the same unambiguous marks as MCP (`⟦word⟧`, a mark in the note itself
/// doubled), so a pipe or a `--json` reader never mistakes the note's own `**bold**` for a
/// match.
fn search_marks(json: bool) -> (&'static str, &'static str) {
    if !json && std::io::stdout().is_terminal() && !crate::logging::no_color() {
        ("\x1b[1;33m", "\x1b[0m")
    } else {
        brain_store::HIGHLIGHT
    }
}

/// `brain search`, through the facade as every interface searches. A `--type` the vault does
/// not have matches nothing and says so on stderr (as MCP's `warning` does).
pub fn search(vault: &Vault, args: &SearchArgs, json: bool) -> Result<u8> {
    let brain = vault.brain(vault.plugged()?, brain_api::Workers::Never);
    let mut hint = None;
    let hits = if let Some(warning) = brain.unknown_types_warning(&args.types) {
        eprintln!("brain: warning: {warning}");
        Vec::new()
    } else {
        let req = SearchRequest {
            query: args.query.join(" "),
            types: args.types.clone(),
            tags: args.tags.clone(),
            limit: args.limit,
            offset: 0,
        };
        let page = brain.search_with_marks(&req, search_marks(json))?;
        hint = page.hint;
        page.hits
    };
    let paths: Vec<&str> = hits.iter().map(|h| h.path.as_str()).collect();
    say_if_stale(vault, &paths);
    if json {
        if let Some(hint) = &hint {
            eprintln!("brain: hint: {hint}");
        }
        return output::json(&hits).map(|()| 0);
    }
    if hits.is_empty() {
        output::line("No matches.")?;
        if let Some(hint) = &hint {
            output::line(format!("Hint: {hint}."))?;
        }
    }
    for (i, h) in hits.iter().enumerate() {
        output::line(format!(
            "{:>2}. {}  ({})  {}",
            i + 1,
            h.title,
            h.entity,
            h.path
        ))?;
        let snippet = h.snippet.split_whitespace().collect::<Vec<_>>().join(" ");
        output::line(format!("    {snippet}"))?;
    }
    Ok(0)
}

/// `brain list`, through the facade. A `--type` the vault does not have lists nothing and says
/// so on stderr, naming the vault's types; an empty listing says "No notes." rather than
/// printing nothing, which reads like a hang or a failure.
pub fn list(vault: &Vault, args: &ListArgs, json: bool) -> Result<u8> {
    let brain = vault.brain(vault.plugged()?, brain_api::Workers::Never);
    let asked: Vec<String> = args.entity_type.iter().cloned().collect();
    let rows = if let Some(warning) = brain.unknown_types_warning(&asked) {
        eprintln!("brain: warning: {warning}");
        Vec::new()
    } else {
        let req = ListRequest {
            entity_type: args.entity_type.clone(),
            tag: args.tag.clone(),
            folder: args.folder.clone(),
            include_deleted: args.deleted,
            // No --limit: every note.
            limit: args.limit.unwrap_or(usize::MAX),
            offset: args.offset,
        };
        brain.list(&req)?.items
    };
    let mut paths: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
    // The folder asked for too: a note added there is missing from the rows.
    let folder = args
        .folder
        .as_deref()
        .map(|f| f.trim_matches('/'))
        .filter(|f| !f.is_empty())
        .map(|f| format!("{f}/"));
    paths.extend(folder.as_deref());
    say_if_stale(vault, &paths);
    if json {
        let docs: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "type": r.entity.entity_type,
                    "id": r.entity.id,
                    "title": r.title,
                    "path": r.path,
                    "updated": format_iso(r.updated_ms),
                    "deleted": r.deleted_ms.map(format_iso),
                })
            })
            .collect();
        return output::json(&docs).map(|()| 0);
    }
    if rows.is_empty() {
        output::line("No notes.")?;
        return Ok(0);
    }
    // The id is never cut (it is what `get`, `put` and `rm` take); the title is.
    let ids: Vec<String> = rows.iter().map(|r| r.entity.to_string()).collect();
    let id_width = ids
        .iter()
        .map(|i| output::width(i))
        .max()
        .unwrap_or(0)
        .max(4);
    output::line(format!(
        "{}  {}  {:<20}  PATH",
        output::pad("NOTE", id_width),
        output::pad("TITLE", 40),
        "UPDATED"
    ))?;
    for (r, id) in rows.iter().zip(&ids) {
        let deleted = if r.deleted_ms.is_some() {
            "  (deleted)"
        } else {
            ""
        };
        output::line(format!(
            "{}  {}  {}  {}{deleted}",
            output::pad(id, id_width),
            output::pad(&clip(&r.title, 40), 40),
            format_iso(r.updated_ms),
            r.path
        ))?;
    }
    Ok(0)
}

fn entity_json(e: &Entity) -> serde_json::Value {
    brain_api::entity_json(e)
}

/// `brain get`: the canonical file, byte for byte. Through the facade, so a missing id is
/// answered with the one most likely meant, and a deleted note is said to be restorable.
pub fn get(vault: &Vault, entity: &str, json: bool) -> Result<u8> {
    let r = parse_ref(entity)?;
    let brain = vault.brain(vault.plugged()?, brain_api::Workers::Never);
    let e = match brain.get(&r) {
        Ok(e) => e,
        Err(err) => {
            // A file saved at its path and not synced yet is the likely reason it is missing.
            if let Ok(path) =
                brain_core::PathMapper::new(vault.config.vault.entity_types.iter().cloned())
                    .and_then(|m| m.to_path(&r))
            {
                say_if_stale(vault, &[path.as_str()]);
            }
            return Err(err.into());
        }
    };
    say_if_stale(vault, &[e.path.as_str()]);
    if json {
        return output::json(&entity_json(&e)).map(|()| 0);
    }
    let mut out = std::io::stdout().lock();
    out.write_all(e.content().as_bytes())?;
    out.flush()?;
    Ok(0)
}

/// `brain put`: validate the note exactly as an import would, then store it (dirty).
pub fn put(vault: &Vault, args: &PutArgs, json: bool) -> Result<u8> {
    let r = parse_ref(&args.entity)?;
    let max = vault.config.sync.max_file_bytes;
    let mut bytes = Vec::new();
    match &args.file {
        Some(f) => {
            std::fs::File::open(f)
                .with_context(|| format!("cannot read {}", f.display()))?
                .take(max + 1)
                .read_to_end(&mut bytes)
                .with_context(|| format!("cannot read {}", f.display()))?;
        }
        None => {
            std::io::stdin()
                .lock()
                .take(max + 1)
                .read_to_end(&mut bytes)
                .context("cannot read the note from stdin")?;
        }
    }
    if bytes.len() as u64 > max {
        bail!(
            "the note is over the limit of {max} bytes (sync.max_file_bytes); nothing was stored"
        );
    }
    // The same path as every interface (MCP...): checked as an import would check the file,
    // then the entity and its export job in one transaction (the outbox). Without a flag,
    // `Expect::Any`: `brain put` replaces whatever is there, as a user typing it means; with
    // one, a compare-and-set against the store and the file on disk alike.
    let expect = match (&args.expected_hash, args.if_absent) {
        (Some(h), _) => brain_api::Expect::Hash(h.trim().to_string()),
        (None, true) => brain_api::Expect::Absent,
        (None, false) => brain_api::Expect::Any,
    };
    let served = super::daemon::running(&vault.paths).is_some();
    let brain = vault
        .brain(vault.plugged()?, brain_api::Workers::Never)
        .with_message(args.message.clone());
    let written = brain.write(&r, &bytes, expect)?;
    let (outcome, path) = (written.outcome, written.path.clone());
    if json {
        return output::json(&json!({
            "type": r.entity_type, "id": r.id, "path": path,
            "outcome": outcome, "content_hash": written.content_hash,
            "export_job": written.export_job,
        }))
        .map(|()| 0);
    }
    let verb = match outcome {
        PutOutcome::Created => "Created",
        PutOutcome::Updated => "Updated",
        PutOutcome::Unchanged => "Unchanged",
    };
    output::line(format!(
        "{verb} {r} ({path}); {} writes it to the vault.",
        who_writes(&brain, served)
    ))?;
    // What the sync will really do when the file was edited on disk meanwhile: said now, not
    // found later in a conflict copy.
    if outcome != PutOutcome::Unchanged
        && let Ok(Some(brain_api::DiskVersion::Changed(hash))) = brain.disk_version(&path)
        && hash != written.content_hash
    {
        output::line(format!(
            "Note: {path} was changed on disk since the last sync, so the next sync finds both \
             versions changed and settles them by sync.conflict_policy ({}).",
            settled_how(vault, &path)
        ))?;
    }
    Ok(0)
}

/// What the next sync does with a note changed both on disk and in the store, by the vault's
/// `sync.conflict_policy`.
fn settled_how(vault: &Vault, path: &str) -> String {
    use brain_core::ConflictPolicy;
    match vault.config.sync.conflict_policy {
        ConflictPolicy::KeepBoth => format!(
            "keep-both: {path} keeps the text saved on disk and the store's text is written \
             beside it as a conflict copy, listed in `brain conflicts list`"
        ),
        ConflictPolicy::FileWins => {
            "file-wins: the text on disk wins; the store's is kept in the conflict record".into()
        }
        ConflictPolicy::DbWins => format!(
            "db-wins: the store's text is written over {path}; the file's is kept in the \
             conflict record"
        ),
        ConflictPolicy::NewestWins => {
            "newest-wins: the side changed last wins; the other is kept in the conflict record"
                .into()
        }
    }
}

/// `brain rm`: soft delete.
pub fn rm(vault: &Vault, args: &RefMessageArgs, json: bool) -> Result<u8> {
    let r = parse_ref(&args.entity)?;
    // The delete and the job that moves its file to the trash commit together (the outbox).
    // Whether a daemon serves the vault decides both when the export is due and what we say.
    let served = super::daemon::running(&vault.paths).is_some();
    let brain = vault
        .brain(vault.plugged()?, brain_api::Workers::Never)
        .with_message(args.message.clone());
    // A file edited on disk since the last sync is not deleted by the sync: said now.
    let edited_on_disk = brain.get(&r).ok().and_then(|e| {
        matches!(
            brain.disk_version(&e.path),
            Ok(Some(brain_api::DiskVersion::Changed(_)))
        )
        .then_some(e.path)
    });
    brain.delete(&r)?;
    if json {
        return output::json(&json!({"type": r.entity_type, "id": r.id, "deleted": true}))
            .map(|()| 0);
    }
    output::line(format!(
        "Deleted {r}; {} moves its file to .brain/trash/. `brain restore {r}` brings it back.",
        who_writes(&brain, served)
    ))?;
    if let Some(path) = edited_on_disk {
        output::line(format!(
            "Note: {path} was changed on disk since the last sync, so the next sync keeps that \
             file and imports it again as the note rather than delete an edit nobody has seen; \
             delete the file yourself if it should go."
        ))?;
    }
    Ok(0)
}

/// `brain restore`: undo a soft delete.
pub fn restore(vault: &Vault, args: &RefMessageArgs, json: bool) -> Result<u8> {
    let r = parse_ref(&args.entity)?;
    // Whether a daemon serves the vault decides both when the export is due and what we say.
    let served = super::daemon::running(&vault.paths).is_some();
    let brain = vault
        .brain(vault.plugged()?, brain_api::Workers::Never)
        .with_message(args.message.clone());
    let outcome = brain.restore(&r)?;
    let e = &outcome.entity;
    if json {
        let mut doc = entity_json(e);
        doc["restored"] = serde_json::json!(outcome.was_deleted);
        return output::json(&doc).map(|()| 0);
    }
    if !outcome.was_deleted {
        output::line(format!(
            "{r} is not deleted (its file is {}); nothing to restore.",
            e.path
        ))?;
        return Ok(0);
    }
    output::line(format!(
        "Restored {r}; {} writes {} again.",
        who_writes(&brain, served),
        e.path
    ))?;
    Ok(0)
}
