//! `brain edit`: a partial edit of one note through the facade (`Brain::edit`).

use std::io::Read;

use anyhow::{Result, bail};
use brain_core::EntityRef;
use brain_core::edit::{Edit, value_of};
use brain_store::PutOutcome;
use serde_json::json;

use super::Vault;
use crate::cli::{EditArgs, MvArgs};
use crate::output;

/// `TEXT`, or stdin for `-`.
fn text_of(arg: &str) -> Result<String> {
    if arg != "-" {
        return Ok(arg.to_string());
    }
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the text to write from standard input ({e}): nothing was written; \
             give UTF-8 text"
        )
    })?;
    Ok(s)
}

/// The one operation the flags name (clap requires exactly one).
fn edit_of(args: &EditArgs) -> Result<Edit> {
    Ok(if let Some(t) = &args.append {
        Edit::Append(text_of(t)?)
    } else if let Some(t) = &args.prepend {
        Edit::Prepend(text_of(t)?)
    } else if let Some(h) = &args.section {
        Edit::ReplaceSection {
            heading: h.clone(),
            text: text_of(args.text.as_deref().unwrap_or_default())?,
        }
    } else if let Some(f) = &args.find {
        Edit::FindReplace {
            find: f.clone(),
            replace: args.replace.clone().unwrap_or_default(),
            expected: args.count,
        }
    } else if let Some(kv) = &args.set {
        let Some((key, value)) = kv.split_once('=') else {
            bail!("--set takes KEY=VALUE (e.g. --set status=done); '{kv}' has no '='");
        };
        Edit::SetMeta {
            key: key.trim().to_string(),
            value: value_of(value, args.string),
        }
    } else if let Some(key) = &args.unset {
        Edit::RemoveMeta { key: key.clone() }
    } else {
        bail!("give one operation: --append, --prepend, --section, --find, --set or --unset");
    })
}

/// `brain edit TYPE/ID --OPERATION ...`.
pub fn run(vault: &Vault, args: &EditArgs, json: bool) -> Result<u8> {
    let r: EntityRef = args.entity.parse()?;
    let edit = edit_of(args)?;
    let brain = vault.facade()?;
    let written = brain.edit(
        &r,
        &edit,
        args.expected_hash.as_deref(),
        args.message.as_deref(),
    )?;
    if json {
        return output::json(&json!({
            "type": r.entity_type, "id": r.id, "path": written.path,
            "outcome": written.outcome, "content_hash": written.content_hash,
            "export_job": written.export_job,
        }))
        .map(|()| 0);
    }
    output::line(match written.outcome {
        PutOutcome::Unchanged => format!("{r} already held that: nothing was written."),
        _ => format!(
            "Edited {r} ({}); its file is written by the next sync or a running `brain serve` \
             (`brain history {r}` lists the version it replaced).",
            written.path
        ),
    })?;
    Ok(0)
}

/// `brain mv TYPE/ID NEW_TYPE/NEW_ID`.
pub fn mv(vault: &Vault, args: &MvArgs, json: bool) -> Result<u8> {
    let from: EntityRef = args.from.parse()?;
    let to: EntityRef = args.to.parse()?;
    let moved = vault
        .facade()?
        .move_note(&from, &to, args.message.as_deref())?;
    if json {
        return output::json(&moved).map(|()| 0);
    }
    output::line(format!(
        "Moved {from} to {to} ({} → {}); the next sync or a running `brain serve` moves the \
         file (the old one to .brain/trash/). Its history came along (`brain history {to}`); {}.",
        moved.from_path, moved.path, moved.links
    ))?;
    if let Some(aside) = &moved.deleted_note_set_aside {
        output::line(format!("Note: {aside}."))?;
    }
    Ok(0)
}
