//! The test plugins: `probe` registers a job type that writes a note through the store, one
//! that holds the vault lock, two services (a third that fails, when asked), a subscription to
//! the job events, one to the change feed, and a capability; `user` uses that capability by
//! name. What they see is sent to the test over channels and written to a shared log.

use std::fs::OpenOptions;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use brain_api::plugin::{BoxError, FeedStart, Heard, JobSettings, Service};
use brain_api::{Plugin, PluginContext, PluginError, RuntimeContext};
use brain_core::{Document, Entity, EntityRef, VaultLayout, content_hash};
use brain_jobs::{Handler, JobContext, JobError};
use brain_store::{Backend, Change};
use serde_json::{Value, json};

/// Writes `note/<id>` through the store, as an import would.
pub const WRITE_JOB: &str = "probe-write";
/// Reports whether `.brain/sync.lock` is held while it runs.
pub const LOCKED_JOB: &str = "probe-locked";
/// The capability `probe` provides.
pub const GREETER: &str = "probe.greeter";

/// Who the services of these plugins log their starts and stops to.
pub type Log = Arc<Mutex<Vec<String>>>;

/// A capability as plugins share them: a trait both sides know, behind an `Arc`.
pub trait Greeter: Send + Sync {
    /// A greeting for `who`.
    fn greet(&self, who: &str) -> String;
}

struct Hello;

impl Greeter for Hello {
    fn greet(&self, who: &str) -> String {
        format!("hello, {who}")
    }
}

/// The plugin under test.
pub struct Probe {
    /// Where its services log their starts and stops.
    pub log: Log,
    /// Where its event subscription sends what it hears.
    pub events: Sender<Heard>,
    /// Where its change-feed subscription sends each page.
    pub changes: Sender<Vec<Change>>,
    /// Registers a third service whose start fails.
    pub failing_service: bool,
}

impl Plugin for Probe {
    fn name(&self) -> &str {
        "probe"
    }

    fn register(&self, ctx: &mut PluginContext) -> Result<(), PluginError> {
        let store = ctx.store().clone();
        ctx.register_job_type(WRITE_JOB, WriteNote { store }, JobSettings::default())?;
        ctx.register_job_type(
            LOCKED_JOB,
            LockProbe {
                lock: VaultLayout::new(ctx.root()).sync_lock(),
            },
            JobSettings {
                holds_vault_lock: true,
                queue: brain_jobs::handler::TypeConfig {
                    bound_to_replica: true,
                    ..Default::default()
                },
            },
        )?;
        for name in ["first", "second"] {
            ctx.register_service(name, Recorder::new(name, &self.log, false))?;
        }
        if self.failing_service {
            ctx.register_service("third", Recorder::new("third", &self.log, true))?;
        }
        let events = self.events.clone();
        ctx.subscribe_events("events", move |_: &RuntimeContext, heard| {
            let _ = events.send(heard);
        })?;
        let changes = self.changes.clone();
        ctx.subscribe_changes(
            "changes",
            FeedStart::Now,
            move |_: &RuntimeContext, page| {
                changes
                    .send(page.changes.clone())
                    .map_err(|e| -> BoxError { e.to_string().into() })
            },
        )?;
        let greeter: Arc<dyn Greeter> = Arc::new(Hello);
        ctx.provide(GREETER, greeter)
    }
}

/// A plugin that uses `probe`'s capability by name while it registers.
pub struct User {
    /// Where it logs the greeting it got.
    pub log: Log,
}

impl Plugin for User {
    fn name(&self) -> &str {
        "user"
    }

    fn register(&self, ctx: &mut PluginContext) -> Result<(), PluginError> {
        let greeter = ctx.capability::<Arc<dyn Greeter>>(GREETER)?;
        push(
            &self.log,
            format!("user registered: {}", greeter.greet("user")),
        );
        Ok(())
    }
}

/// A plugin registering a job type `probe` registers too.
pub struct Copycat;

impl Plugin for Copycat {
    fn name(&self) -> &str {
        "copycat"
    }

    fn register(&self, ctx: &mut PluginContext) -> Result<(), PluginError> {
        let store = ctx.store().clone();
        ctx.register_job_type(WRITE_JOB, WriteNote { store }, JobSettings::default())
    }
}

fn push(log: &Log, line: String) {
    log.lock().unwrap_or_else(|p| p.into_inner()).push(line);
}

/// A service that logs its start and stop, or fails to start.
struct Recorder {
    name: String,
    log: Log,
    fails: bool,
}

impl Recorder {
    fn new(name: &str, log: &Log, fails: bool) -> Self {
        Recorder {
            name: name.to_string(),
            log: log.clone(),
            fails,
        }
    }
}

impl Service for Recorder {
    fn start(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        if self.fails {
            return Err("the address 127.0.0.1:1 is in use".into());
        }
        // Services see every capability, whatever the order the plugins registered in.
        let greeter = ctx.capability::<Arc<dyn Greeter>>(GREETER)?;
        push(
            &self.log,
            format!("start {} ({})", self.name, greeter.greet("service")),
        );
        Ok(())
    }

    fn stop(&mut self) {
        push(&self.log, format!("stop {}", self.name));
    }
}

/// Writes `note/<id>` through the store.
struct WriteNote {
    store: Arc<dyn Backend>,
}

impl Handler for WriteNote {
    fn validate(&self, input: &Value) -> Result<(), String> {
        match input.get("id") {
            Some(Value::String(_)) => Ok(()),
            _ => Err("'id' must be a string".into()),
        }
    }

    fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let id = ctx.job.input["id"].as_str().unwrap_or_default();
        let entity = note(id, &format!("# {id}\n\nwritten by job #{}\n", ctx.job.id));
        self.store
            .put(&entity)
            .map_err(|e| JobError::Failed(e.to_string()))?;
        Ok(json!({"wrote": format!("note/{id}")}))
    }
}

/// Reports whether the vault lock is held (by the runtime, around this run).
struct LockProbe {
    lock: std::path::PathBuf,
}

impl Handler for LockProbe {
    fn run(&self, _: &JobContext) -> Result<Value, JobError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .map_err(|e| JobError::Failed(format!("{}: {e}", self.lock.display())))?;
        let held = matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock));
        Ok(json!({ "held": held }))
    }
}

/// `note/<id>` with `text` as its file, as an import builds it.
pub fn note(id: &str, text: &str) -> Entity {
    let doc = Document::parse(text).expect("test notes parse");
    let now = brain_core::time::now_ms();
    Entity {
        entity_ref: EntityRef::new("note", id),
        path: format!("{id}.md"),
        title: doc.title(id),
        tags: doc.tags(),
        content_hash: content_hash(text.as_bytes()),
        metadata: doc.metadata,
        frontmatter: doc.frontmatter,
        body: doc.body,
        created_ms: now,
        updated_ms: now,
        deleted_ms: None,
    }
}
