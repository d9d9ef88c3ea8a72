//! Issue 4's soak: thousands of randomized operations interleaving file edits, renames, deletes
//! and entity writes against a running `brain serve`, with a SIGKILL of the daemon and a restart
//! in the middle, checked against a model at the end:
//! - every file equals its entity, and every entity has its file;
//! - every version either side wrote is in the final state (a note, or a conflict copy, which
//!   is a note too) unless a later write on the same side replaced it after seeing it.
//!
//! The model. Each version carries a unique token. A writer "sees" what it replaces: the file
//! side takes the file away atomically (rename) and reads it before writing the new one with an
//! exclusive create; the entity side writes with a compare-and-set on the hash it read. So a
//! token leaves the must-survive set only when a write replaced it knowingly; everything else
//! (two sides writing before a sync, a write racing an export or an import) must be kept by
//! brains, as the final state or a conflict copy.
//!
//! Only the outcomes the model accounts for are accepted: a delete or a read that finds no
//! entity is `StoreError::NotFound` for that entity, a rename that finds no file is
//! `ErrorKind::NotFound`; any other error fails the run instead of reading as "nothing there".
//!
//! `BRAIN_SOAK_OPS` (default 2000) and `BRAIN_SOAK_SEED` change the run. The seed is fixed
//! unless `BRAIN_SOAK_SEED` is set (a number, or `random` for one from the clock), so CI and a
//! laptop replay the same operations; it is printed first either way (the test harness shows
//! it with any failure).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::util;

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use brain_core::time::now_ms;
use brain_jobs::{EventBus, Queue, Registry};
use brain_store::{Backend, StoreError};
use brain_sync::SyncEngine;
use serde_json::json;
use util::TestVault;
use util::daemon::DEBOUNCE_MS;

const SLOTS: usize = 30;

/// The seed when `BRAIN_SOAK_SEED` is unset: a fixed one, so a failure in CI names operations
/// anyone can replay, rather than a clock reading that is gone with the run.
const DEFAULT_SEED: u64 = 0x5eed_0000_0000_2026;

/// The seed for this run: `BRAIN_SOAK_SEED` if set (a number, or `random`), else
/// [`DEFAULT_SEED`]. A value that is not a seed fails the run instead of silently becoming
/// another one.
fn seed_from_env() -> u64 {
    match std::env::var("BRAIN_SOAK_SEED") {
        Err(std::env::VarError::NotPresent) => DEFAULT_SEED,
        Ok(s) if s == "random" => now_ms() as u64 | 1,
        Ok(s) => match s.parse::<u64>() {
            // xorshift never leaves 0.
            Ok(0) => panic!("BRAIN_SOAK_SEED must not be 0"),
            Ok(seed) => seed,
            Err(e) => panic!("BRAIN_SOAK_SEED={s:?} is not a u64 or `random`: {e}"),
        },
        Err(e) => panic!("BRAIN_SOAK_SEED: {e}"),
    }
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn content(token: &str, filler: usize) -> String {
    format!(
        "# Soak\n\ntoken {token}\n{}\n",
        "lorem ipsum ".repeat(filler)
    )
}

fn token_of(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("token "))
        .map(str::to_string)
}

/// The test's writer on both sides.
struct Soak {
    v: TestVault,
    store: Arc<dyn Backend>,
    queue: Queue,
    rng: Rng,
    /// Each slot's current file path, if the test believes it has one.
    slots: Vec<Option<String>>,
    must_survive: BTreeSet<String>,
    written: usize,
    /// Entity deletes the store refused as not found (printed, so a run shows the path ran).
    deletes_not_found: usize,
    /// Files of an occupied slot found gone when the test went to replace, rename or delete
    /// them, each with its known cause (printed; one with no known cause fails the run).
    files_gone: Vec<String>,
    /// What the test did, for the failure message.
    log: Vec<String>,
}

impl Soak {
    fn new_token(&mut self) -> String {
        self.written += 1;
        format!("v{}x{}", self.written, self.rng.next() % 1_000_000)
    }

    /// Takes `rel` away atomically and returns what it held (None if there was no file).
    fn take(&self, rel: &str) -> Option<String> {
        let taken = self.v.path(".soak-take");
        match std::fs::rename(self.v.path(rel), &taken) {
            Ok(()) => {
                let text = std::fs::read_to_string(&taken).unwrap();
                std::fs::remove_file(&taken).unwrap();
                Some(text)
            }
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => panic!("take {rel}: {e}"),
        }
    }

    /// An occupied slot's file at `rel` was not there when the test went to `op` it. The one
    /// cause the model knows: its entity was deleted (by the test's entity delete, or by an
    /// import of a delete) and the daemon moved the file to the trash. Any other fails the run
    /// rather than reading as "nothing there".
    fn file_gone(&mut self, rel: &str, op: &str) {
        let r = Self::entity_ref(rel);
        let cause = match self.store.get_any(&r) {
            Ok(e) if e.deleted_ms.is_some() => "its entity is deleted; the daemon trashed it",
            found => {
                let tail = &self.log[self.log.len().saturating_sub(40)..];
                panic!(
                    "{op} {rel}: the file of an occupied slot is gone with no known cause \
                     (entity: {found:?}); last ops: {tail:#?}"
                );
            }
        };
        self.log
            .push(format!("{} {op} {rel}: file gone ({cause})", now_ms()));
        self.files_gone.push(format!("{op} {rel}: {cause}"));
    }

    /// Replaces `rel` with `text`, having seen what it replaces: take, then create exclusively;
    /// if an export put a file back in between, take that too. `existing`: the slot had this
    /// file, so finding none needs a known cause.
    fn replace_file(&mut self, rel: &str, text: &str, existing: bool) {
        let path = self.v.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut expect_file = existing;
        loop {
            match self.take(rel) {
                Some(old) => {
                    if let Some(t) = token_of(&old) {
                        self.must_survive.remove(&t);
                    }
                }
                None if expect_file => self.file_gone(rel, "write"),
                None => {}
            }
            let staged = self.v.path(".soak-stage");
            std::fs::write(&staged, text).unwrap();
            let linked = std::fs::hard_link(&staged, &path);
            std::fs::remove_file(&staged).unwrap();
            match linked {
                Ok(()) => return,
                // Put back (an export) since the take: it was there, so it is expected next time.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    expect_file = true;
                    continue;
                }
                Err(e) => panic!("write {rel}: {e}"),
            }
        }
    }

    fn file_edit(&mut self, slot: usize) {
        self.file_write(slot, true);
    }

    fn file_write(&mut self, slot: usize, existing: bool) {
        let rel = self.slots[slot].clone().unwrap();
        let token = self.new_token();
        let filler = self.rng.below(40);
        self.replace_file(&rel, &content(&token, filler), existing);
        self.log
            .push(format!("{} file write {rel} {token}", now_ms()));
        self.must_survive.insert(token);
    }

    fn file_create(&mut self, slot: usize) {
        let rel = format!("d{}/s{slot:02}-{}.md", self.rng.below(3), self.written);
        self.slots[slot] = Some(rel);
        self.file_write(slot, false);
    }

    fn file_rename(&mut self, slot: usize) {
        let from = self.slots[slot].clone().unwrap();
        let to = format!("d{}/s{slot:02}-r{}.md", self.rng.below(3), self.written);
        self.written += 1;
        std::fs::create_dir_all(self.v.path(&to).parent().unwrap()).unwrap();
        let taken = self.v.path(".soak-take");
        match std::fs::rename(self.v.path(&from), &taken) {
            Ok(()) => {
                std::fs::hard_link(&taken, self.v.path(&to)).unwrap();
                std::fs::remove_file(&taken).unwrap();
                self.log
                    .push(format!("{} file rename {from} -> {to}", now_ms()));
                self.slots[slot] = Some(to);
            }
            // Nothing to rename: only with a known cause.
            Err(e) if e.kind() == ErrorKind::NotFound => self.file_gone(&from, "rename"),
            Err(e) => panic!("rename {from}: {e}"),
        }
    }

    fn file_delete(&mut self, slot: usize) {
        let rel = self.slots[slot].take().unwrap();
        self.log.push(format!("{} file delete {rel}", now_ms()));
        match self.take(&rel) {
            Some(old) => {
                if let Some(t) = token_of(&old) {
                    self.must_survive.remove(&t);
                }
            }
            None => self.file_gone(&rel, "delete"),
        }
    }

    fn entity_ref(rel: &str) -> brain_core::EntityRef {
        format!("note/{}", rel.trim_end_matches(".md"))
            .parse()
            .unwrap()
    }

    /// The live entity at `r`, or None if the store says exactly that: not found, for `r`.
    fn live(&self, r: &brain_core::EntityRef) -> Option<brain_core::Entity> {
        match self.store.get(r) {
            Ok(e) => Some(e),
            Err(StoreError::NotFound(missing)) if &missing == r => None,
            Err(e) => panic!("get {r}: {e}"),
        }
    }

    fn export_job(&self, r: &brain_core::EntityRef) -> brain_store::jobs::NewJob {
        // The same job `brain put` queues: coalesced, due after the debounce.
        let req = brain_sync::jobs::export_request(r, Some(now_ms() + DEBOUNCE_MS as i64));
        self.queue.prepare(req).unwrap()
    }

    fn entity_put(&mut self, slot: usize) {
        let rel = self.slots[slot].clone().unwrap();
        let r = Self::entity_ref(&rel);
        let token = self.new_token();
        let filler = self.rng.below(40);
        let text = content(&token, filler);
        let config = brain_core::Config::default();
        let engine = SyncEngine::new(self.v.root(), &config, self.store.as_ref()).unwrap();
        for _ in 0..20 {
            let seen = self.live(&r);
            let expected = seen
                .as_ref()
                .map_or(String::new(), |e| e.content_hash.clone());
            let now = now_ms();
            let entity = engine.builder().entity(&rel, &text, now, now).unwrap();
            let job = self.export_job(&r);
            match self.store.put_and_enqueue(
                &entity,
                Some(&expected),
                &job,
                now,
                &brain_store::ChangeWhy::by("cli"),
            ) {
                Ok(_) => {
                    self.log.push(format!(
                        "{} entity put {r} {token} (expected {expected:.8})",
                        now_ms()
                    ));
                    if let Some(t) = seen.as_ref().and_then(|e| token_of(&e.content())) {
                        self.must_survive.remove(&t);
                    }
                    self.must_survive.insert(token);
                    return;
                }
                Err(StoreError::Stale { .. }) => continue,
                Err(e) => panic!("put {r}: {e}"),
            }
        }
        panic!("put {r}: stale 20 times in a row");
    }

    fn entity_delete(&mut self, slot: usize) {
        let rel = self.slots[slot].clone().unwrap();
        let r = Self::entity_ref(&rel);
        let job = self.export_job(&r);
        let seen = self.live(&r);
        match self.store.soft_delete_and_enqueue(
            &r,
            &job,
            now_ms(),
            &brain_store::ChangeWhy::by("cli"),
        ) {
            Ok(_) => {}
            // No live entity (the daemon has not imported the file yet, or synced its delete or
            // rename first): nothing was deleted, so nothing was replaced. Only this error means
            // that; any other fails the run.
            Err(StoreError::NotFound(missing)) if missing == r => {
                self.log
                    .push(format!("{} entity delete {r}: not found", now_ms()));
                self.deletes_not_found += 1;
                return;
            }
            Err(e) => panic!("delete {r}: {e}"),
        }
        self.log.push(format!("{} entity delete {r}", now_ms()));
        // What was deleted is the row's content now, while it is still deleted. If the daemon
        // imported the file again in between, the row is live with that import's version, which
        // must survive; the delete then took what was seen before it.
        let e = self.store.get_any(&r).unwrap();
        let deleted = if e.deleted_ms.is_some() {
            Some(e.content())
        } else {
            seen.map(|s| s.content())
        };
        if let Some(t) = deleted.as_deref().and_then(token_of) {
            self.must_survive.remove(&t);
        }
        self.slots[slot] = None;
    }

    fn step(&mut self) {
        let slot = self.rng.below(SLOTS);
        let roll = self.rng.below(100);
        match (&self.slots[slot], roll) {
            (None, r) if r < 60 => self.file_create(slot),
            (None, _) => {}
            (Some(_), 0..40) => self.file_edit(slot),
            (Some(_), 40..50) => self.file_rename(slot),
            (Some(_), 50..55) => self.file_delete(slot),
            (Some(_), 55..95) => self.entity_put(slot),
            (Some(_), _) => self.entity_delete(slot),
        }
        // Mostly back to back; now and then a pause long enough for the daemon to act, so
        // syncs interleave with the writes.
        let pause = match self.rng.below(100) {
            0..80 => 0,
            80..97 => self.rng.below(5) as u64,
            _ => DEBOUNCE_MS + self.rng.below(200) as u64,
        };
        std::thread::sleep(Duration::from_millis(pause));
    }
}

/// Every `.md` file outside dot folders, with its text.
fn files(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if name.starts_with('.') {
            continue;
        }
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            files(root, &p, out);
        } else if name.ends_with(".md") {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.insert(rel, std::fs::read_to_string(&p).unwrap());
        }
    }
}

#[test]
fn soak_with_a_sigkill_converges_and_loses_no_version() {
    let ops: usize = std::env::var("BRAIN_SOAK_OPS").map_or(2000, |s| {
        s.parse()
            .unwrap_or_else(|e| panic!("BRAIN_SOAK_OPS={s:?}: {e}"))
    });
    let seed = seed_from_env();
    eprintln!("soak: {ops} operations, BRAIN_SOAK_SEED={seed}");

    let v = TestVault::new();
    let store = v.store();
    let mut registry = Registry::new();
    brain_sync::jobs::register(
        &mut registry,
        v.root(),
        &brain_core::Config::default(),
        store.clone(),
    );
    let queue = Queue::new(store.clone(), registry, EventBus::default());
    let mut soak = Soak {
        v,
        store,
        queue,
        rng: Rng(seed),
        slots: vec![None; SLOTS],
        must_survive: BTreeSet::new(),
        written: 0,
        deletes_not_found: 0,
        files_gone: Vec::new(),
        log: Vec::new(),
    };
    for slot in 0..SLOTS {
        soak.file_create(slot);
    }
    // A few deletes at once must not trip the mass-delete guard in a 30-note vault.
    let env = [("BRAIN_SYNC_MASS_DELETE_MIN", "100000")];
    let mut daemon = Some(soak.v.serve(&env));
    let kill_at = ops / 2;
    let restart_at = kill_at + ops / 10;
    for n in 0..ops {
        if n == kill_at {
            daemon.take().unwrap().kill();
        }
        if n == restart_at {
            daemon = Some(soak.v.serve(&env));
        }
        soak.step();
    }
    soak.v.settle();
    eprintln!(
        "soak: {} entity deletes found no entity (BRAIN_SOAK_SEED={seed})",
        soak.deletes_not_found
    );
    eprintln!(
        "soak: {} files of occupied slots found gone, each with a known cause: {:#?}",
        soak.files_gone.len(),
        soak.files_gone
    );
    let failed = soak
        .v
        .ok(&["--json", "jobs", "list", "--state", "failed"])
        .json();
    assert_eq!(failed, json!([]), "no job failed");

    // Every file equals its entity...
    let mut on_disk = BTreeMap::new();
    files(soak.v.root(), soak.v.root(), &mut on_disk);
    for (rel, text) in &on_disk {
        let r = Soak::entity_ref(rel);
        let e = soak
            .store
            .get(&r)
            .unwrap_or_else(|e| panic!("{rel} has no entity: {e}"));
        assert_eq!(&e.content(), text, "{rel}: file and entity differ");
    }
    // ...and every entity has its file.
    let live = soak.store.list(&Default::default()).unwrap();
    for row in &live {
        if !on_disk.contains_key(&row.path) {
            let mentions: Vec<_> = soak
                .store
                .list_jobs(&Default::default())
                .unwrap()
                .into_iter()
                .filter(|j| {
                    let input = j.input.to_string();
                    input.contains(&row.path)
                        || input.contains(&format!("\"{}\"", row.entity))
                        || j.job_type == "directory-sync"
                })
                .map(|j| {
                    format!(
                        "#{} {} {:?} started={:?} finished={:?} in={} out={:?}",
                        j.id, j.job_type, j.state, j.started_ms, j.finished_ms, j.input, j.result
                    )
                })
                .collect();
            let ops: Vec<_> = soak
                .log
                .iter()
                .filter(|l| l.contains(&row.path) || l.contains(&row.entity.to_string()))
                .collect();
            let targets: Vec<String> = ops
                .iter()
                .filter_map(|l| l.split(" -> ").nth(1))
                .map(|to| {
                    format!(
                        "{to}: file {:?} entity {}",
                        on_disk.get(to).and_then(|t| token_of(t)),
                        soak.v
                            .run(&[
                                "--json",
                                "get",
                                &format!("note/{}", to.trim_end_matches(".md"))
                            ])
                            .stdout
                    )
                })
                .collect();
            eprintln!("targets: {targets:#?}");
            eprintln!(
                "{}",
                soak.v.run(&["--json", "conflicts", "list", "--all"]).stdout
            );
            panic!(
                "{} has no file (seed {seed}); ops: {ops:#?}\nentity: {}\njobs:\n{}",
                row.entity,
                soak.v
                    .run(&["--json", "get", &row.entity.to_string()])
                    .stdout,
                mentions.join("\n")
            );
        }
    }
    // Every version not knowingly replaced is still here.
    let present: BTreeSet<String> = on_disk.values().filter_map(|t| token_of(t)).collect();
    let lost: Vec<_> = soak.must_survive.difference(&present).collect();
    assert!(
        lost.is_empty(),
        "versions lost (seed {seed}): {lost:?}\nconflicts: {}",
        soak.v.ok(&["conflicts", "list"]).stdout
    );
    // And the daemon left nothing for a sync to do.
    let report = soak.v.ok(&["--json", "sync"]).json();
    for key in [
        "imported", "updated", "renamed", "deleted", "exported", "trashed",
    ] {
        assert_eq!(report[key], 0, "{key} after the daemon settled: {report}");
    }
    drop(daemon);
}
