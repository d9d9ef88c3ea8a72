//! Runtime state: documents a process publishes under a key (the daemon's watcher state) and
//! another reads back (`brain status`), last write wins.

use serde_json::json;

use super::{Factory, T0};

pub fn set_read_and_replace(make: Factory<'_>) {
    let store = make();
    assert_eq!(store.runtime_state("watcher").expect("read"), None);
    let first = json!({"state": "watching", "queue": 3, "last_error": null});
    store
        .set_runtime_state("watcher", &first, T0)
        .expect("publish");
    let read = store
        .runtime_state("watcher")
        .expect("read")
        .expect("published");
    assert_eq!((read.value, read.updated_ms), (first, T0));

    let second = json!("stopped");
    store
        .set_runtime_state("watcher", &second, T0 + 10)
        .expect("publish again");
    store
        .set_runtime_state("other", &json!([1, 2]), T0 + 5)
        .expect("publish another key");
    let read = store
        .runtime_state("watcher")
        .expect("read")
        .expect("published");
    assert_eq!(
        (read.value, read.updated_ms),
        (second, T0 + 10),
        "replaced, not appended"
    );
    assert_eq!(
        store.runtime_state("other").expect("read").map(|s| s.value),
        Some(json!([1, 2])),
        "keys are independent"
    );
}
