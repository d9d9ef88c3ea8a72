//! `brain conflicts list|show|resolve`

use anyhow::Result;
use brain_core::time::format_iso;
use brain_store::Conflict;
use serde_json::json;

use super::Vault;
use crate::cli::ConflictsCommand;
use crate::output;

fn summary(c: &Conflict) -> serde_json::Value {
    json!({
        "id": c.id,
        "kind": c.kind,
        "path": c.path,
        "entity": c.entity.as_ref().map(|e| e.to_string()),
        "copy_path": c.copy_path,
        "detail": c.detail,
        "created": format_iso(c.created_ms),
        "resolved": c.resolved_ms.map(format_iso),
    })
}

/// Dispatches the conflicts subcommands, each a call on the facade.
pub fn run(vault: &Vault, cmd: &ConflictsCommand, json: bool) -> Result<u8> {
    let brain = vault.facade()?;
    match cmd {
        ConflictsCommand::List { all } => {
            let list = brain.conflicts(*all)?;
            if json {
                let docs: Vec<_> = list.iter().map(summary).collect();
                return output::json(&docs).map(|()| 0);
            }
            if list.is_empty() {
                output::line("No conflicts.")?;
            }
            for c in &list {
                let state = if c.resolved_ms.is_some() {
                    " (resolved)"
                } else {
                    ""
                };
                output::line(format!(
                    "#{:<4} {:<16} {}{state}",
                    c.id,
                    c.kind.as_str(),
                    c.path
                ))?;
                output::line(format!("      {}", c.detail))?;
            }
        }
        ConflictsCommand::Show { id } => {
            let c = brain.conflict(*id)?;
            if json {
                let mut doc = summary(&c);
                doc["store_content"] = json!(c.store_content);
                doc["file_content"] = json!(c.file_content);
                return output::json(&doc).map(|()| 0);
            }
            output::line(format!(
                "#{} {} {} ({})",
                c.id,
                c.kind.as_str(),
                c.path,
                format_iso(c.created_ms)
            ))?;
            output::line(&c.detail)?;
            if let Some(copy) = &c.copy_path {
                output::line(format!("other version written to: {copy}"))?;
            }
            for (label, body) in [
                ("store version", &c.store_content),
                ("file version", &c.file_content),
            ] {
                if let Some(body) = body {
                    output::line(format!("----- {label} -----\n{body}"))?;
                }
            }
        }
        ConflictsCommand::Resolve { id } => {
            brain.resolve_conflict(*id)?;
            if json {
                return output::json(&json!({"id": id, "resolved": true})).map(|()| 0);
            }
            output::line(format!("Conflict #{id} marked resolved."))?;
        }
    }
    Ok(0)
}
