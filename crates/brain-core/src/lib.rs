//! The pure heart of brains: what an entity is, how a vault path maps to it and back, how a
//! Markdown note is split into frontmatter and body without losing a byte, and the config types.
//!
//! Nothing here touches the file system, the network or a database, so every rule about notes can
//! be property-tested in isolation (like `globset` under `ignore`). I/O lives in `brain-store` and
//! `brain-sync`; the one exception is [`trash`], the single writer of the trash, kept here because
//! both the facade and the sync plugin keep deleted notes' files and neither may depend on the
//! other. Where everything lives under a vault's `.brain/` is [`layout`] (paths only).

pub mod cancel;
pub mod codec;
pub mod config;
pub mod edit;
mod edit_meta;
pub mod entity;
pub mod hash;
pub mod layout;
pub mod logseq;
pub mod path;
pub mod progress;
pub mod time;
pub mod trash;

pub use cancel::CancelToken;
pub use codec::{CodecError, Document, FrontmatterKind};
pub use config::{Config, ConflictPolicy, GitConfig, ServeConfig, VaultFormat, WatchMode};
pub use entity::{Entity, EntityRef, RefParseError};
pub use hash::content_hash;
pub use layout::VaultLayout;
pub use path::{PathError, PathMapper, path_key};
pub use progress::{NoProgress, Phase, ProgressSink};
pub use trash::{TrashError, TrashMode, keep_in_trash};
