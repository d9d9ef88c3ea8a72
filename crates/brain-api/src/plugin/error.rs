//! What can go wrong while plugins register and while the runtime starts them.

use brain_store::StoreError;

/// Any error a plugin's own code returns (a service that cannot start, a change-feed
/// subscriber that cannot handle a page): boxed, so each plugin keeps its own error type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why registering or starting plugins failed. Every message names the plugin, and the job
/// type, service, subscription or capability concerned.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// Two plugins (or one, twice) registered the same job type: the queue runs one handler
    /// per type, so the second would silently replace the first.
    #[error(
        "plugin '{plugin}' registers the job type '{job_type}', which plugin '{by}' registered \
         already: give one of them another name"
    )]
    DuplicateJobType {
        /// The type.
        job_type: String,
        /// The plugin registering it again.
        plugin: String,
        /// The plugin that registered it first.
        by: String,
    },
    /// A plugin registered two services, two subscriptions or two capabilities under one name.
    #[error(
        "plugin '{plugin}' registers a {what} named '{name}', which plugin '{by}' registered \
         already: give one of them another name"
    )]
    DuplicateName {
        /// `service`, `subscription` or `capability`.
        what: &'static str,
        /// The name.
        name: String,
        /// The plugin registering it again.
        plugin: String,
        /// The plugin that registered it first.
        by: String,
    },
    /// A capability was asked for by a name nobody provides.
    #[error(
        "no plugin provides the capability '{name}' (asked for as {wanted}); provided: \
         {provided}. Register the plugin that provides it, before the plugins that use it"
    )]
    MissingCapability {
        /// The name asked for.
        name: String,
        /// The type asked for.
        wanted: &'static str,
        /// Every capability provided, with its type and plugin (`none` when there is none).
        provided: String,
    },
    /// A capability exists under the name but is of another type than the one asked for.
    #[error(
        "the capability '{name}' that plugin '{plugin}' provides is a {actual}, not the \
         {wanted} asked for"
    )]
    CapabilityType {
        /// The name asked for.
        name: String,
        /// The plugin providing it.
        plugin: String,
        /// The type it was provided as.
        actual: &'static str,
        /// The type asked for.
        wanted: &'static str,
    },
    /// A plugin's `register` failed (its configuration is wrong, a capability it needs is
    /// missing...).
    #[error("plugin '{plugin}' could not register: {source}")]
    Register {
        /// The plugin.
        plugin: String,
        /// Why, in the plugin's words.
        #[source]
        source: BoxError,
    },
    /// A service failed to start; the services started before it were stopped again.
    #[error(
        "the service '{service}' of plugin '{plugin}' could not start: {source}; the services \
         started before it were stopped"
    )]
    ServiceStart {
        /// The plugin that registered the service.
        plugin: String,
        /// The service.
        service: String,
        /// Why, in the service's words.
        #[source]
        source: BoxError,
    },
    /// The runtime is already running (`start` twice without `stop`).
    #[error("the runtime is already running: stop it before starting it again")]
    AlreadyRunning,
    /// The store failed while the runtime started (reading where the change feed ends, for a
    /// subscriber that starts from now).
    #[error("cannot {what}: {source}")]
    Store {
        /// What the runtime was doing.
        what: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// A thread the runtime needs could not be started.
    #[error("cannot start the thread of {what}: {source}")]
    Thread {
        /// Whose thread.
        what: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
}

impl PluginError {
    /// A plugin's own error from `register`, wrapped with the plugin's name.
    pub fn register(plugin: &str, source: impl Into<BoxError>) -> Self {
        PluginError::Register {
            plugin: plugin.to_string(),
            source: source.into(),
        }
    }
}
