//! The stable names of tool errors. Every tool error is `isError: true` with structured content
//! `{"error": {"kind": KIND, "message": "..."}}` (sent as text too), so an agent or a test can
//! branch on what went wrong without reading the message, whose wording is for people and
//! changes from release to release. A kind, once published, keeps its meaning.
//!
//! Most kinds come from the facade ([`brain_api::BrainError::kind`]):
//!
//! | kind | what |
//! |---|---|
//! | `not_found` | no live note by that type and id (a deleted one: the message says it can be restored), or no batch by that id |
//! | `refused` | a batch request refused for what the batch is now: rolled back already (the message names the rollback), or still running |
//! | `unknown_type` | the type is neither `note` nor one of the vault's types |
//! | `unsafe_id` | the id would leave the vault, land where sync never reads, or read back as another note |
//! | `not_text` | the content is empty or binary |
//! | `invalid_frontmatter` | the frontmatter is never closed, is not YAML, or is not a map |
//! | `too_large` | the content is over `mcp.max_body_bytes` (or the vault's `sync.max_file_bytes`) |
//! | `exists` | `create` of a note that exists |
//! | `stale` | `update` with an `expected_hash` that is no longer the note's |
//! | `unknown_job` | no job by that id |
//! | `bad_argument` | an argument of the wrong shape or value (a mode, an op, a limit of 0, an empty hash or query), or one the tool does not know |
//! | `git_not_configured` | `git_sync` on a vault without git sync |
//! | `store_failed`, `queue_failed`, `vault_failed` | not the input: the store, the job queue or the vault failed |
//!
//! and these from this server: `job_failed` and `job_cancelled` (`sync` or `git_sync` waited
//! for a job that did not succeed: `error` sits beside the job's `state` and `result`),
//! `cancelled` (the request itself was cancelled) and `internal` (the server failed).

/// The content is over `mcp.max_body_bytes` (the same kind as the facade's own size limit).
pub(crate) const TOO_LARGE: &str = "too_large";
/// Arguments rmcp could not deserialize into a tool's argument struct.
pub(crate) const BAD_ARGUMENT: &str = "bad_argument";
/// The job `sync` or `git_sync` waited for failed.
pub(crate) const JOB_FAILED: &str = "job_failed";
/// The job `sync` or `git_sync` waited for was cancelled (by `cancel_job`, or by someone else).
pub(crate) const JOB_CANCELLED: &str = "job_cancelled";
/// The request was cancelled by the client.
pub(crate) const CANCELLED: &str = "cancelled";
/// The server itself failed (a panicked task, an answer it could not encode).
pub(crate) const INTERNAL: &str = "internal";
