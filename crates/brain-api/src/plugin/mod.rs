//! Plugins: how a capability (directory sync, git, embeddings, an interface served over HTTP)
//! joins the runtime without the runtime knowing it.
//!
//! At start-up each [`Plugin`] gets a [`PluginContext`] offering only generic operations:
//! register a job type (its handler, concurrency, whether it holds the vault lock, whether it is
//! bound to this replica), register a [`Service`] (a long-running task with a start and a
//! stop), subscribe to the job events and to the store's change feed, and provide or use a
//! capability by name. A plugin never imports another: it names their job types and events, and
//! reaches their code through capabilities. The [`Runtime`](crate::Runtime) then starts and
//! stops what was registered.
//!
//! The job types go into the queue's own registry ([`brain_jobs::Registry`]): there is one
//! registry, built once, before the queue exists, which is why registering only records and
//! the runtime builds the queue from the registrations.

mod capability;
mod context;
mod error;
mod subscribe;

pub use capability::Capabilities;
pub(crate) use context::{FeedSubscription, OnPage, Owned, Registrations, Subscribers};
pub use context::{JobSettings, JobTypeInfo, PluginContext};
pub use error::{BoxError, PluginError};
pub(crate) use subscribe::Subscriptions;
pub use subscribe::{FEED_PAGE, FeedStart, Heard};

use crate::runtime::RuntimeContext;

/// One capability of brains, added to a runtime at start-up.
pub trait Plugin {
    /// Its name, in logs and in every error about what it registered (`sync`, `git`).
    fn name(&self) -> &str;

    /// Registers its job types, services, subscriptions and capabilities. Only records them:
    /// nothing may start here (a one-shot command registers plugins to build its queue and
    /// never starts their services). Capabilities of plugins registered earlier are visible.
    fn register(&self, ctx: &mut PluginContext) -> Result<(), PluginError>;
}

/// A long-running task of a plugin (a file watcher, a scheduler, an HTTP router, a bot). The
/// runtime starts services in registration order once the workers run, and stops them in the
/// reverse order before the workers stop, so a service may rely on those started before it.
pub trait Service: Send + 'static {
    /// Starts the task (usually on threads of its own) and returns; an error stops the runtime's
    /// start-up, and the services started before this one are stopped again.
    fn start(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError>;

    /// Stops the task and waits for it to end. Called once for every successful `start`.
    fn stop(&mut self);
}
