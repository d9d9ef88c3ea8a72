//! One module per command family; `run` dispatches.

mod batch;
mod conflicts;
mod daemon;
mod doctor;
mod doctor_history;
mod doctor_rebuild;
mod edit;
mod entities;
mod git;
mod history;
mod http;
mod init;
mod jobs;
mod locate;
mod mcp;
mod schedules;
mod serve;
mod store;
mod sync;
mod work;

use std::sync::Arc;

use anyhow::{Context, Result};
use brain_core::Config;
use brain_jobs::{PoolConfig, Queue};
use brain_store::{Backend, StoreError};
use brain_sync::SyncError;

use crate::cli::{Cli, Command, ConfigCommand, StoreCommand};
use crate::config::{self, VaultPaths};
use crate::output;

/// Exit code: failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: a usage mistake (a malformed argument, an unknown type or flag value).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: sync done with skipped files.
pub const EXIT_SKIPPED: u8 = 3;
/// Exit code: entity or conflict not found.
pub const EXIT_NOT_FOUND: u8 = 4;
/// Exit code: refused for safety (mass delete).
pub const EXIT_REFUSED: u8 = 5;
/// Exit code: cancelled with Ctrl-C.
pub const EXIT_CANCELLED: u8 = 130;

/// An opened vault: paths, config and store.
pub struct Vault {
    /// Where it is.
    pub paths: VaultPaths,
    /// Its layered config.
    pub config: Config,
    /// Its store, shared with the job workers of this process.
    pub store: Arc<dyn Backend>,
    /// `.brain/store.lock`, held shared while the vault is open (see [`store::share_store`]);
    /// `None` where the folder cannot be written (a read-only vault writes nothing).
    pub store_lock: Option<std::fs::File>,
}

impl Vault {
    /// Opens an initialized vault. Its store must be there: a missing one is refused with how
    /// to recover (`brain doctor --rebuild`), never replaced by a new, empty one; a store this
    /// user cannot write is opened read-only (reads work, writes say why they are refused).
    pub fn open(cli_vault: Option<&std::path::Path>) -> Result<Self> {
        let paths = locate::vault_paths(cli_vault)?;
        paths.require_initialized()?;
        // Before the config is read: a `brain store copy` running now may switch it.
        let store_lock = store::share_store(&paths)?;
        let config = config::load(&paths)?;
        let store = crate::backend::open_existing(&paths.database(), &config.store)
            .with_context(|| format!("opening the store of {}", paths.root.display()))?;
        // A store several folders share keeps one history for all of them: one folder's
        // `keep = false` must not drop the versions the others make.
        let shared = store.replica_id().is_some();
        if !config.history.keep && shared {
            tracing::warn!(
                "[history] keep = false is ignored on a PostgreSQL store: its history belongs to every folder that shares it"
            );
        }
        store.keep_history(config.history.keep || shared);
        Ok(Self {
            paths,
            config,
            store,
            store_lock,
        })
    }

    /// The queue and capabilities of this vault as the plugins of this build register them
    /// ([`plugins`]): every command builds them the same way, so any process can run any
    /// queued job.
    pub fn plugged(&self) -> Result<brain_api::Plugged> {
        brain_api::plug(
            &self.paths.root,
            &self.config,
            self.store.clone(),
            &plugins(),
        )
        .context("registering the plugins of this build")
    }

    /// The job queue of this vault, with every job type this binary can run.
    pub fn queue(&self) -> Result<Queue> {
        Ok(self.plugged()?.queue)
    }

    /// The facade an interface works through, sharing `plugged.queue` (and so its in-process
    /// events) with whatever runs jobs here.
    pub fn brain(
        &self,
        plugged: brain_api::Plugged,
        workers: brain_api::Workers,
    ) -> brain_api::Brain {
        brain_api::Brain::new(
            &self.paths.root,
            self.config.clone(),
            self.store.clone(),
            plugged,
            workers,
        )
        .with_source("cli")
    }

    /// The facade for a one-shot command that reads or manages the vault and runs no jobs
    /// itself (the daemon, or the next `brain sync`, runs what it queues): every command goes
    /// through it rather than the store, so it works on any backend the binary picks.
    pub fn facade(&self) -> Result<brain_api::Brain> {
        Ok(self.brain(self.plugged()?, brain_api::Workers::Never))
    }

    /// Worker settings for a command that runs jobs itself: a short lease (`jobs.lease_ms`),
    /// so a sync killed with SIGKILL is taken over by the next command within seconds.
    pub fn pool_config(&self) -> PoolConfig {
        let jobs = &self.config.jobs;
        PoolConfig {
            workers: 1,
            lease_ms: i64::try_from(jobs.lease_ms).unwrap_or(5_000).max(1_000),
            heartbeat_ms: 400,
            idle_poll_ms: 100,
            reap_every_ms: 500,
            retention_ms: i64::from(jobs.retention_days) * 86_400_000,
            ..PoolConfig::default()
        }
    }
}

/// Runs the parsed command; returns the exit code for a run that did not fail.
pub fn run(cli: Cli) -> Result<u8> {
    let vault_arg = cli.vault.as_deref();
    match cli.command {
        Command::Init(args) => init::run(vault_arg, args.store.as_deref(), cli.json),
        Command::Store(StoreCommand::Copy { to, force }) => {
            store::copy(&Vault::open(vault_arg)?, &to, force, cli.json)
        }
        Command::Store(StoreCommand::Reattach { force }) => {
            store::reattach(vault_arg, force, cli.json)
        }
        Command::Store(StoreCommand::Forget { replica, force }) => {
            store::forget(vault_arg, &replica, force, cli.json)
        }
        Command::Sync(args) => sync::run(&Vault::open(vault_arg)?, &args, cli.json),
        Command::Work(args) => match &args.store {
            Some(url) => work::work_store(url, &args, cli.json),
            None => work::work(&Vault::open(vault_arg)?, &args),
        },
        Command::Search(args) => entities::search(&Vault::open(vault_arg)?, &args, cli.json),
        Command::List(args) => entities::list(&Vault::open(vault_arg)?, &args, cli.json),
        Command::Get(args) => match args.version {
            None => entities::get(&Vault::open(vault_arg)?, &args.entity, cli.json),
            Some(n) => history::get_version(&Vault::open(vault_arg)?, &args.entity, n, cli.json),
        },
        Command::History(r) => history::list(&Vault::open(vault_arg)?, &r.entity, cli.json),
        Command::Diff(args) => history::diff(&Vault::open(vault_arg)?, &args, cli.json),
        Command::Revert(args) => history::revert(&Vault::open(vault_arg)?, &args, cli.json),
        Command::Edit(args) => edit::run(&Vault::open(vault_arg)?, &args, cli.json),
        Command::Mv(args) => edit::mv(&Vault::open(vault_arg)?, &args, cli.json),
        Command::Put(args) => entities::put(&Vault::open(vault_arg)?, &args, cli.json),
        Command::Rm(r) => entities::rm(&Vault::open(vault_arg)?, &r, cli.json),
        Command::Restore(r) => entities::restore(&Vault::open(vault_arg)?, &r, cli.json),
        Command::Serve => serve::run(&Vault::open(vault_arg)?, cli.json),
        Command::Status => match Vault::open(vault_arg) {
            Ok(vault) => jobs::status(&vault, cli.json),
            Err(e) if store_unreachable(&e) => jobs::offline_status(vault_arg, &e, cli.json),
            Err(e) => Err(e),
        },
        Command::Mcp => mcp::run(Vault::open(vault_arg)?),
        Command::Batch(c) => batch::run(&Vault::open(vault_arg)?, &c, cli.json),
        Command::Jobs(c) => jobs::run(&Vault::open(vault_arg)?, &c, cli.json),
        Command::Conflicts(c) => conflicts::run(&Vault::open(vault_arg)?, &c, cli.json),
        Command::Schedules(c) => schedules::run(&Vault::open(vault_arg)?, &c, cli.json),
        Command::Git(c) => git::run(vault_arg, &c, cli.json),
        Command::Config(ConfigCommand::Default) => {
            if cli.json {
                output::json(&Config::default())?;
            } else {
                print!("{}", brain_core::config::DEFAULT_CONFIG_TOML);
            }
            Ok(0)
        }
        Command::Config(ConfigCommand::Show) => {
            let paths = locate::vault_paths(vault_arg)?;
            paths.require_initialized()?;
            let mut config = config::load(&paths)?;
            // A secret is shown as set, never as itself: this output lands in issue reports.
            if !config.git.token.is_empty() {
                config.git.token = "***".into();
            }
            if !config.serve.http_token.is_empty() {
                config.serve.http_token = "***".into();
            }
            if let Some(url) = &config.store.url {
                config.store.url = Some(brain_store_postgres::connect::without_password(url));
            }
            if cli.json {
                output::json(&config)?;
            } else {
                print!("{}", toml::to_string_pretty(&config)?);
            }
            Ok(0)
        }
        Command::Bench(b) => Ok(brain_bench::run(&b, cli.json)?),
        Command::Doctor(args) => doctor::run(vault_arg, &args, cli.json),
    }
}

/// Maps an error to its documented exit code.
pub fn exit_code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if is_usage_mistake(cause) {
            return EXIT_USAGE;
        }
        if let Some(e) = store_error(cause)
            && matches!(
                e,
                StoreError::NotFound(_)
                    | StoreError::ConflictNotFound(_)
                    | StoreError::JobNotFound(_)
                    | StoreError::VersionNotFound { .. }
            )
        {
            return EXIT_NOT_FOUND;
        }
        if let Some(
            brain_api::BrainError::NotFound { .. }
            | brain_api::BrainError::Moved { .. }
            | brain_api::BrainError::NotImported { .. }
            | brain_api::BrainError::Deleted { .. }
            | brain_api::BrainError::NothingImported { .. }
            | brain_api::BrainError::UnknownJob(_)
            | brain_api::BrainError::NoSuchVersion(_)
            | brain_api::BrainError::NoSuchBatch(_),
        ) = cause.downcast_ref::<brain_api::BrainError>()
        {
            return EXIT_NOT_FOUND;
        }
        if let Some(brain_api::BrainError::BatchMassDelete { .. }) =
            cause.downcast_ref::<brain_api::BrainError>()
        {
            return EXIT_REFUSED;
        }
        if let Some(e) = cause.downcast_ref::<SyncError>() {
            match e {
                SyncError::MassDelete { .. } => return EXIT_REFUSED,
                SyncError::Cancelled { .. } => return EXIT_CANCELLED,
                _ => {}
            }
        }
    }
    EXIT_FAILED
}

/// The store error `cause` is, or carries in the store's own words
/// ([`brain_api::BrainError::Record`], from the facade's jobs and conflicts calls): such an error
/// gets the exit code and `--json` kind it had when the command called the store itself.
fn store_error<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a StoreError> {
    match cause.downcast_ref::<brain_api::BrainError>() {
        Some(brain_api::BrainError::Record(e)) => Some(e),
        _ => cause.downcast_ref::<StoreError>(),
    }
}

/// Whether `cause` is a mistake in how the command was called (exit 2, as clap's own are): a
/// `TYPE/ID` that is not one, a type the vault does not have, an empty query, a bad limit. An
/// id refused as unsafe is not: it is a refusal with its reason (exit 1).
fn is_usage_mistake(cause: &(dyn std::error::Error + 'static)) -> bool {
    use brain_api::{BrainError, InvalidKind};
    if cause.downcast_ref::<brain_core::RefParseError>().is_some() {
        return true;
    }
    if let Some(StoreError::EmptyQuery) = store_error(cause) {
        return true;
    }
    matches!(
        cause.downcast_ref::<BrainError>(),
        Some(
            BrainError::BadRequest(_)
                | BrainError::UnknownType { .. }
                | BrainError::Invalid {
                    kind: InvalidKind::UnknownType,
                    ..
                }
        )
    )
}

/// A stable name for what went wrong, for `--json` callers to branch on (as MCP's error
/// `kind`): the facade's own kind when the error came from it, else one for the exit code (also
/// for a store error the facade passed on in the store's words, which had that kind before
/// `brain jobs` and `brain conflicts` went through the facade).
pub fn error_kind(err: &anyhow::Error, code: u8) -> &'static str {
    if let Some(e) = err
        .chain()
        .find_map(|c| c.downcast_ref::<brain_api::BrainError>())
        .filter(|e| !matches!(e, brain_api::BrainError::Record(_)))
    {
        return e.kind();
    }
    match code {
        EXIT_USAGE => "bad_argument",
        EXIT_NOT_FOUND => "not_found",
        EXIT_REFUSED => "refused",
        EXIT_CANCELLED => "cancelled",
        _ => "failed",
    }
}

/// The plugins of this build, in registration order: directory sync first, since git uses its
/// engine (capability `directory-sync`) for the exports before a commit and the import after a
/// pull. The one place the binary names them; the runtime and every command register these.
pub fn plugins() -> Vec<Box<dyn brain_api::Plugin>> {
    vec![
        Box::new(brain_sync::SyncPlugin),
        Box::new(brain_git::GitPlugin),
        // After sync, whose capability its children write notes through.
        Box::new(brain_api::batch::BatchPlugin),
        // After sync, whose watcher its idle upkeep asks; its history-prune jobs are the
        // store's, so any worker (`brain work --store` included) runs them.
        Box::new(brain_api::daemon::UpkeepPlugin),
    ]
}

/// Whether `e` failed because the store could not be reached (worth another try later).
fn store_unreachable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<StoreError>()
            .is_some_and(StoreError::is_retryable)
    })
}
