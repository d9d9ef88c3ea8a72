//! The pull half of a git job: fetch, merge keeping both sides, import exactly what the
//! merge changed (remembering the last commit imported), and adopting a remote's history
//! into a vault that has none.

use super::*;

impl GitSync<'_> {
    /// Fetch, then (holding the vault lock) merge, settle conflicts, import what changed, and
    /// commit what the import wrote.
    pub(super) fn pull(
        &self,
        repo: &Repo,
        spec: &RemoteSpec,
        commits: bool,
        report: &mut GitReport,
        steps: &Steps,
    ) -> Result<(), GitSyncError> {
        steps.check()?;
        steps.say(Phase::Fetching, "Fetching from the remote");
        let fetched = repo
            .fetch(spec)
            .map_err(|source| GitSyncError::Network { source })?;
        let Some(theirs) = fetched else {
            return Ok(()); // an empty remote: nothing to pull
        };
        steps.check()?;
        let _lock = steps.lock()?;
        let before = repo.head()?;
        let before = match before {
            Some(before) => before,
            // No history here and no files but brains' .gitignore: take the remote's history.
            None if only_gitignore(repo)? => return self.adopt(repo, spec, report, steps),
            // No history but notes (a pull with auto-commit off): they are committed first, so
            // the merge below keeps both versions of a file both sides have.
            None => {
                self.commit(repo, report, steps)?;
                match repo.head()? {
                    Some(head) => head,
                    None => return self.adopt(repo, spec, report, steps),
                }
            }
        };
        if before == theirs {
            // Nothing to merge; an earlier pull's import may still be owed.
            return self.import_between(repo, &before, &before, &[], report, steps);
        }
        // Files written while we fetched (an export) would make git refuse the merge.
        let before = if commits {
            self.commit(repo, report, steps)?;
            repo.head()?.unwrap_or(before)
        } else {
            before
        };
        steps.say(Phase::Merging, "Merging the remote's changes");
        // Unrelated histories too: a remote the user pointed us at, whose first commit is not
        // ours, is merged like any other (both versions of a file both have are kept).
        self.merge_and_import(repo, &before, &spec.tracking_ref(), true, report, steps)?;
        if commits {
            self.commit(repo, report, steps)?;
        }
        Ok(())
    }

    /// Merges `rev`, keeping both sides of every conflict, then imports what the merge changed.
    pub(super) fn merge_and_import(
        &self,
        repo: &Repo,
        before: &str,
        rev: &str,
        unrelated: bool,
        report: &mut GitReport,
        steps: &Steps,
    ) -> Result<(), GitSyncError> {
        let host = hostname();
        let message = format!("{MERGE_MESSAGE_PREFIX}{rev} on {host}");
        self.set_aside_brainignored(repo, rev, report)?;
        let kept = match repo.merge(rev, &message, self.author(), unrelated)? {
            MergeOutcome::UpToDate => return Ok(()),
            MergeOutcome::Merged => Vec::new(),
            MergeOutcome::Conflicted(paths) => {
                tracing::warn!(
                    files = paths.len(),
                    "git merge conflicts: keeping both versions"
                );
                let stamp = format_compact(now_ms());
                let kept = match repo.resolve_conflicts(&stamp) {
                    Ok(kept) => kept,
                    Err(e) => {
                        // Back to the state before the merge: nothing is lost, the next try
                        // merges again (or aborts it first, if this abort fails too).
                        if let Err(abort) = repo.abort_merge() {
                            tracing::error!(error = %abort, "cannot abort the merge; the next git job does");
                        }
                        return Err(e.into());
                    }
                };
                let mut message = format!("{message}\n\nKept both versions of:");
                for k in &kept {
                    message.push_str(&format!("\n- {}", k.detail));
                }
                match repo.conclude_merge(&message, self.author()) {
                    Ok(Some(id)) => report.commits.push(id),
                    Ok(None) => {}
                    Err(e) => {
                        if let Err(abort) = repo.abort_merge() {
                            tracing::error!(error = %abort, "cannot abort the merge; the next git job does");
                        }
                        return Err(e.into());
                    }
                }
                kept
            }
        };
        report.pulled = true;
        let after = repo.head()?.ok_or_else(|| GitError::Unparsable {
            command: "git merge".into(),
            detail: "no HEAD after a merge".into(),
        })?;
        // A merge commit git made itself (no conflict, not a fast-forward) is ours too.
        // A fast-forward lands exactly on their commit, which may itself be a merge.
        let fast_forward = repo.resolve(rev)?.as_deref() == Some(after.as_str());
        if kept.is_empty() && !fast_forward && !report.commits.contains(&after) {
            report.commits.push(after.clone());
        }
        // The copies this merge wrote get their own record below, with what was kept where.
        let own: Vec<String> = kept.iter().filter_map(|k| k.copy_path.clone()).collect();
        self.import_between(repo, before, &after, &own, report, steps)?;
        let now = now_ms();
        let ops: Vec<SyncOp> = kept
            .iter()
            .map(|k| {
                SyncOp::RecordConflict(NewConflict {
                    kind: ConflictKind::GitMerge,
                    path: k.path.clone(),
                    entity: self.mapper().ok().and_then(|m| m.to_ref(&k.path).ok()),
                    store_content: k.ours.clone(),
                    file_content: k.theirs.clone(),
                    copy_path: k.copy_path.clone(),
                    detail: k.detail.clone(),
                    now_ms: now,
                })
            })
            .collect();
        if !ops.is_empty() {
            self.store.apply(&ops)?;
        }
        report.kept_both.extend(kept.into_iter().map(|k| KeptFile {
            path: k.path,
            copy_path: k.copy_path,
            detail: k.detail,
        }));
        Ok(())
    }

    /// Moves out of the merge's way this device's uncommitted versions of files a `.brainignore`
    /// excludes that the remote changed (see [`Repo::set_aside_brainignored`]), so such a file
    /// never stops git sync for the whole vault. Each copy is recorded as a conflict at once,
    /// before the merge (a merge that then fails still leaves `brain conflicts list` saying
    /// where the edit is), with no note: the file is not the brain's.
    fn set_aside_brainignored(
        &self,
        repo: &Repo,
        rev: &str,
        report: &mut GitReport,
    ) -> Result<(), GitSyncError> {
        let kept = repo.set_aside_brainignored(rev, &format_compact(now_ms()))?;
        if kept.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let ops: Vec<SyncOp> = kept
            .iter()
            .map(|k| {
                SyncOp::RecordConflict(NewConflict {
                    kind: ConflictKind::GitMerge,
                    path: k.path.clone(),
                    entity: None,
                    store_content: k.ours.clone(),
                    file_content: k.theirs.clone(),
                    copy_path: k.copy_path.clone(),
                    detail: k.detail.clone(),
                    now_ms: now,
                })
            })
            .collect();
        self.store.apply(&ops)?;
        report.kept_both.extend(kept.into_iter().map(|k| KeptFile {
            path: k.path,
            copy_path: k.copy_path,
            detail: k.detail,
        }));
        Ok(())
    }

    pub(super) fn mapper(&self) -> Result<PathMapper, brain_core::PathError> {
        PathMapper::new(self.config.vault.entity_types.iter().cloned())
    }

    /// Imports the notes that differ between two commits (both names of a move), and nothing
    /// else: no export is queued, and the caller's lock keeps exports out meanwhile. Conflict
    /// copies the commits added, other than `own_copies` (the ones this job's merge wrote and
    /// records itself), are recorded as conflicts.
    pub(super) fn import_between(
        &self,
        repo: &Repo,
        old: &str,
        new: &str,
        own_copies: &[String],
        report: &mut GitReport,
        steps: &Steps,
    ) -> Result<(), GitSyncError> {
        // From the last commit whose changes reached the store, if known: a pull whose import
        // failed or was cancelled after its merge is imported by the next job, which finds
        // nothing left to merge.
        let from = self
            .imported_upto()
            .filter(|x| repo.resolve(x).ok().flatten().is_some())
            .unwrap_or_else(|| old.to_owned());
        if from == new {
            return Ok(());
        }
        let changed = repo.changed_between(&from, new)?;
        report.changed_paths += changed.len() as u64;
        let mapper = self
            .mapper()
            .map_err(brain_api::directory::SyncError::from)?;
        let pulled_copies: Vec<String> = changed
            .iter()
            .filter(|c| c.kind == ChangeKind::Added)
            .filter(|c| !own_copies.contains(&c.path))
            .filter(|c| brain_core::path::conflict_copy_source(&c.path).is_some())
            .map(|c| c.path.clone())
            .collect();
        let mut paths = Vec::new();
        for c in changed {
            if let ChangeKind::Renamed { from } = c.kind {
                paths.push(from);
            }
            paths.push(c.path);
        }
        paths.retain(|p| p.ends_with(".md") && mapper.to_ref(p).is_ok());
        if paths.is_empty() {
            return self.mark_imported(new);
        }
        steps.say(
            Phase::Importing,
            &format!("Importing {} pulled file(s)", paths.len()),
        );
        // A pull that deletes many notes is someone's commit, not a vanished disk: the mass
        // delete guard would leave the store disagreeing with the files for good. Deletes are
        // tombstones either way, restorable with `brain restore`.
        let opts = SyncOptions {
            mode: SyncMode::Full,
            allow_mass_delete: true,
            only_paths: Some(paths),
        };
        let sync = self.sync.run(&opts, steps.progress, steps.cancel)?;
        report.imported += imported_count(&sync);
        self.record_pulled_copies(&mapper, pulled_copies)?;
        self.mark_imported(new)
    }

    /// Records the conflict copies a pull brought (another device's merge kept both versions
    /// of a note) that no conflict here names, so `brain conflicts list` on this device lists
    /// every copy on disk too, as a full directory sync would.
    fn record_pulled_copies(
        &self,
        mapper: &PathMapper,
        copies: Vec<String>,
    ) -> Result<(), GitSyncError> {
        if copies.is_empty() {
            return Ok(());
        }
        let named: std::collections::HashSet<String> = self
            .store
            .conflicts(true)?
            .into_iter()
            .filter_map(|c| c.copy_path)
            .collect();
        let now = now_ms();
        let ops: Vec<SyncOp> = copies
            .into_iter()
            .filter(|copy| !named.contains(copy))
            .filter_map(|copy| {
                let note = brain_core::path::conflict_copy_source(&copy)?;
                let text = std::fs::read(self.root.join(&copy))
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok());
                Some(SyncOp::RecordConflict(NewConflict {
                    kind: ConflictKind::GitMerge,
                    entity: mapper.to_ref(&note).ok(),
                    store_content: None,
                    file_content: text,
                    detail: format!(
                        "'{copy}' came with a pull: another device's merge kept both versions of \
                         '{note}'; compare the two, keep what you want, delete the other file, \
                         then run `brain conflicts resolve` with this conflict's id"
                    ),
                    path: note,
                    copy_path: Some(copy),
                    now_ms: now,
                }))
            })
            .collect();
        if !ops.is_empty() {
            self.store.apply(&ops)?;
        }
        Ok(())
    }

    /// The last commit whose changes the store has (runtime state [`IMPORTED_KEY`]).
    pub(super) fn imported_upto(&self) -> Option<String> {
        let state = self.store.runtime_state(IMPORTED_KEY).ok()??;
        state.value.get("commit")?.as_str().map(str::to_owned)
    }

    pub(super) fn mark_imported(&self, commit: &str) -> Result<(), GitSyncError> {
        let value = serde_json::json!({ "commit": commit });
        self.store
            .set_runtime_state(IMPORTED_KEY, &value, now_ms())
            .map_err(GitSyncError::from)
    }

    /// Takes the remote's history as this vault's when the vault has none yet (its only file
    /// is the `.gitignore` brains wrote), then imports every file.
    pub(super) fn adopt(
        &self,
        repo: &Repo,
        spec: &RemoteSpec,
        report: &mut GitReport,
        steps: &Steps,
    ) -> Result<(), GitSyncError> {
        steps.say(Phase::Merging, "Checking out the remote's notes");
        let ours = std::fs::read(self.root.join(".gitignore")).unwrap_or_default();
        let tracking = spec.tracking_ref();
        // Files first, `HEAD` last: a crash in between leaves no history pointing at files that
        // are not there (which the next commit would take for deletions). `read-tree -u` refuses
        // to overwrite a file that is in the way, so nothing local is lost. Our `.gitignore`
        // steps aside for the remote's; its lines are put back below.
        let gitignore = self.root.join(".gitignore");
        let io = |source| GitError::Path {
            path: gitignore.clone(),
            source,
        };
        match std::fs::remove_file(&gitignore) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e).into()),
        }
        if let Err(e) = repo.run(&["read-tree", "-m", "-u", &tracking]) {
            if !gitignore.exists() {
                std::fs::write(&gitignore, &ours).map_err(io)?;
            }
            return Err(e.into());
        }
        repo.run(&["update-ref", "HEAD", &tracking])?;
        let upstream = format!("{}/{}", crate::remote::REMOTE_NAME, spec.branch);
        let _ = repo.run(&["branch", "-q", "--set-upstream-to", &upstream]);
        report.pulled = true;
        let head = repo.head()?.unwrap_or_default();
        self.import_between(repo, EMPTY_TREE, &head, &[], report, steps)?;
        // The remote's .gitignore replaced ours: put back the lines only ours had (brains' own,
        // and any the user added before connecting).
        keep_lines(&self.root.join(".gitignore"), &ours)?;
        self.ensure_ignores(repo)?;
        self.commit(repo, report, steps)
    }
}

/// Whether the work tree's only change is the `.gitignore` (a vault with no notes yet).
pub(super) fn only_gitignore(repo: &Repo) -> Result<bool, GitError> {
    Ok(repo
        .status()?
        .changed
        .iter()
        .all(|c| c.path == ".gitignore"))
}

/// Appends to the file at `path` the lines of `old` it lacks, in their order.
fn keep_lines(path: &Path, old: &[u8]) -> Result<(), GitError> {
    let io = |source| GitError::Path {
        path: path.to_path_buf(),
        source,
    };
    let mut now = std::fs::read(path).or_else(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Ok(Vec::new())
        } else {
            Err(io(e))
        }
    })?;
    let have: Vec<Vec<u8>> = now
        .split(|&b| b == b'\n')
        .map(|l| l.trim_ascii().to_vec())
        .collect();
    let missing: Vec<&[u8]> = old
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|l| !l.is_empty() && !have.iter().any(|h| h == l))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !now.is_empty() && !now.ends_with(b"\n") {
        now.push(b'\n');
    }
    for line in missing {
        now.extend_from_slice(line);
        now.push(b'\n');
    }
    std::fs::write(path, now).map_err(io)
}

fn imported_count(r: &SyncReport) -> u64 {
    r.imported + r.updated + r.renamed + r.deleted
}
