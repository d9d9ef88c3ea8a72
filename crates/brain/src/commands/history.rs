//! `brain history`, `brain get --version`, `brain diff`, `brain revert`: a note's earlier
//! versions, through the facade (see `brain_api`'s history module).

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use super::Vault;
use crate::cli::{DiffArgs, RevertArgs};
use crate::output;
use brain_core::EntityRef;
use brain_store::PutOutcome;

fn parse_ref(s: &str) -> Result<EntityRef> {
    Ok(s.parse::<EntityRef>()?)
}

/// `brain history TYPE/ID`: every version, oldest first, the current one last.
pub fn list(vault: &Vault, entity: &str, json: bool) -> Result<u8> {
    let r = parse_ref(entity)?;
    let versions = vault.facade()?.history(&r)?;
    // The current version is the store's: a file edited since the last sync is newer.
    if let Some(current) = versions.last().filter(|v| !v.deleted) {
        super::entities::say_if_stale(vault, &[current.path.as_str()]);
    }
    if json {
        return output::json(&versions).map(|()| 0);
    }
    output::line(format!("{r}: {} version(s), oldest first", versions.len()))?;
    let mut last_path: Option<&str> = None;
    for v in &versions {
        let mut notes = Vec::new();
        if v.deleted {
            notes.push("deleted".to_string());
        }
        if last_path.is_some_and(|p| p != v.path) {
            notes.push(format!("moved to {}", v.path));
        }
        if let Some(m) = &v.why.message {
            notes.push(format!("\"{m}\""));
        }
        if v.current {
            notes.push("(current)".into());
        }
        output::line(format!(
            "  {:>4}  {}  {:<8} {}",
            v.number,
            brain_core::time::format_iso(v.made_ms),
            v.why.source,
            notes.join("  ")
        ))?;
        last_path = Some(&v.path);
    }
    if versions.len() > 1 {
        output::line(format!(
            "`brain get {r} --version N` prints one, `brain diff {r} A B` compares two, \
             `brain revert {r} --to N` writes one back."
        ))?;
    }
    Ok(0)
}

/// `brain get TYPE/ID --version N`: that version's file, byte for byte.
pub fn get_version(vault: &Vault, entity: &str, number: u64, json: bool) -> Result<u8> {
    let r = parse_ref(entity)?;
    let text = vault.facade()?.version_text(&r, number)?;
    if json {
        return output::json(&json!({
            "type": r.entity_type, "id": r.id, "version": number, "content": text,
            "content_hash": brain_core::content_hash(text.as_bytes()),
        }))
        .map(|()| 0);
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(0)
}

/// `brain diff TYPE/ID FROM TO`: a unified diff; exit 0 either way (empty when equal).
pub fn diff(vault: &Vault, args: &DiffArgs, json: bool) -> Result<u8> {
    let r = parse_ref(&args.entity)?;
    let brain = vault.facade()?;
    let to = match args.to {
        Some(n) => n,
        None => brain
            .history(&r)?
            .last()
            .map_or(args.from, |current| current.number),
    };
    let diff = brain.diff_versions(&r, args.from, to)?;
    if json {
        return output::json(&json!({
            "type": r.entity_type, "id": r.id, "from": args.from, "to": to,
            "same": diff.is_empty(), "diff": diff,
        }))
        .map(|()| 0);
    }
    if diff.is_empty() {
        output::line(format!(
            "Versions {} and {to} of {r} hold the same text.",
            args.from
        ))?;
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(diff.as_bytes())?;
        out.flush()?;
    }
    Ok(0)
}

/// `brain revert TYPE/ID --to N`: that version written back as a new change.
pub fn revert(vault: &Vault, args: &RevertArgs, json: bool) -> Result<u8> {
    let r = parse_ref(&args.entity)?;
    let brain = vault.facade()?;
    let written = brain.revert(&r, args.to, args.message.as_deref())?;
    if json {
        return output::json(&json!({
            "type": r.entity_type, "id": r.id, "path": written.path,
            "reverted_to": args.to, "outcome": written.outcome,
            "content_hash": written.content_hash, "export_job": written.export_job,
        }))
        .map(|()| 0);
    }
    // A revert writes back text, not a place: said when the version was elsewhere.
    let moved_since = brain
        .history(&r)?
        .into_iter()
        .find(|v| v.number == args.to)
        .filter(|v| v.path != written.path)
        .map(|v| {
            format!(
                " Version {} was at {}, and the note stays at {}: a revert writes back text, \
                 not a place; `brain mv` moves it.",
                args.to, v.path, written.path
            )
        });
    output::line(match written.outcome {
        PutOutcome::Unchanged => format!(
            "{r} already holds version {}'s text: nothing was written.{}",
            args.to,
            moved_since.unwrap_or_default()
        ),
        _ => format!(
            "Reverted {r} to version {}'s text as a new version (the one it replaced is kept: \
             `brain history {r}`); its file {} is written by the next sync or a running \
             `brain serve`.{}",
            args.to,
            written.path,
            moved_since.unwrap_or_default()
        ),
    })?;
    Ok(0)
}
