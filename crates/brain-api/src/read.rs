//! Reading: search, get, list, the types a vault holds, and the status every interface shows.

use brain_core::EntityRef;
use brain_core::path::NOTE_TYPE;
use brain_store::jobs::{JobFilter, JobState};
use brain_store::{EntitySummary, ListFilter, SearchHit, SearchQuery, Store, StoreError};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{Brain, BrainError, SERVE_STATE_KEY, daemon_pid, job_json};

mod path_hint;
mod suggest;

/// A full-text search, as an interface asks it.
#[derive(Clone, Debug, Default)]
pub struct SearchRequest {
    /// The query (words, `"phrases"`, `-excluded`, `prefix*`).
    pub query: String,
    /// Only these types (any of them); empty: all.
    pub types: Vec<String>,
    /// Only notes with all of these tags (`#` optional, any case).
    pub tags: Vec<String>,
    /// At most this many hits (at least 1; more than 500 is lowered to 500); `None`:
    /// `search.default_limit`.
    pub limit: Option<usize>,
    /// Skip this many hits first: the `next_offset` of the previous page.
    pub offset: usize,
}

/// One page of search hits, and where the next one starts.
#[derive(Clone, Debug, Serialize)]
pub struct SearchPage {
    /// The hits, best first.
    pub hits: Vec<SearchHit>,
    /// The `offset` of the next page; `None` on the last one.
    pub next_offset: Option<usize>,
    /// On a first page with no hit: the folder a `path:` filter meant in another letter case
    /// ([`Brain::path_case_hint`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// A page of a listing, as an interface asks it.
#[derive(Clone, Debug, Default)]
pub struct ListRequest {
    /// Only this type.
    pub entity_type: Option<String>,
    /// Only notes under this folder (`Projects/Work`).
    pub folder: Option<String>,
    /// Only notes with this tag.
    pub tag: Option<String>,
    /// At most this many: at least 1 (0 is refused, as a caller asking for none is mistaken),
    /// `usize::MAX` for every note.
    pub limit: usize,
    /// Skip this many first.
    pub offset: usize,
    /// Soft-deleted notes too (`brain list --deleted`), marked by their `deleted_ms`.
    pub include_deleted: bool,
}

/// One page of a listing, and where the next one starts.
#[derive(Clone, Debug, Serialize)]
pub struct ListPage {
    /// The notes, in path order.
    pub items: Vec<EntitySummary>,
    /// The `offset` of the next page; `None` on the last one.
    pub next_offset: Option<usize>,
}

/// The most hits a search returns, whatever is asked: a page an agent can read. The CLI refuses
/// a larger `--limit` rather than silently return fewer.
pub const MAX_SEARCH_LIMIT: usize = 500;

fn tag(t: &str) -> String {
    t.trim().trim_start_matches('#').to_lowercase()
}

impl Brain {
    /// The entity types this vault maps: `note` and the configured type folders.
    pub fn entity_types(&self) -> Vec<String> {
        let mut types = vec![NOTE_TYPE.to_string()];
        types.extend(self.config.vault.entity_types.iter().cloned());
        types
    }

    /// What a reader is told when a type filter names types the vault does not have (`None`
    /// when it has them all): a filter that matches nothing is not an error, but the reader
    /// should learn why the answer is empty and which types there are.
    pub fn unknown_types_warning(&self, asked: &[String]) -> Option<String> {
        let have = self.entity_types();
        let unknown: Vec<&str> = asked
            .iter()
            .filter(|t| !have.contains(t))
            .map(String::as_str)
            .collect();
        (!unknown.is_empty()).then(|| {
            format!(
                "this vault has no type {}: it has {}",
                unknown.join(", "),
                have.join(", ")
            )
        })
    }

    /// Refuses a type the vault does not map, naming the ones it does. On every read, so it
    /// allocates only to refuse.
    pub(crate) fn check_type(&self, t: &str) -> Result<(), BrainError> {
        if t == NOTE_TYPE || self.config.vault.entity_types.iter().any(|k| k == t) {
            return Ok(());
        }
        Err(BrainError::UnknownType {
            name: t.to_string(),
            known: self.entity_types().join(", "),
        })
    }

    /// Live notes per type.
    pub fn type_counts(&self) -> Result<Vec<(String, u64)>, BrainError> {
        let total = self.store.count_live()?;
        let mut out = Vec::new();
        let mut typed = 0;
        for t in &self.config.vault.entity_types {
            let n = self
                .store
                .list(&ListFilter {
                    entity_type: Some(t.clone()),
                    ..ListFilter::default()
                })?
                .len() as u64;
            typed += n;
            out.push((t.clone(), n));
        }
        out.insert(0, (NOTE_TYPE.to_string(), total.saturating_sub(typed)));
        Ok(out)
    }

    /// One page of ranked full-text search hits with snippets, matches marked `⟦like this⟧`
    /// (see [`search_with_marks`](Brain::search_with_marks)).
    pub fn search(&self, req: &SearchRequest) -> Result<SearchPage, BrainError> {
        self.search_with_marks(req, brain_store::HIGHLIGHT)
    }

    /// [`Brain::search`] with other marks around matched words (a terminal's colours). A
    /// mark the note's text holds itself is doubled in the snippet, so marks stay unambiguous.
    pub fn search_with_marks(
        &self,
        req: &SearchRequest,
        marks: (&str, &str),
    ) -> Result<SearchPage, BrainError> {
        let q = self.search_query(req)?;
        if req.limit == Some(0) {
            return Err(BrainError::BadRequest(
                "a search limit of 0 asks for no hits: give a limit of at least 1, or none for \
                 the vault's `search.default_limit`"
                    .into(),
            ));
        }
        let limit = req
            .limit
            .unwrap_or(self.config.search.default_limit)
            .clamp(1, MAX_SEARCH_LIMIT);
        let mut q = q;
        // One more than asked tells whether there is a next page.
        q.limit = limit + 1;
        q.offset = req.offset;
        q.highlight = (marks.0.to_string(), marks.1.to_string());
        let mut hits = self.store.search(&q)?;
        let next_offset = (hits.len() > limit).then(|| req.offset + limit);
        hits.truncate(limit);
        let hint = (hits.is_empty() && req.offset == 0)
            .then(|| self.path_case_hint(&req.query))
            .flatten();
        Ok(SearchPage {
            hits,
            next_offset,
            hint,
        })
    }

    /// The store's query for `req`: its words, and the filters typed in them (`type:`, `tag:`,
    /// `path:`, `meta.KEY:`) with those given apart. Refused when it holds neither words nor
    /// filters, or names an unknown type.
    pub(crate) fn search_query(&self, req: &SearchRequest) -> Result<SearchQuery, BrainError> {
        let (words, filters) = brain_store::search_query::split_filters(&req.query)
            .map_err(|e| BrainError::BadRequest(format!("the search query was not run: {e}")))?;
        for t in &filters.types {
            // `type:meeting` typed by someone whose notes say `type: meeting` in frontmatter.
            if self.check_type(t).is_err() {
                return Err(BrainError::BadRequest(format!(
                    "the search query was not run: `type:{t}` names an entity type, and this \
                     vault's are {}; for a frontmatter key `type`, write `meta.type:{t}`",
                    self.entity_types().join(", ")
                )));
            }
        }
        let mut q = SearchQuery::new(words);
        q.types = req.types.clone();
        q.types.extend(filters.types);
        q.tags = req.tags.iter().map(|t| tag(t)).collect();
        q.tags.extend(filters.tags);
        q.paths = filters.paths;
        q.meta = filters.meta;
        for t in &q.types {
            self.check_type(t)?;
        }
        if q.text.trim().is_empty() && !q.has_filters() {
            return Err(BrainError::BadRequest(
                "the search query is empty: give at least one word, or a filter (`type:T`, \
                 `tag:T`, `path:FOLDER`, `meta.KEY:VALUE`)"
                    .into(),
            ));
        }
        Ok(q)
    }

    /// A live note. A soft-deleted one is [`BrainError::Deleted`], which says it can be
    /// restored (a reader told "no such note" would think its text lost). A missing one is
    /// [`BrainError::NotFound`] with the note the caller most likely meant
    /// ([`Brain::suggest`]), so an agent that typed `Welcome.md` or `welcome` is told the id
    /// that works instead of listing the vault.
    pub fn get(&self, r: &EntityRef) -> Result<brain_core::Entity, BrainError> {
        if let Err(unknown) = self.check_type(&r.entity_type) {
            // `work/plan` typed for the note at `work/plan.md`: name the note meant.
            let as_note = EntityRef::new(NOTE_TYPE, format!("{}/{}", r.entity_type, r.id));
            if self.store.get(&as_note).is_ok() {
                return Err(BrainError::NotFound {
                    entity: r.to_string(),
                    suggestion: Some(as_note.to_string()),
                });
            }
            return Err(unknown);
        }
        match self.store.get(r) {
            Err(StoreError::NotFound(_)) => match self.store.get_any(r) {
                Ok(e) if e.deleted_ms.is_some() => Err(BrainError::Deleted {
                    entity: r.to_string(),
                }),
                _ if self.store.change_cursor()? == 0 => Err(BrainError::NothingImported {
                    entity: r.to_string(),
                }),
                _ if let Some(now) = self.moved_to(r) => Err(BrainError::Moved {
                    entity: r.to_string(),
                    now: now.to_string(),
                }),
                _ => {
                    let suggestion = self.suggest(r);
                    // A file that is another note's name in another case or Unicode form is
                    // never imported: naming that note says more than "run a sync".
                    let twin = suggestion.as_ref().is_some_and(|s| {
                        brain_core::path_key(&s.id) == brain_core::path_key(&r.id)
                    });
                    match self.unimported_file(r) {
                        Some(path) if !twin => Err(BrainError::NotImported {
                            entity: r.to_string(),
                            path,
                        }),
                        _ => Err(BrainError::NotFound {
                            entity: r.to_string(),
                            suggestion: suggestion.map(|s| s.to_string()),
                        }),
                    }
                }
            },
            found => {
                let e = found?;
                // A damaged copy is never served, nor edited and written over the file.
                if brain_core::content_hash(e.content().as_bytes()) != e.content_hash {
                    return Err(BrainError::DamagedNote {
                        entity: r.to_string(),
                    });
                }
                Ok(e)
            }
        }
    }

    /// The file at the path `r` names, when one is there though the store has no such note (a
    /// file the sync skips, or one not synced yet).
    fn unimported_file(&self, r: &EntityRef) -> Option<String> {
        let path = self.entity_from(r, b"#\n").ok()?.path;
        self.root.join(&path).is_file().then_some(path)
    }

    /// Where the note that was `r` went: one of its versions was at the path `r` names, and
    /// it is elsewhere now (`brain mv`, a rename on disk).
    pub(crate) fn moved_to(&self, r: &EntityRef) -> Option<EntityRef> {
        // A stand-in text: only the path the id maps to is used.
        let path = self.entity_from(r, b"#\n").ok()?.path;
        self.store.moved_from(&path, None).ok().flatten()
    }

    /// A page of notes in path order: live ones, and deleted ones too if asked.
    pub fn list(&self, req: &ListRequest) -> Result<ListPage, BrainError> {
        if let Some(t) = &req.entity_type {
            self.check_type(t)?;
        }
        if req.limit == 0 {
            return Err(BrainError::BadRequest(
                "a list limit of 0 asks for no notes: give a limit of at least 1 (and page \
                 with the offset), or none for the default"
                    .into(),
            ));
        }
        let limit = req.limit;
        // One more than asked tells whether there is a next page.
        let mut items = self.store.list(&ListFilter {
            entity_type: req.entity_type.clone(),
            tag: req.tag.as_deref().map(tag),
            folder: req
                .folder
                .as_deref()
                .map(|f| f.trim_matches('/').to_string())
                .filter(|f| !f.is_empty()),
            include_deleted: req.include_deleted,
            limit: limit.saturating_add(1),
            offset: req.offset,
        })?;
        let next_offset = (items.len() > limit).then(|| req.offset + limit);
        items.truncate(limit);
        Ok(ListPage { items, next_offset })
    }

    /// What the vault is doing: notes, conflicts, the daemon, the queue, recent jobs, git.
    pub fn status_report(&self) -> Result<StatusReport, BrainError> {
        let store = self.store.as_ref();
        let active = store.list_jobs(&JobFilter {
            states: vec![JobState::Running, JobState::Queued],
            limit: 50,
            ..JobFilter::default()
        })?;
        let recent = store.list_jobs(&JobFilter {
            states: vec![JobState::Succeeded, JobState::Failed, JobState::Cancelled],
            limit: 10,
            ..JobFilter::default()
        })?;
        let mut queue = serde_json::Map::new();
        for c in store.job_counts()? {
            let entry = queue
                .entry(c.job_type.clone())
                .or_insert_with(|| json!({"queued": 0, "running": 0}));
            entry[c.state.as_str()] = json!(c.count);
        }
        let daemon = daemon_pid(&self.root).map(|pid| {
            let mut doc = Store::runtime_state(store, SERVE_STATE_KEY)
                .ok()
                .flatten()
                .map(|s| s.value)
                .unwrap_or_else(|| json!({"state": "starting"}));
            doc["pid"] = json!(pid);
            doc
        });
        let git = Store::runtime_state(store, crate::git::STATE_KEY)?.map(|s| s.value);
        let unwritten = self.sync()?.unwritten()?;
        let known: Vec<&str> = self.queue().registry().names().collect();
        let unhandled = queue
            .iter()
            .filter(|(t, c)| c["queued"].as_u64().unwrap_or(0) > 0 && !known.contains(&t.as_str()))
            .map(|(t, _)| t.clone())
            .collect();
        // Batches under way: looked up only while batch children are queued or running.
        let batches = if queue.contains_key(crate::batch::BATCH_NOTES) {
            self.batches(20)?
                .into_iter()
                .filter(|b| !b.is_finished())
                .collect()
        } else {
            Vec::new()
        };
        Ok(StatusReport {
            notes: store.count_live()?,
            open_conflicts: store.conflicts(false)?.len(),
            unwritten,
            daemon,
            paused: store.paused_types()?,
            queue,
            active,
            recent,
            git_enabled: self.config.git.enabled,
            git,
            schedules: store.schedules()?,
            unhandled,
            batches,
        })
    }

    /// [`Brain::status_report`] as the JSON document every interface shows.
    pub fn status(&self) -> Result<Value, BrainError> {
        let r = self.status_report()?;
        Ok(json!({
            "vault": self.root,
            "notes": r.notes,
            "types": self.entity_types(),
            "open_conflicts": r.open_conflicts,
            "unwritten": {"count": r.unwritten.len(), "notes": r.unwritten},
            "daemon": r.daemon,
            "paused": r.paused,
            "queue": r.queue,
            "active": r.active.iter().map(job_json).collect::<Vec<_>>(),
            "recent": r.recent.iter().map(job_json).collect::<Vec<_>>(),
            "git": {"enabled": r.git_enabled, "last": r.git},
            "schedules": r.schedules,
            "unhandled_types": r.unhandled,
            "batches": r.batches,
        }))
    }
}

/// What a vault is doing, for an interface to render (`brain status` draws lines from it, MCP
/// sends [`Brain::status`]).
#[derive(Clone, Debug)]
pub struct StatusReport {
    /// Live notes.
    pub notes: u64,
    /// Conflicts not yet resolved.
    pub open_conflicts: usize,
    /// Notes whose edit in the store a sync could not write to their file (a pipe or an
    /// oversized file at the path), with what to do: an acknowledged edit not on disk must be
    /// said where the user looks, not only in a job's result.
    pub unwritten: Vec<crate::directory::UnwrittenNote>,
    /// The daemon's published state with its pid, if one holds the vault.
    pub daemon: Option<Value>,
    /// Paused job types.
    pub paused: Vec<String>,
    /// Queued and running jobs per type: `{"TYPE": {"queued": n, "running": n}}`.
    pub queue: serde_json::Map<String, Value>,
    /// Running and queued jobs (at most 50).
    pub active: Vec<brain_store::jobs::Job>,
    /// The last 10 finished jobs.
    pub recent: Vec<brain_store::jobs::Job>,
    /// Whether git sync is set up.
    pub git_enabled: bool,
    /// The last git job's published outcome.
    pub git: Option<Value>,
    /// Every schedule with its next and last run.
    pub schedules: Vec<brain_store::schedules::Schedule>,
    /// Job types with queued jobs that no plugin of this build runs (written by another build
    /// or a plugin no longer loaded): they wait until cancelled, which must be said.
    pub unhandled: Vec<String>,
    /// Batches under way (`brain batch`), with their progress.
    pub batches: Vec<crate::batch::BatchReport>,
}
