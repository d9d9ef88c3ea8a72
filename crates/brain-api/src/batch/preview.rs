//! What a batch would do before it runs: the dry run (each note's change, diffed on the page
//! asked for), and what a person is told beside it: why a query selected nothing, what an op
//! does beyond its name, and the refusals the real run would meet (a move target no note can
//! be in, a mass delete), checked the same way for both.

use brain_core::EntityRef;

use super::plan::{self, Planned};
use super::{BatchOp, BatchPreview, NotePreview, cut_diff};
use crate::{Brain, BrainError};

impl Brain {
    /// What `op` would do to every note `query` selects, with nothing written.
    pub fn preview_batch(&self, op: &BatchOp, query: &str) -> Result<BatchPreview, BrainError> {
        self.preview_batch_diffing(op, query, 0..usize::MAX)
    }

    /// [`Brain::preview_batch`] with the diffs worked out only for the notes at `diffs` (by
    /// their place in the selection), the others' changes named without one: a page of a
    /// dry run over thousands of notes with a long value costs that page's diffs only.
    pub fn preview_batch_diffing(
        &self,
        op: &BatchOp,
        query: &str,
        diffs: std::ops::Range<usize>,
    ) -> Result<BatchPreview, BrainError> {
        self.preview_batch_allowing(op, query, diffs, false)
    }

    /// [`Brain::preview_batch_diffing`] of the run [`Brain::start_batch_allowing`] would make:
    /// with `allow_mass_delete`, a `rm` of most of the vault is not said to be refused.
    pub fn preview_batch_allowing(
        &self,
        op: &BatchOp,
        query: &str,
        diffs: std::ops::Range<usize>,
        allow_mass_delete: bool,
    ) -> Result<BatchPreview, BrainError> {
        self.check_batch_op(op)?;
        let op = op.normalized();
        self.check_move_target(&op)?;
        let hits = self.select_notes(query)?;
        let mapper = self.path_mapper()?;
        let logseq = self.is_logseq();
        let mut notes = Vec::with_capacity(hits.len());
        // Where the moves land: two notes of the batch on one name would make the second fail.
        let mut targets = std::collections::HashMap::new();
        for (at, hit) in hits.iter().enumerate() {
            let r = &hit.entity;
            let mut preview = NotePreview {
                entity: r.to_string(),
                path: hit.path.clone(),
                change: "refused",
                diff: None,
                to: None,
                why: None,
            };
            let note = match self.get(r) {
                Ok(note) => note,
                Err(e) => {
                    preview.why = Some(e.to_string());
                    notes.push(preview);
                    continue;
                }
            };
            match plan::plan(&op, &note, logseq, &mapper) {
                Ok(Planned::Text(text)) => {
                    // The text must still be a note the vault can hold (frontmatter that parses).
                    match self.entity_from(r, text.as_bytes()) {
                        Ok(_) => {
                            preview.change = "edit";
                            preview.diff = diffs.contains(&at).then(|| {
                                cut_diff(brain_store::history::unified_diff(
                                    &note.content(),
                                    &text,
                                    &format!("{r} now"),
                                    &format!("{r} after"),
                                ))
                            });
                        }
                        Err(e) => preview.why = Some(e.to_string()),
                    }
                }
                Ok(Planned::Move(to)) => match self.move_refusal(&to, &mut targets, r) {
                    Some(why) => preview.why = Some(why),
                    None => {
                        preview.change = "move";
                        preview.to = Some(to.to_string());
                    }
                },
                Ok(Planned::Delete) => preview.change = "delete",
                Ok(Planned::Unchanged(why)) => {
                    preview.change = "unchanged";
                    preview.why = Some(why);
                }
                Err(why) => preview.why = Some(why),
            }
            notes.push(preview);
        }
        let would_change = notes
            .iter()
            .filter(|n| matches!(n.change, "edit" | "move" | "delete"))
            .count();
        // Selecting nothing, what the op would do matters less than why nothing was selected.
        // The notes a move takes along (only a move's note reads them).
        let moving: Vec<String> = match op {
            BatchOp::Move { .. } => hits.iter().map(|h| h.path.clone()).collect(),
            _ => Vec::new(),
        };
        let note = match hits.is_empty() {
            true => self.empty_selection_hint(query).or_else(|| op.note(logseq)),
            false => self.batch_note(&op, &moving),
        };
        // The real run's refusal, said by its dry run too.
        let refused = match op {
            BatchOp::Delete if !allow_mass_delete => self.mass_delete_refusal(hits.len() as u64)?,
            _ => None,
        }
        .and_then(|e| match e {
            BrainError::BatchMassDelete {
                would_delete, live, ..
            } => Some(format!(
                "the real run would be refused (exit 5; over MCP, kind mass_delete): it deletes {would_delete} of the \
                 vault's {live} notes, more than `sync.mass_delete_share` allows; allow it with \
                 `--allow-mass-delete` (over MCP, `allow_mass_delete`) if you mean it"
            )),
            _ => None,
        });
        let warning = match (refused, self.history_off_warning()) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
        Ok(BatchPreview {
            op: op.describe(),
            query: query.to_string(),
            count: hits.len(),
            would_change,
            notes,
            note,
            warning,
        })
    }

    /// What a person should know of `op` before it runs: [`BatchOp::note`], or for a move
    /// of the notes at `moving` into a folder that differs from one the vault has only in
    /// letter case, that ([`Brain::move_case_hint`]).
    pub(super) fn batch_note(&self, op: &BatchOp, moving: &[String]) -> Option<String> {
        match op {
            BatchOp::Move { to } => self.move_case_hint(to, moving),
            _ => op.note(self.is_logseq()),
        }
    }

    /// Why a query selected no note, when something says more than "no note matches": no
    /// note is imported yet, or a `path:` filter names a folder in another letter case.
    pub(super) fn empty_selection_hint(&self, query: &str) -> Option<String> {
        if self.store.change_cursor().is_ok_and(|c| c == 0) {
            return Some(
                "no note is imported into the store yet: run `brain sync` (over MCP, the `sync` \
                 tool) first"
                    .into(),
            );
        }
        self.path_case_hint(query)
    }

    /// The refusal a `rm` of `would_delete` notes meets when that is most of the vault (as a
    /// sync's mass delete is), or `None`.
    pub(super) fn mass_delete_refusal(
        &self,
        would_delete: u64,
    ) -> Result<Option<BrainError>, BrainError> {
        let live = self.store.sync_state_of(&[])?.state.live_entities;
        let sync = &self.config.sync;
        Ok((would_delete > sync.mass_delete_min
            && would_delete as f64 > sync.mass_delete_share * live as f64)
            .then_some(BrainError::BatchMassDelete {
                would_delete,
                live,
                share: sync.mass_delete_share,
            }))
    }

    /// Refuses a move into a folder no note can be in (outside the vault, an empty folder
    /// name, a folder sync excludes), before anything is selected or queued; its dry run
    /// refuses it the same way.
    pub(super) fn check_move_target(&self, op: &BatchOp) -> Result<(), BrainError> {
        let BatchOp::Move { to } = op else {
            return Ok(());
        };
        let refused =
            |why: String| BrainError::BadRequest(format!("no note can move to {to}: {why}"));
        let target = self
            .path_mapper()?
            .to_ref(&format!("{}/NOTE.md", to.trim_matches('/')))
            .map_err(|e| refused(e.to_string()))?;
        match self.entity_from(&target, b"#\n") {
            Err(BrainError::Invalid { reason, .. }) => Err(refused(
                reason.replace("; pick another id", "; choose another folder"),
            )),
            _ => Ok(()),
        }
    }

    /// Why moving note `from` to `to` in a batch would fail: a note (or a file not synced)
    /// is there, or another note of the batch lands there first (`targets`, filled as the
    /// preview goes); `None` when it would move.
    fn move_refusal(
        &self,
        to: &EntityRef,
        targets: &mut std::collections::HashMap<String, String>,
        from: &EntityRef,
    ) -> Option<String> {
        let key = brain_core::path_key(&to.id);
        if let Some(first) = targets.get(&key) {
            return Some(format!(
                "{first} of this batch moves to {to} first: rename one of them, or choose \
                 another --to folder"
            ));
        }
        targets.insert(key, from.to_string());
        if let Err(BrainError::Invalid { reason, .. }) = self.entity_from(to, b"#\n") {
            return Some(reason);
        }
        let taken = self.store.get(to).is_ok()
            || self
                .entity_from(to, b"#\n")
                .is_ok_and(|e| std::fs::symlink_metadata(self.root.join(&e.path)).is_ok());
        taken.then(|| {
            format!(
                "{to} is taken (a note or a file is there): rename one of them, or choose \
                 another --to folder"
            )
        })
    }
}
