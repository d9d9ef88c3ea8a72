//! What every bench shares: finding the vault generator, the work folder, generating a vault,
//! scratch SQLite stores, and the statistics the figures are made of.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use brain_store::Backend;
use brain_store_sqlite::SqliteStore;
use serde_json::Value;

use crate::error::{Context, Result, fail};

/// `rel` in the first folder that has it, going up from here and then from this binary (a
/// bench run from anywhere in a checkout finds the repo's files and `../shared`).
pub(crate) fn find_above(rel: &str) -> Option<PathBuf> {
    let mut starts: Vec<PathBuf> = std::env::current_dir().into_iter().collect();
    starts.extend(std::env::current_exe());
    starts
        .iter()
        .flat_map(|start| start.ancestors())
        .map(|dir| dir.join(rel))
        .find(|candidate| candidate.is_file())
}

/// The vault generator: `explicit` (`--generator`), else `shared/bench/gen_vault.py` above here.
pub(crate) fn find_generator(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    find_above("shared/bench/gen_vault.py").ctx(|| {
        "cannot find shared/bench/gen_vault.py above this folder: pass --generator PATH".into()
    })
}

/// The folder a benchmark works in: `--workdir` when given (kept afterwards, so a run can be
/// looked at or its generated vaults reused), else a temporary folder that lives as long as the
/// returned guard.
pub(crate) fn work_dir(
    workdir: Option<&Path>,
    prefix: &str,
) -> Result<(tempfile::TempDir, PathBuf)> {
    let temp = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .ctx(|| "cannot create a temporary folder".into())?;
    let work = workdir.map_or_else(|| temp.path().to_path_buf(), Path::to_path_buf);
    std::fs::create_dir_all(&work).ctx(|| format!("cannot create {}", work.display()))?;
    Ok((temp, work))
}

/// `name` under `work`, emptied of what an earlier run left there.
pub(crate) fn fresh_dir(work: &Path, name: &str) -> Result<PathBuf> {
    let dir = work.join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).ctx(|| format!("cannot clear {}", dir.display()))?;
    }
    Ok(dir)
}

/// Generates a vault of `notes` notes at `out` (seed 42, so runs compare); returns the
/// generator's manifest (its counts and the query words it planted).
pub(crate) fn generate(generator: &Path, out: &Path, notes: usize) -> Result<Value> {
    let output = Command::new("python3")
        .arg(generator)
        .arg(out)
        .args(["--notes", &notes.to_string(), "--seed", "42"])
        .output()
        .ctx(|| "running python3 for the vault generator".into())?;
    if !output.status.success() {
        fail!(
            "vault generator failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).ctx(|| {
        format!(
            "the vault generator {} printed no JSON manifest",
            generator.display()
        )
    })
}

/// A scratch SQLite store at `path` with the default settings, opened (or created) as it is;
/// the bench measures SQLite, so it names it.
pub(crate) fn open_scratch(path: &Path) -> Result<Arc<dyn Backend>> {
    let store =
        SqliteStore::open(path).ctx(|| format!("cannot open the store {}", path.display()))?;
    Ok(Arc::new(store))
}

/// A new, empty scratch store at `dir/name` (what an earlier run left there removed).
pub(crate) fn fresh_store(dir: &Path, name: &str) -> Result<Arc<dyn Backend>> {
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    open_scratch(&path)
}

/// The median of `xs` (the upper one of an even count); `xs` must not be empty.
pub(crate) fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

/// The `p` percentile (0 to 1) of `sorted`, which must not be empty.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `d` in milliseconds, the unit of every latency figure.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `brain --vault <vault> <args>` to completion; an exit other than 0 or 3 (done with
/// skipped files) fails the bench.
pub(crate) fn brain(vault: &Path, args: &[&str]) -> Result<()> {
    let status = crate::child::brain_cmd(vault, args)?
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ctx(|| format!("cannot run brain {args:?} in {}", vault.display()))?;
    if !matches!(status.code(), Some(0 | 3)) {
        fail!("brain {args:?} in {} failed: {status}", vault.display());
    }
    Ok(())
}

/// Waits for `check`, polling every millisecond, up to `limit`; how long it took.
pub(crate) fn poll(
    limit: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<bool>,
) -> Result<Duration> {
    let t = std::time::Instant::now();
    while !check()? {
        if t.elapsed() > limit {
            fail!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(t.elapsed())
}

/// p50, p99, max (ms) and count of `xs`.
pub(crate) fn stats(mut xs: Vec<Duration>) -> Value {
    xs.sort();
    serde_json::json!({"p50_ms": ms(percentile(&xs, 0.5)), "p99_ms": ms(percentile(&xs, 0.99)),
           "max_ms": ms(*xs.last().unwrap_or(&Duration::ZERO)), "n": xs.len()})
}
