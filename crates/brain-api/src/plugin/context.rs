//! The [`PluginContext`]: what a plugin registers at start-up, and nothing else. Registering
//! only records: no thread starts and no job runs until [`Runtime::start`](crate::Runtime::start),
//! so a one-shot command can build the queue from the same registrations without starting a
//! plugin's services.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use brain_core::Config;
use brain_jobs::handler::TypeConfig;
use brain_jobs::vault_lock::lock_vault;
use brain_jobs::{Handler, JobContext, JobError, Registry};
use brain_store::{Backend, ChangePage};
use serde_json::Value;

use super::subscribe::{FeedStart, Heard};
use super::{BoxError, Capabilities, PluginError, Service};
use crate::runtime::RuntimeContext;

/// How the runtime runs one job type: the queue's settings, and what it does around each run.
#[derive(Clone, Debug, Default)]
pub struct JobSettings {
    /// Concurrency (across every process), attempts, default priority and retry backoff, as
    /// the queue takes them.
    pub queue: TypeConfig,
    /// Whether every run holds the vault lock (`.brain/sync.lock`) from its start to its end,
    /// taken by the runtime around the handler: for jobs that read or write the vault folder
    /// as one step (a directory sync, import or export). A job that needs the folder for part
    /// of its run only (git: its merge and import, not its push) leaves this off and takes the
    /// lock itself with [`brain_jobs::vault_lock::lock_vault`].
    pub holds_vault_lock: bool,
}

/// A job type as registered, for listing (`brain status`, the web page).
#[derive(Clone, Debug)]
pub struct JobTypeInfo {
    /// The type's name (`directory-sync`).
    pub job_type: String,
    /// The plugin that registered it.
    pub plugin: String,
    /// Its settings.
    pub settings: JobSettings,
}

/// What an event subscriber runs for each thing it hears.
pub(crate) type OnEvent = Box<dyn FnMut(&RuntimeContext, Heard) + Send>;
/// What a change-feed subscriber runs for each page.
pub(crate) type OnPage =
    Box<dyn FnMut(&RuntimeContext, &ChangePage) -> Result<(), BoxError> + Send>;

/// Something registered by a plugin under a name: a service or a subscription.
pub(crate) struct Owned<T> {
    pub plugin: String,
    pub name: String,
    pub item: T,
}

impl<T> Owned<T> {
    /// `subscription 'x' of plugin 'p'`, for logs and thread names.
    pub fn who(&self, what: &str) -> String {
        format!("{what} '{}' of plugin '{}'", self.name, self.plugin)
    }
}

/// A change-feed subscription: where it starts reading and what it runs per page. The
/// callback is shared with the thread that runs it, so a runtime can be started again after
/// a stop.
pub(crate) struct FeedSubscription {
    pub start: FeedStart,
    pub on_page: Arc<Mutex<OnPage>>,
}

/// The subscriptions the plugins registered, in registration order.
#[derive(Default)]
pub(crate) struct Subscribers {
    pub events: Vec<Owned<Arc<Mutex<OnEvent>>>>,
    pub feeds: Vec<Owned<FeedSubscription>>,
}

/// Everything the plugins registered, in registration order.
#[derive(Default)]
pub(crate) struct Registrations {
    pub registry: Registry,
    pub job_types: Vec<JobTypeInfo>,
    pub services: Vec<Owned<Box<dyn Service>>>,
    pub subscribers: Subscribers,
    pub capabilities: Capabilities,
    /// Job types not registered because they need the vault folder this runtime lacks.
    pub left_to_folder: Vec<String>,
}

/// What a plugin gets at start-up: the vault it serves, and generic ways to add to the runtime
/// (job types, services, subscriptions to the job events and to the change feed, capabilities).
/// Nothing here is specific to one plugin, so adding a capability means adding a plugin, not
/// editing the runtime.
pub struct PluginContext {
    root: PathBuf,
    /// Whether the runtime has a vault folder (`false` for `brain work --store`).
    folder: bool,
    config: Config,
    store: Arc<dyn Backend>,
    /// The plugin registering now: what it registers is recorded as this plugin's.
    plugin: String,
    pub(crate) registrations: Registrations,
}

impl PluginContext {
    /// A context for registering plugins of the vault at `root`.
    pub(crate) fn new(root: &Path, config: Config, store: Arc<dyn Backend>) -> Self {
        PluginContext {
            folder: !root.as_os_str().is_empty(),
            root: root.to_path_buf(),
            config,
            store,
            plugin: String::new(),
            registrations: Registrations::default(),
        }
    }

    /// Records what follows as registered by `plugin`.
    pub(crate) fn set_plugin(&mut self, plugin: &str) {
        self.plugin = plugin.to_string();
    }

    /// The vault's folder (empty when [`PluginContext::has_folder`] is false).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether this runtime works on a vault folder. A runtime without one (a worker of a
    /// store on a machine that has none of its folders) does not register job types bound to
    /// a replica or holding the vault lock: those jobs are left to a machine with the folder.
    /// A plugin whose services need the folder registers none of them then.
    pub fn has_folder(&self) -> bool {
        self.folder
    }

    /// The vault's layered configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The vault's store, for handlers and services to keep.
    pub fn store(&self) -> &Arc<dyn Backend> {
        &self.store
    }

    /// The name of the plugin registering now.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// Registers `handler` for jobs of `job_type`, run as `settings` say. A type registered
    /// twice is refused, naming both plugins: the queue runs one handler per type.
    pub fn register_job_type(
        &mut self,
        job_type: &str,
        handler: impl Handler,
        settings: JobSettings,
    ) -> Result<(), PluginError> {
        let regs = &mut self.registrations;
        if let Some(first) = regs.job_types.iter().find(|t| t.job_type == job_type) {
            return Err(PluginError::DuplicateJobType {
                job_type: job_type.to_string(),
                plugin: self.plugin.clone(),
                by: first.plugin.clone(),
            });
        }
        if !self.folder && (settings.holds_vault_lock || settings.queue.bound_to_replica) {
            tracing::debug!(job_type, plugin = %self.plugin, "left to a worker with the vault folder");
            regs.left_to_folder.push(job_type.to_string());
            return Ok(());
        }
        if settings.holds_vault_lock {
            let handler = HoldsVaultLock {
                root: self.root.clone(),
                inner: handler,
            };
            regs.registry
                .register(job_type, handler, settings.queue.clone());
        } else {
            regs.registry
                .register(job_type, handler, settings.queue.clone());
        }
        regs.job_types.push(JobTypeInfo {
            job_type: job_type.to_string(),
            plugin: self.plugin.clone(),
            settings,
        });
        Ok(())
    }

    /// Registers a service: started by the runtime after the workers, in registration order
    /// (across plugins), and stopped in the reverse order.
    pub fn register_service(
        &mut self,
        name: &str,
        service: impl Service,
    ) -> Result<(), PluginError> {
        unique(&self.registrations.services, "service", &self.plugin, name)?;
        self.registrations.services.push(Owned {
            plugin: self.plugin.clone(),
            name: name.to_string(),
            item: Box::new(service),
        });
        Ok(())
    }

    /// Subscribes to this process's job events ([`brain_jobs::Event`]: a job started, made
    /// progress, finished). `on_event` runs on a thread of its own, one event at a time in
    /// order; it is told [`Heard::Missed`] when it fell behind and events were dropped (read the
    /// store then). Subscribed before the workers start, so it hears every job they run.
    pub fn subscribe_events(
        &mut self,
        name: &str,
        on_event: impl FnMut(&RuntimeContext, Heard) + Send + 'static,
    ) -> Result<(), PluginError> {
        let plugin = self.plugin.clone();
        let regs = &mut self.registrations;
        unique_subscription(regs, &plugin, name)?;
        let on_event: OnEvent = Box::new(on_event);
        regs.subscribers.events.push(Owned {
            plugin,
            name: name.to_string(),
            item: Arc::new(Mutex::new(on_event)),
        });
        Ok(())
    }

    /// Subscribes to the store's change feed from `start`: `on_page` gets each page of changes
    /// after its cursor (oldest first, at most [`super::FEED_PAGE`] each), read at start, when a
    /// job of this process finishes, on a slow poll (for writes of other processes) and once
    /// more when the runtime stops. The cursor moves past a page only once `on_page` returned
    /// `Ok`; a page it failed on is offered again at the next wake, so no change is skipped.
    pub fn subscribe_changes(
        &mut self,
        name: &str,
        start: FeedStart,
        on_page: impl FnMut(&RuntimeContext, &ChangePage) -> Result<(), BoxError> + Send + 'static,
    ) -> Result<(), PluginError> {
        let plugin = self.plugin.clone();
        let regs = &mut self.registrations;
        unique_subscription(regs, &plugin, name)?;
        let on_page: OnPage = Box::new(on_page);
        regs.subscribers.feeds.push(Owned {
            plugin,
            name: name.to_string(),
            item: FeedSubscription {
                start,
                on_page: Arc::new(Mutex::new(on_page)),
            },
        });
        Ok(())
    }

    /// Offers `value` to other plugins as the capability `name` (one provider per name). Each
    /// user gets a clone, so provide an `Arc`, typically of a trait object both sides know
    /// (`Arc<dyn Importer>`): users ask for that type, never for the provider's own.
    pub fn provide<T: Any + Send + Sync + Clone>(
        &mut self,
        name: &str,
        value: T,
    ) -> Result<(), PluginError> {
        self.registrations
            .capabilities
            .provide(&self.plugin, name, value)
    }

    /// The capability `name` as a `T`, among those provided by the plugins registered so far
    /// (services and subscribers see them all, through their [`RuntimeContext`]). A missing
    /// one is refused with the list of what is provided; a wrong type with both types.
    pub fn capability<T: Any + Send + Sync + Clone>(&self, name: &str) -> Result<T, PluginError> {
        self.registrations.capabilities.get(name)
    }
}

/// Refuses a second `what` named `name` by `plugin`.
fn unique<T>(
    items: &[Owned<T>],
    what: &'static str,
    plugin: &str,
    name: &str,
) -> Result<(), PluginError> {
    if items.iter().any(|o| o.plugin == plugin && o.name == name) {
        return Err(PluginError::DuplicateName {
            what,
            name: name.to_string(),
            plugin: plugin.to_string(),
            by: plugin.to_string(),
        });
    }
    Ok(())
}

/// Refuses a second subscription (to events or to the feed) named `name` by `plugin`.
fn unique_subscription(regs: &Registrations, plugin: &str, name: &str) -> Result<(), PluginError> {
    unique(&regs.subscribers.events, "subscription", plugin, name)?;
    unique(&regs.subscribers.feeds, "subscription", plugin, name)
}

/// A handler run under the vault lock ([`JobSettings::holds_vault_lock`]).
struct HoldsVaultLock<H> {
    root: PathBuf,
    inner: H,
}

impl<H: Handler> Handler for HoldsVaultLock<H> {
    fn validate(&self, input: &Value) -> Result<(), String> {
        self.inner.validate(input)
    }

    fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let _lock = lock_vault(&self.root, ctx)?;
        self.inner.run(ctx)
    }
}
