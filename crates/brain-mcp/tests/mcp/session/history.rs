//! Issue 19: the `history` and `revert` tools, as an agent meets them.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_lists_versions_reads_one_and_reverts_to_it() {
    let (_dir, brain) = vault(2, Workers::Never);
    let mut c = Client::connect(brain).await;
    let note = json!({"type": "note", "id": "f0/n0"});
    let first = c.ok("get", note.clone()).await;
    let hash = first["content_hash"].as_str().expect("hash").to_string();
    let original = first["content"].as_str().expect("content").to_string();
    c.ok(
        "update",
        json!({"type": "note", "id": "f0/n0", "content": "# Rewritten\n", "expected_hash": hash}),
    )
    .await;

    let h = c
        .ok(
            "history",
            json!({"type": "note", "id": "f0/n0", "version": 1}),
        )
        .await;
    let versions = h["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2, "{h}");
    assert_eq!(versions[0]["source"], "file", "{h}");
    assert_eq!(versions[1]["current"], true, "{h}");
    assert_eq!(h["content"], json!(original), "{h}");

    let r = c
        .ok(
            "revert",
            json!({"type": "note", "id": "f0/n0", "version": 1, "message": "the rewrite was wrong"}),
        )
        .await;
    assert_eq!(r["outcome"], "updated", "{r}");
    let now = c.ok("get", note.clone()).await;
    assert_eq!(now["content"], json!(original));
    let h = c.ok("history", note).await;
    let last = h["versions"].as_array().expect("versions").last().cloned();
    assert_eq!(
        last.expect("a version")["message"],
        "revert to version 1: the rewrite was wrong"
    );

    let msg = c
        .error(
            "revert",
            json!({"type": "note", "id": "f0/n0", "version": 42}),
            "not_found",
        )
        .await;
    assert!(msg.contains("has no version 42"), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_edits_part_of_a_note_with_the_hash_it_read() {
    let (_dir, brain) = vault(2, Workers::Never);
    let mut c = Client::connect(brain).await;
    let note = json!({"type": "note", "id": "f0/n0"});
    let first = c.ok("get", note.clone()).await;
    let hash = first["content_hash"].as_str().expect("hash").to_string();
    let set = c
        .ok(
            "edit",
            json!({"type": "note", "id": "f0/n0", "op": "set_meta", "key": "status",
                   "value": "done", "expected_hash": hash}),
        )
        .await;
    assert_eq!(set["outcome"], "updated", "{set}");
    let now = c.ok("get", note.clone()).await;
    assert_eq!(now["metadata"]["status"], "done", "{now}");
    assert!(
        now["content"]
            .as_str()
            .expect("content")
            .ends_with("word0 common\n"),
        "the body is untouched: {now}"
    );
    // The hash read first is stale now: refused, nothing written.
    c.error(
        "edit",
        json!({"type": "note", "id": "f0/n0", "op": "append", "text": "x",
               "expected_hash": hash}),
        "stale",
    )
    .await;
    let msg = c
        .error(
            "edit",
            json!({"type": "note", "id": "f0/n0", "op": "replace_section",
                   "heading": "Nope", "text": "x"}),
            "bad_argument",
        )
        .await;
    assert!(msg.contains("the headings are 'Note 0'"), "{msg}");
    let msg = c
        .error(
            "edit",
            json!({"type": "note", "id": "f0/n0", "op": "set_meta", "key": "k"}),
            "bad_argument",
        )
        .await;
    assert!(msg.contains("needs `value`"), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_moves_a_note_with_its_history() {
    let (_dir, brain) = vault(2, Workers::Never);
    let mut c = Client::connect(brain).await;
    let moved = c
        .ok(
            "move",
            json!({"type": "note", "id": "f0/n0", "new_id": "archive/n0", "message": "done with it"}),
        )
        .await;
    assert_eq!(moved["path"], "archive/n0.md", "{moved}");
    assert!(
        moved["links"]
            .as_str()
            .unwrap_or_default()
            .contains("left as they are"),
        "{moved}"
    );
    c.error("get", json!({"type": "note", "id": "f0/n0"}), "not_found")
        .await;
    let h = c
        .ok("history", json!({"type": "note", "id": "archive/n0"}))
        .await;
    let versions = h["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2, "{h}");
    assert_eq!(versions[0]["path"], "f0/n0.md");
    assert_eq!(versions[1]["message"], "done with it");
    let msg = c
        .error(
            "move",
            json!({"type": "note", "id": "archive/n0", "new_id": "f1/n1"}),
            "exists",
        )
        .await;
    assert!(msg.contains("is taken, so nothing was moved"), "{msg}");
}

/// `create`, `update` and `delete` take a `message`, kept with the version each makes
/// (new-user L16).
#[tokio::test(flavor = "multi_thread")]
async fn whole_note_writes_say_why() {
    let (_dir, brain) = vault(1, Workers::Never);
    let mut c = Client::connect(brain).await;
    let note = json!({"type": "note", "id": "why"});
    c.ok(
        "create",
        json!({"type": "note", "id": "why", "content": "# Why\n", "message": "a new idea"}),
    )
    .await;
    c.ok(
        "update",
        json!({"type": "note", "id": "why", "content": "# Why\n\nmore\n", "message": "grown"}),
    )
    .await;
    c.ok(
        "delete",
        json!({"type": "note", "id": "why", "message": "not needed"}),
    )
    .await;
    let h = c.ok("history", note).await;
    let messages: Vec<&str> = h["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["message"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(messages, ["a new idea", "grown", "not needed"], "{h}");
}
