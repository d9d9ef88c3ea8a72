//! Capabilities: what one plugin offers the others by name (the sync plugin's importer, for
//! git's post-pull import), so no plugin imports another. A type-erased registry: the provider
//! stores a value under a name, a user asks for it by name and type, and a wrong name or type is
//! refused with what exists instead.

use std::any::{Any, type_name};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::PluginError;

#[derive(Clone)]
struct Provided {
    value: Arc<dyn Any + Send + Sync>,
    type_name: &'static str,
    plugin: String,
}

/// The capabilities plugins provided, by name. Filled while plugins register (each sees those
/// of the plugins registered before it), then shared read-only with services and subscribers.
#[derive(Clone, Default)]
pub struct Capabilities {
    by_name: BTreeMap<String, Provided>,
}

impl Capabilities {
    /// Stores `value` as the capability `name` of `plugin`. The value is cloned for each user,
    /// so it is usually an `Arc` (of a trait object the users know: `Arc<dyn Importer>`).
    pub(crate) fn provide<T: Any + Send + Sync + Clone>(
        &mut self,
        plugin: &str,
        name: &str,
        value: T,
    ) -> Result<(), PluginError> {
        if let Some(existing) = self.by_name.get(name) {
            return Err(PluginError::DuplicateName {
                what: "capability",
                name: name.to_string(),
                plugin: plugin.to_string(),
                by: existing.plugin.clone(),
            });
        }
        self.by_name.insert(
            name.to_string(),
            Provided {
                value: Arc::new(value),
                type_name: type_name::<T>(),
                plugin: plugin.to_string(),
            },
        );
        Ok(())
    }

    /// The capability `name` as a `T`, or why not: nobody provides it (the error lists what is
    /// provided), or it is of another type (the error names both).
    pub fn get<T: Any + Send + Sync + Clone>(&self, name: &str) -> Result<T, PluginError> {
        let Some(provided) = self.by_name.get(name) else {
            return Err(PluginError::MissingCapability {
                name: name.to_string(),
                wanted: type_name::<T>(),
                provided: self.listing(),
            });
        };
        match provided.value.downcast_ref::<T>() {
            Some(value) => Ok(value.clone()),
            None => Err(PluginError::CapabilityType {
                name: name.to_string(),
                plugin: provided.plugin.clone(),
                actual: provided.type_name,
                wanted: type_name::<T>(),
            }),
        }
    }

    /// The names provided, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// `name (type, from plugin p), ...`, or `none`.
    fn listing(&self) -> String {
        if self.by_name.is_empty() {
            return "none".into();
        }
        self.by_name
            .iter()
            .map(|(name, p)| format!("'{name}' ({}, from plugin '{}')", p.type_name, p.plugin))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
