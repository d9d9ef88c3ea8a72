//! A session that ends writes its exports before it leaves, without waiting out the debounce:
//! no write of its can join the window any more, and the time it has left (about a second
//! before an MCP client kills it) goes to writing files.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::Duration;

use brain_api::PoolConfig;
use brain_api::{Brain, Expect, Workers};
use brain_core::Config;

#[test]
fn ending_a_session_writes_its_exports_without_waiting_out_the_debounce() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join(".brain")).unwrap();
    let mut config = Config::default();
    // A window far longer than the wait below: the export is written only if it is brought
    // forward.
    config.serve.sync_debounce_ms = 600_000;
    let store = brain_store_sqlite::testing::at(&root.join(".brain/brain.db")).unwrap();
    let plugins: Vec<Box<dyn brain_api::Plugin>> = vec![
        Box::new(brain_sync::SyncPlugin),
        Box::new(brain_git::GitPlugin),
    ];
    let plugged = brain_api::plug(root, &config, store.clone(), &plugins).unwrap();
    let brain = Brain::new(
        root,
        config,
        store,
        plugged,
        Workers::OnDemand(PoolConfig {
            workers: 1,
            ..PoolConfig::default()
        }),
    );
    for (id, text) in [("a", "# A\n"), ("b", "# B\n"), ("a", "# A\n\nagain\n")] {
        brain
            .write(
                &format!("note/{id}").parse().unwrap(),
                text.as_bytes(),
                Expect::Any,
            )
            .unwrap();
    }
    assert!(!root.join("a.md").exists(), "written before its debounce");

    brain.finish_writes(Duration::from_secs(30));

    assert_eq!(
        std::fs::read_to_string(root.join("a.md")).unwrap(),
        "# A\n\nagain\n"
    );
    assert_eq!(std::fs::read_to_string(root.join("b.md")).unwrap(), "# B\n");
    brain.shutdown();
}
