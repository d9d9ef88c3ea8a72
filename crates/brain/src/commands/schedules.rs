//! Schedules: the jobs `brain serve` queues on a timer. Its built-in ones (`git-sync`, the git
//! timer, and `verify-scan`, the periodic whole-vault sync that catches what the watcher
//! missed) and the `[[schedule]]` blocks of `config.toml` are put in the store when the daemon
//! starts ([`register`]), and fired by the runtime's `brain_api::SchedulesPlugin`. `brain schedules list`
//! and `brain status` show them.

use anyhow::{Context, Result};
use brain_core::Config;
use brain_core::time::{format_iso, now_ms};
use brain_jobs::Queue;
use brain_jobs::recurring::{self, LOCAL_REPLICA, Timing};
use brain_store::schedules::{SCOPE_STORE, Schedule, ScheduleDef};
use serde_json::json;
use std::io::Write;

use super::Vault;
use crate::cli::SchedulesCommand;
use crate::output;

/// The names of the built-in schedules, which a `[[schedule]]` may not take.
const BUILTIN_NAMES: [&str; 3] = ["git-sync", "verify-scan", "history-prune"];

/// The built-in schedules `config` asks for, all in this vault's folder.
pub fn builtin(config: &Config) -> Vec<ScheduleDef> {
    let mut defs = Vec::new();
    if let Some(git) = brain_git::schedule::git_sync_schedule(&config.git, LOCAL_REPLICA) {
        defs.push(git);
    }
    if config.serve.verify_interval_s > 0 {
        defs.push(ScheduleDef {
            name: "verify-scan".into(),
            job_type: brain_sync::jobs::DIRECTORY_SYNC.into(),
            input: brain_sync::jobs::sync_request("full", false).input,
            timing: format!("every {}s", config.serve.verify_interval_s),
            scope: LOCAL_REPLICA.into(),
            source: "builtin".into(),
        });
    }
    // Thinning old versions by `[history]`: once a day, once for the store.
    defs.push(ScheduleDef {
        name: "history-prune".into(),
        job_type: brain_api::daemon::HISTORY_PRUNE.into(),
        input: json!({}),
        timing: "every 86400s".into(),
        scope: SCOPE_STORE.into(),
        source: "builtin".into(),
    });
    defs
}

/// The `[[schedule]]` blocks of `config`, with their timing and scope checked, and none that
/// could never work (a git job while git is off).
pub fn configured(config: &Config) -> Result<Vec<ScheduleDef>, recurring::ScheduleError> {
    config
        .schedule
        .iter()
        .map(|s| {
            if s.job == brain_git::jobs::GIT_JOB && !config.git.enabled {
                return Err(recurring::ScheduleError::Unusable {
                    name: s.name.clone(),
                    reason: "it runs git jobs, but git is off in this vault ([git] enabled = \
                             false); run `brain git init` first, or remove the schedule"
                        .into(),
                });
            }
            let timing = Timing::from_config(&s.name, s.cron.as_deref(), s.every.as_deref())?;
            Ok(ScheduleDef {
                name: s.name.clone(),
                job_type: s.job.clone(),
                input: s.input.clone(),
                timing: timing.stored(),
                scope: recurring::scope_of(&s.name, s.scope.as_deref())?,
                source: "config".into(),
            })
        })
        .collect()
}

/// The `[[schedule]]` blocks of the vault's config, each checked as the daemon checks it when
/// it registers them (timing, scope, name unique beside the built-in ones, job type and input
/// known to the queue), so `brain schedules list` refuses what `brain serve` would.
fn configured_checked(vault: &Vault, queue: &Queue) -> Result<Vec<ScheduleDef>> {
    configured(&vault.config)
        .and_then(|defs| {
            // The built-in names are kept for the built-in schedules whether or not they run
            // now, so turning the git timer on never breaks a config that worked.
            if let Some(d) = defs
                .iter()
                .find(|d| BUILTIN_NAMES.iter().any(|b| b.eq_ignore_ascii_case(&d.name)))
            {
                return Err(recurring::ScheduleError::Reserved {
                    name: d.name.clone(),
                    builtin: BUILTIN_NAMES.join(", "),
                });
            }
            recurring::check(queue, &defs)?;
            Ok(defs)
        })
        .with_context(|| {
            format!(
                "{}: a [[schedule]] cannot be used; fix it (see `brain config default`) and start `brain serve` again",
                vault.paths.config_file().display()
            )
        })
}

/// Puts the daemon's schedules in the store, before its runtime starts (the runtime's
/// `SchedulesPlugin` fires them). A `[[schedule]]` that cannot work stops the start with its
/// name and what to fix, and changes no stored schedule.
pub fn register(vault: &Vault, queue: &Queue) -> Result<()> {
    // Checked before anything is stored, so a refused start changes no schedule.
    let configured = configured_checked(vault, queue)?;
    let builtin = builtin(&vault.config);
    recurring::register(queue, &builtin, "builtin")
        .context("cannot set up the built-in schedules")?;
    recurring::register(queue, &configured, "config").with_context(|| {
        format!(
            "cannot store the [[schedule]]s of {}",
            vault.paths.config_file().display()
        )
    })?;
    tracing::info!(
        schedules = builtin.len() + configured.len(),
        "schedules registered"
    );
    Ok(())
}

/// Why the vault's `[[schedule]]`s cannot be used (the words `brain serve` would stop with), for
/// `brain status`; `None` when they can.
pub fn config_problem(vault: &Vault, queue: &Queue) -> Option<String> {
    configured_checked(vault, queue)
        .err()
        .map(|e| brain_api::in_cli_words(&crate::error_text(&e)))
}

/// `brain schedules list`.
pub fn run(vault: &Vault, cmd: &SchedulesCommand, json: bool) -> Result<u8> {
    let SchedulesCommand::List = cmd;
    let stored = vault.facade()?.schedules()?;
    // What config.toml asks for that no daemon has registered yet; one the daemon would
    // refuse is refused here too, after the list.
    let configured = configured_checked(vault, &vault.queue()?);
    let pending: Vec<String> = match &configured {
        Ok(defs) => defs
            .iter()
            .filter(|d| !stored.iter().any(|s| s.def == **d))
            .map(|d| d.name.clone())
            .collect(),
        Err(_) => Vec::new(),
    };
    // Stored, but no longer asked for (taken out of config.toml, or a built-in turned off):
    // the daemon that registered it fires it until it restarts, which removes it.
    let dropped: Vec<String> = match &configured {
        Ok(defs) => {
            let builtin_now = builtin(&vault.config);
            let wanted: Vec<&str> = defs
                .iter()
                .chain(builtin_now.iter())
                .map(|d| d.name.as_str())
                .collect();
            stored
                .iter()
                .map(|s| s.def.name.as_str())
                .filter(|name| !wanted.contains(name))
                .map(str::to_owned)
                .collect()
        }
        Err(_) => Vec::new(),
    };
    if json {
        // One document: a [[schedule]] the daemon would refuse is said in it (as the error
        // document of any failed command says it), not as a second document after the list.
        let mut doc = json!({
            "schedules": stored,
            "not_registered": pending,
            "not_in_config": dropped,
        });
        let Err(err) = configured else {
            output::json(&doc)?;
            return Ok(0);
        };
        let code = super::exit_code_for(&err);
        let message = brain_api::in_cli_words(&crate::error_text(&err));
        doc["error"] = json!(message);
        doc["kind"] = json!(super::error_kind(&err, code));
        doc["exit_code"] = json!(code);
        output::json(&doc)?;
        let _ = writeln!(std::io::stderr(), "error: {message}");
        return Ok(code);
    }
    if stored.is_empty() && pending.is_empty() {
        output::line(
            "No schedules. `brain serve` registers its git timer and verification scan, and \
             any [[schedule]] of config.toml, when it starts.",
        )?;
    }
    if !stored.is_empty() {
        let daemon = super::daemon::running(&vault.paths).is_some();
        output::line(heading(daemon))?;
    }
    for s in &stored {
        output::line(describe(s, now_ms()))?;
    }
    if !pending.is_empty() {
        output::line(format!(
            "In config.toml but not registered yet (start or restart `brain serve`): {}",
            pending.join(", ")
        ))?;
    }
    if !dropped.is_empty() {
        let running = super::daemon::running(&vault.paths).is_some();
        output::line(format!(
            "No longer in config.toml: {}. {}",
            dropped.join(", "),
            if running {
                "The running `brain serve` still fires it until it restarts, which removes it."
            } else {
                "Nothing fires it; the next `brain serve` start removes it."
            }
        ))?;
    }
    configured?;
    Ok(0)
}

/// One line per schedule for `brain status`, under a heading; none when there are none. The
/// heading says when no daemon runs them.
pub fn status_lines(schedules: &[Schedule], daemon: bool) -> Vec<String> {
    if schedules.is_empty() {
        return Vec::new();
    }
    let now = now_ms();
    let mut lines = vec![heading(daemon).to_string()];
    lines.extend(schedules.iter().map(|s| format!("  {}", describe(s, now))));
    lines
}

/// What a schedule list is headed with: whether anything fires them now.
fn heading(daemon: bool) -> &'static str {
    if daemon {
        "Schedules:"
    } else {
        "Schedules (they fire while `brain serve` runs; none runs now, so a time that passes \
         meanwhile fires once when it starts):"
    }
}

/// `git-sync: git every 300s (replica), next 2026-12-04T19:40:00Z (in 4m), last ... (job #12)`.
fn describe(s: &Schedule, now: i64) -> String {
    let scope = if s.def.scope == SCOPE_STORE {
        "store"
    } else {
        "this vault"
    };
    let last = match (s.last_run_ms, s.last_job) {
        (Some(at), Some(job)) => format!("last {} (job #{job})", format_iso(at)),
        (Some(at), None) => format!("last {}", format_iso(at)),
        _ => "never run yet".into(),
    };
    let next = if s.next_run_ms == i64::MAX {
        "no time ahead".to_string()
    } else {
        format!(
            "next {} ({})",
            format_iso(s.next_run_ms),
            relative(s.next_run_ms - now)
        )
    };
    format!(
        "{}: {} {} ({scope}); {next}; {last}",
        s.def.name, s.def.job_type, s.def.timing
    )
}

/// `in 4m 10s`, or `due now` for a time reached.
fn relative(ms: i64) -> String {
    if ms <= 0 {
        return "due now".into();
    }
    let s = (ms + 999) / 1000;
    match s {
        0..60 => format!("in {s}s"),
        60..3600 => format!("in {}m {}s", s / 60, s % 60),
        _ => format!("in {}h {}m", s / 3600, (s % 3600) / 60),
    }
}
