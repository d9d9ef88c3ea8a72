//! The runtime: the plugins of one vault, registered, then started and stopped in order. It is
//! what the daemon (`brain serve`) runs: the workers that run every job, each plugin's
//! services, and the subscriptions to the job events and the change feed.
//!
//! Order, and why: subscriptions first (subscribed to the bus before any worker runs, so none
//! misses a job), then the worker pool, then the services in registration order (a service may
//! enqueue at once). Stopping goes back: services in reverse order (nothing new is queued), the
//! pool (running jobs finish, their events still delivered), then the subscriptions (a feed
//! subscriber reads once more what those last jobs changed).

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brain_core::Config;
use brain_jobs::{EventBus, PoolConfig, Queue, WorkerPool};
use brain_store::{Backend, ChangePage};

use crate::plugin::{
    Capabilities, FeedStart, FeedSubscription, JobTypeInfo, OnPage, Owned, Plugin, PluginContext,
    PluginError, Registrations, Service, Subscribers, Subscriptions,
};

/// How often a change-feed subscriber reads the feed when no job of this process finished:
/// what other processes commit reaches it within this long.
pub const DEFAULT_FEED_POLL: Duration = Duration::from_secs(5);

/// What services and subscribers get: the vault, its queue and the capabilities every plugin
/// provided. Cheap to clone.
#[derive(Clone)]
pub struct RuntimeContext {
    inner: Arc<ContextInner>,
}

struct ContextInner {
    root: PathBuf,
    config: Config,
    store: Arc<dyn Backend>,
    queue: Queue,
    capabilities: Capabilities,
}

impl RuntimeContext {
    /// The vault's folder.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The vault's layered configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The vault's store.
    pub fn store(&self) -> &Arc<dyn Backend> {
        &self.inner.store
    }

    /// The vault's queue, with every registered job type: enqueue jobs and batches here.
    pub fn queue(&self) -> &Queue {
        &self.inner.queue
    }

    /// Enqueues a batch: `root`, then `children` under it, in one transaction; returns the
    /// root's id, which is the batch's. A plugin's service queues many related jobs this way
    /// and follows them as one ([`RuntimeContext::batch_status`]); cancelling the root cancels
    /// them all.
    pub fn enqueue_batch(
        &self,
        root: brain_jobs::EnqueueRequest,
        children: Vec<brain_jobs::EnqueueRequest>,
    ) -> Result<i64, brain_jobs::QueueError> {
        Ok(self.inner.queue.enqueue_batch(root, children)?.0)
    }

    /// The children of batch `id` counted by state.
    pub fn batch_status(
        &self,
        id: i64,
    ) -> Result<brain_store::jobs::BatchStatus, brain_jobs::QueueError> {
        self.inner.queue.batch_status(id)
    }

    /// The capabilities the plugins provided.
    pub fn capabilities(&self) -> &Capabilities {
        &self.inner.capabilities
    }

    /// The capability `name` as a `T`; see [`Capabilities::get`].
    pub fn capability<T: Any + Send + Sync + Clone>(&self, name: &str) -> Result<T, PluginError> {
        self.inner.capabilities.get(name)
    }
    /// The queue and the capabilities, to build a `Brain` facade on in a service (the HTTP
    /// server's MCP endpoint).
    pub fn plugged(&self) -> crate::Plugged {
        crate::Plugged {
            queue: self.queue().clone(),
            capabilities: self.capabilities().clone(),
        }
    }
}

/// Registers `plugins` in order, each seeing the capabilities of those before it. An error
/// that does not say which plugin it came from is wrapped with the plugin's name.
pub(crate) fn register_all(
    root: &Path,
    config: &Config,
    store: Arc<dyn Backend>,
    plugins: &[Box<dyn Plugin>],
) -> Result<Registrations, PluginError> {
    let mut ctx = PluginContext::new(root, config.clone(), store);
    for plugin in plugins {
        let name = plugin.name();
        ctx.set_plugin(name);
        plugin.register(&mut ctx).map_err(|e| match e {
            e @ (PluginError::MissingCapability { .. }
            | PluginError::CapabilityType { .. }
            | PluginError::Store { .. }
            | PluginError::Thread { .. }
            | PluginError::AlreadyRunning) => PluginError::register(name, e),
            named => named,
        })?;
        tracing::debug!(plugin = name, "plugin registered");
    }
    Ok(ctx.registrations)
}

/// What runs between [`Runtime::start`] and [`Runtime::stop`].
struct Running {
    pool: WorkerPool,
    subscriptions: Subscriptions,
}

/// The plugins of one vault and what they registered: built by [`Runtime::new`] (which only
/// registers), run by [`Runtime::start`] until [`Runtime::stop`] (or drop). Can be started
/// again after a stop.
pub struct Runtime {
    context: RuntimeContext,
    job_types: Vec<JobTypeInfo>,
    left_to_folder: Vec<String>,
    services: Vec<Owned<Box<dyn Service>>>,
    subscribers: Subscribers,
    feed_poll: Duration,
    running: Option<Running>,
}

impl Runtime {
    /// Registers `plugins` (in order) for the vault at `root` and builds its queue from the job
    /// types they registered. Nothing starts yet: interfaces can be built on [`Runtime::queue`]
    /// first. (The queue cannot be passed in: its registry is fixed when it is built, and the
    /// job types are only known once the plugins registered.)
    pub fn new(
        root: &Path,
        config: Config,
        store: Arc<dyn Backend>,
        plugins: Vec<Box<dyn Plugin>>,
    ) -> Result<Runtime, PluginError> {
        let mut regs = register_all(root, &config, store.clone(), &plugins)?;
        regs.subscribers.feeds.push(announce_changes());
        let jobs: Arc<dyn brain_store::JobStore> = store.clone();
        let queue = Queue::new(jobs, regs.registry, EventBus::default());
        Ok(Runtime {
            context: RuntimeContext {
                inner: Arc::new(ContextInner {
                    root: root.to_path_buf(),
                    config,
                    store,
                    queue,
                    capabilities: regs.capabilities,
                }),
            },
            job_types: regs.job_types,
            left_to_folder: regs.left_to_folder,
            services: regs.services,
            subscribers: regs.subscribers,
            feed_poll: DEFAULT_FEED_POLL,
            running: None,
        })
    }

    /// A runtime with no vault folder, for a machine that runs a store's jobs without holding
    /// any of its folders (`brain work --store URL`): job types bound to a replica or holding
    /// the vault lock are not registered ([`PluginContext::has_folder`]), so their jobs stay
    /// queued for a worker that has the folder ([`Runtime::left_to_folder`] lists them).
    pub fn without_folder(
        config: Config,
        store: Arc<dyn Backend>,
        plugins: Vec<Box<dyn Plugin>>,
    ) -> Result<Runtime, PluginError> {
        Runtime::new(Path::new(""), config, store, plugins)
    }

    /// The job types this runtime left to a worker with the vault folder (see
    /// [`Runtime::without_folder`]).
    pub fn left_to_folder(&self) -> &[String] {
        &self.left_to_folder
    }

    /// With change-feed subscribers reading the feed every `every` when no job of this process
    /// finished (default [`DEFAULT_FEED_POLL`]).
    pub fn with_feed_poll(mut self, every: Duration) -> Self {
        self.feed_poll = every;
        self
    }

    /// The vault's queue, with every job type the plugins registered: the one to build the
    /// `Brain` facade and the interfaces on, so their in-process events reach the
    /// subscribers.
    pub fn queue(&self) -> &Queue {
        self.context.queue()
    }

    /// The queue and the capabilities, to build the `Brain` facade on (see [`crate::Plugged`]).
    pub fn plugged(&self) -> crate::Plugged {
        self.context.plugged()
    }

    /// What services and subscribers get (the store, the queue, the capabilities).
    pub fn context(&self) -> &RuntimeContext {
        &self.context
    }

    /// The capability `name` as a `T`; see [`Capabilities::get`].
    pub fn capability<T: Any + Send + Sync + Clone>(&self, name: &str) -> Result<T, PluginError> {
        self.context.capability(name)
    }

    /// Every registered job type, with its plugin and settings, in registration order.
    pub fn job_types(&self) -> &[JobTypeInfo] {
        &self.job_types
    }

    /// Every registered service as `(plugin, service)`, in the order they start.
    pub fn services(&self) -> Vec<(&str, &str)> {
        self.services
            .iter()
            .map(|s| (s.plugin.as_str(), s.name.as_str()))
            .collect()
    }

    /// Whether [`Runtime::start`] succeeded and [`Runtime::stop`] has not run since.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Starts the subscriptions, a worker pool as `pool` says, then every service in
    /// registration order. If a service fails to start, those started before it are stopped
    /// (in reverse order), then the pool and the subscriptions, and the error names the plugin
    /// and the service.
    pub fn start(&mut self, pool: PoolConfig) -> Result<(), PluginError> {
        if self.running.is_some() {
            return Err(PluginError::AlreadyRunning);
        }
        let subscriptions = Subscriptions::start(&self.context, &self.subscribers, self.feed_poll)?;
        let workers = WorkerPool::start(self.context.queue().clone(), pool);
        for i in 0..self.services.len() {
            let service = &mut self.services[i];
            tracing::info!(plugin = %service.plugin, service = %service.name, "starting a service");
            if let Err(source) = service.item.start(&self.context) {
                let (plugin, name) = (service.plugin.clone(), service.name.clone());
                tracing::error!(plugin = %plugin, service = %name, error = %source, "a service could not start; stopping those started");
                stop_services(&mut self.services[..i]);
                workers.shutdown();
                subscriptions.stop();
                return Err(PluginError::ServiceStart {
                    plugin,
                    service: name,
                    source,
                });
            }
        }
        self.running = Some(Running {
            pool: workers,
            subscriptions,
        });
        Ok(())
    }

    /// Stops the services (in reverse order), then the workers (letting running jobs finish),
    /// then the subscriptions. Does nothing if the runtime is not running.
    pub fn stop(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        stop_services(&mut self.services);
        running.pool.shutdown();
        running.subscriptions.stop();
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Stops `services` last first.
fn stop_services(services: &mut [Owned<Box<dyn Service>>]) {
    for service in services.iter_mut().rev() {
        tracing::info!(plugin = %service.plugin, service = %service.name, "stopping a service");
        service.item.stop();
    }
}

/// The runtime's own change-feed subscription: every change it reads from its start on is
/// published on the queue's bus as [`brain_jobs::Event::EntityChanged`] (`entity.changed`), in
/// feed order, so event subscribers and interfaces in this process hear of every entity change
/// whatever made it. It reads when a job of this process ends and on the feed poll, like any
/// feed subscriber.
fn announce_changes() -> Owned<FeedSubscription> {
    let on_page: OnPage = Box::new(|ctx: &RuntimeContext, page: &ChangePage| {
        for change in &page.changes {
            ctx.queue().bus().publish(brain_jobs::Event::EntityChanged {
                seq: change.seq,
                entity: change.entity.clone(),
                path: change.path.clone(),
                deleted: change.deleted,
            });
        }
        Ok(())
    });
    Owned {
        plugin: "runtime".into(),
        name: "entity-changed".into(),
        item: FeedSubscription {
            start: FeedStart::Now,
            on_page: Arc::new(Mutex::new(on_page)),
        },
    }
}
