//! The export figure of `brain bench import`: how fast notes changed in the store reach their
//! files, next to how fast the same vault's files were imported. An edit made over MCP or the
//! CLI is only safe once its file is written, so writing must keep up with reading.

use std::path::Path;
use std::time::{Duration, Instant};

use brain_core::{CancelToken, Config, NoProgress, content_hash};
use brain_store::ListFilter;
use brain_sync::{SyncEngine, SyncMode, SyncOptions};
use serde_json::{Value, json};

use crate::common::median;
use crate::error::{Context, Result, fail};

/// Changes every live note of the vault's store (a put of new text for each, as an MCP client's
/// edits are), then times an export-only sync that writes them all; `runs` times, the median
/// kept. `import` is the median time the same vault's `imported` files took to import.
pub(crate) fn measure(
    vault: &Path,
    store: &dyn brain_store::Backend,
    config: &Config,
    runs: usize,
    (imported, import): (usize, Duration),
) -> Result<Value> {
    let notes = store
        .list(&ListFilter::default())
        .ctx(|| format!("listing the notes of {}", vault.display()))?;
    if notes.is_empty() {
        fail!(
            "the imported vault {} holds no notes to export",
            vault.display()
        );
    }
    let mut put_times = Vec::new();
    let mut export_times = Vec::new();
    for run in 0..runs {
        let t = Instant::now();
        for n in &notes {
            let mut e = store
                .get(&n.entity)
                .ctx(|| format!("reading {} back from the store", n.entity))?;
            e.body
                .push_str(&format!("\nEdited by the export benchmark, run {run}.\n"));
            e.content_hash = content_hash(e.content().as_bytes());
            store
                .put(&e)
                .ctx(|| format!("changing {} in the store", n.entity))?;
        }
        put_times.push(t.elapsed());

        let opts = SyncOptions {
            mode: SyncMode::ExportOnly,
            ..SyncOptions::default()
        };
        let what = || format!("exporting the changed notes of {}", vault.display());
        let t = Instant::now();
        let report = SyncEngine::new(vault, config, store)
            .ctx(what)?
            .run(&opts, &NoProgress, &CancelToken::new())
            .ctx(what)?;
        export_times.push(t.elapsed());
        if report.exported != notes.len() as u64 {
            fail!(
                "the export wrote {} of {} changed notes (skipped: {:?}); the figure would not be the time to write them all",
                report.exported,
                notes.len(),
                report.skipped.first()
            );
        }
    }
    let export = median(export_times);
    let n = notes.len() as f64;
    let import_rate = imported as f64 / import.as_secs_f64();
    let export_rate = n / export.as_secs_f64();
    Ok(json!({
        "notes": notes.len(),
        "export_s": export.as_secs_f64(),
        "export_notes_per_s": export_rate,
        "import_notes_per_s": import_rate,
        "ratio": export_rate / import_rate,
        "target_ratio": 1.0,
        "puts_s": median(put_times).as_secs_f64(),
    }))
}
