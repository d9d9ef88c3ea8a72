//! `brain sync`: run the sync engine in this process with a progress bar; Ctrl-C cancels it
//! cleanly (work done so far is committed).

use anyhow::{Context, Result};
use brain_core::CancelToken;
use brain_sync::{SyncEngine, SyncError, SyncMode, SyncOptions, SyncReport};

use super::{EXIT_SKIPPED, Vault};
use crate::cli::SyncArgs;
use crate::{output, progress};

/// Runs one sync and prints its summary.
pub fn run(vault: &Vault, args: &SyncArgs, json: bool) -> Result<u8> {
    let _lock = lock_vault(vault)?;
    let engine = SyncEngine::new(&vault.paths.root, &vault.config, &vault.store)?;
    let cancel = CancelToken::new();
    {
        let cancel = cancel.clone();
        // A second handler cannot be installed in one process; that only matters in tests.
        let _ = ctrlc::set_handler(move || cancel.cancel());
    }
    let opts = SyncOptions {
        mode: if args.import_only {
            SyncMode::ImportOnly
        } else if args.export_only {
            SyncMode::ExportOnly
        } else {
            SyncMode::Full
        },
        allow_mass_delete: args.allow_mass_delete,
    };
    let sink = progress::for_stderr(false);
    match engine.run(&opts, sink.as_ref(), &cancel) {
        Ok(report) => {
            print_report(&report, json, "Sync complete")?;
            Ok(if report.skipped.is_empty() {
                0
            } else {
                EXIT_SKIPPED
            })
        }
        Err(err) => {
            if let SyncError::Cancelled { report } | SyncError::MassDelete { report, .. } = &err
                && !json
            {
                print_report(report, false, "Stopped")?;
            }
            Err(err.into())
        }
    }
}

/// Holds `.brain/sync.lock` for the run: two syncs of one vault at once would each write what
/// the other is about to, so the second waits (and says so).
fn lock_vault(vault: &Vault) -> Result<std::fs::File> {
    let path = vault.paths.state.join("sync.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            eprintln!("Another sync of this vault is running; waiting for it to finish…");
            file.lock()
                .with_context(|| format!("cannot lock {}", path.display()))?;
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    Ok(file)
}

fn print_report(report: &SyncReport, json: bool, headline: &str) -> Result<()> {
    if json {
        return output::json(report);
    }
    let secs = report.duration_ms as f64 / 1000.0;
    let mut parts = vec![
        format!("{} imported", grouped(report.imported)),
        format!("{} updated", grouped(report.updated)),
    ];
    for (n, what) in [
        (report.renamed, "renamed"),
        (report.deleted, "deleted"),
        (report.exported, "exported"),
        (report.trashed, "trashed"),
        (report.pending, "pending"),
    ] {
        if n > 0 {
            parts.push(format!("{} {what}", grouped(n)));
        }
    }
    parts.push(format!("{} unchanged", grouped(report.unchanged)));
    parts.push(format!("{} skipped", report.skipped.len()));
    output::line(format!("{headline}: {} in {secs:.1} s", parts.join(", ")))?;
    if !report.conflicts.is_empty() {
        output::line(format!(
            "{} conflict(s) (see `brain conflicts list`):",
            report.conflicts.len()
        ))?;
        for c in &report.conflicts {
            output::line(format!("  {}: {}", c.path, c.detail))?;
        }
    }
    if !report.skipped.is_empty() {
        output::line("Skipped (left untouched on disk):")?;
        for s in &report.skipped {
            output::line(format!("  {}: {}", s.path, s.reason))?;
        }
    }
    Ok(())
}

/// `12345` → `12,345`, for counts a person reads.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn groups_thousands() {
        assert_eq!(super::grouped(0), "0");
        assert_eq!(super::grouped(999), "999");
        assert_eq!(super::grouped(1000), "1,000");
        assert_eq!(super::grouped(1234567), "1,234,567");
    }
}
