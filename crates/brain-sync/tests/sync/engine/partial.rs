//! Issue 16.5: partial work costs what it touches. The import of a few saved files and the
//! export of a few notes read the file bases of those paths only, never the whole vault's, so a
//! save costs the same in a vault of 2,000 notes as in one of 100,000.

use brain_core::{CancelToken, Config, Entity, NoProgress};
use brain_store_sqlite::testing;
use brain_sync::{SyncEngine, SyncMode, SyncOptions};

use super::{sync, write};

const NOTES: usize = 2_000;

fn run(root: &std::path::Path, store: &dyn brain_store::Backend, opts: &SyncOptions) {
    SyncEngine::new(root, &Config::default(), store)
        .unwrap()
        .run(opts, &NoProgress, &CancelToken::new())
        .unwrap();
}

#[test]
fn importing_or_exporting_a_few_notes_reads_only_their_bases() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("vault");
    for i in 0..NOTES {
        write(&root, &format!("n{i:04}.md"), format!("# {i}\n").as_bytes());
    }
    let (store, reads) = testing::counting_base_reads(&dir.path().join("brain.db")).unwrap();
    sync(&root, &*store, &Config::default());
    let full = reads.count();
    assert_eq!(full, 0, "the first sync has no bases to read");
    sync(&root, &*store, &Config::default());
    assert!(
        reads.count() - full >= NOTES as u64,
        "a full sync reads every base: the counter counts"
    );

    // Three saved files, imported as the watcher's import does.
    let before = reads.count();
    for i in [3, 500, 1999] {
        write(
            &root,
            &format!("n{i:04}.md"),
            format!("# {i} edited\n").as_bytes(),
        );
    }
    let saved: Vec<String> = ["n0003.md", "n0500.md", "n1999.md"]
        .iter()
        .map(|p| p.to_string())
        .collect();
    run(
        &root,
        &*store,
        &SyncOptions {
            only_paths: Some(saved),
            ..SyncOptions::default()
        },
    );
    assert!(
        store
            .get(&"note/n0500".parse().unwrap())
            .unwrap()
            .body
            .contains("edited"),
        "the save was imported"
    );
    let import_reads = reads.count() - before;
    assert!(
        import_reads <= 3 * 2,
        "an import of 3 files read {import_reads} bases of a {NOTES}-note vault"
    );

    // Two notes changed through an interface, exported as `brain put`'s export does.
    let before = reads.count();
    for i in [7, 8] {
        let r = format!("note/n{i:04}");
        let mut e: Entity = store.get(&r.parse().unwrap()).unwrap();
        e.body = format!("put {i}\n");
        e.content_hash = brain_core::content_hash(e.body.as_bytes());
        store.put(&e).unwrap();
    }
    run(
        &root,
        &*store,
        &SyncOptions {
            mode: SyncMode::Outbox,
            only_paths: Some(vec!["n0007.md".into(), "n0008.md".into()]),
            ..SyncOptions::default()
        },
    );
    let text = std::fs::read_to_string(root.join("n0008.md")).unwrap();
    assert!(text.contains("put 8"), "the note was exported: {text}");
    let export_reads = reads.count() - before;
    assert!(
        export_reads <= 2 * 2,
        "an export of 2 notes read {export_reads} bases of a {NOTES}-note vault"
    );
}
