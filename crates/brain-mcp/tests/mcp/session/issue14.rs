//! The MCP tools as an agent meets them (issue 14), over the same in-process pipe as the rest
//! of `session.rs`, whose helpers they use.

use super::*;

/// Issue 14.7: an argument a tool does not list is refused by name (a tool error of kind
/// `bad_argument` naming the tool and the argument), never ignored; every schema says so.
#[tokio::test(flavor = "multi_thread")]
async fn issue14_unknown_arguments_are_refused_by_name() {
    let (_dir, brain) = vault(2, Workers::Never);
    let mut c = Client::connect(brain).await;
    let (resp, _) = c.request("tools/list", json!({})).await;
    let tools = resp["result"]["tools"].as_array().expect("tools").clone();
    assert_eq!(tools.len(), 19);
    for t in &tools {
        assert_eq!(
            t["inputSchema"]["additionalProperties"],
            json!(false),
            "{}: {t}",
            t["name"]
        );
    }
    let calls = [
        ("search", json!({"query": "common", "limt": 1})),
        ("list", json!({"offest": 5})),
        (
            "get",
            json!({"type": "note", "id": "f0/n0", "fields": ["x"]}),
        ),
        (
            "create",
            json!({"type": "note", "id": "x", "content": "x\n", "force": true}),
        ),
        (
            "update",
            json!({"type": "note", "id": "f0/n0", "content": "x\n", "expected": "h"}),
        ),
        (
            "delete",
            json!({"type": "note", "id": "f0/n0", "hard": true}),
        ),
        ("sync", json!({"wait": false, "mod": "full"})),
        ("git_sync", json!({"operation": "pull"})),
        ("status", json!({"verbose": true})),
        ("job_status", json!({"id": 1, "job": 1})),
        ("cancel_job", json!({"id": 1, "why": "x"})),
        (
            "history",
            json!({"type": "note", "id": "f0/n0", "all": true}),
        ),
        (
            "revert",
            json!({"type": "note", "id": "f0/n0", "version": 1, "force": true}),
        ),
        (
            "edit",
            json!({"type": "note", "id": "f0/n0", "op": "append", "text": "x", "where": "end"}),
        ),
        (
            "move",
            json!({"type": "note", "id": "f0/n0", "new_id": "x", "overwrite": true}),
        ),
        (
            "batch",
            json!({"op": "delete", "where": "f0", "zz_all": true}),
        ),
        ("batch_status", json!({"id": 1, "wait": true, "wait_s": 5})),
        ("batch_rollback", json!({"id": 1, "why": "x"})),
        ("batch_cancel", json!({"id": 1, "why": "x"})),
    ];
    for (tool, args) in calls {
        let unknown = args
            .as_object()
            .and_then(|o| o.keys().next_back().cloned())
            .unwrap_or_default();
        let msg = c.error(tool, args, "bad_argument").await;
        assert!(msg.contains(&format!("`{unknown}`")), "{tool}: {msg}");
        assert!(msg.contains(&format!("`{tool}` was not run")), "{msg}");
    }
    // Nothing was done by the refused calls: the note is still there, no note x.
    let l = c.ok("list", json!({})).await;
    let ids: Vec<&str> = l["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(ids, ["f0/n0", "f1/n1"], "{l}");
    // Still accepted: every listed argument, and null for an optional one.
    c.ok(
        "search",
        json!({"query": "common", "types": null, "tags": [], "limit": 5, "offset": 0}),
    )
    .await;
    c.ok("status", json!({})).await;
}

/// Issue 14.3: a limit of 0 is a mistake (it used to return one note), refused like any bad
/// argument by `list` and `search`.
#[tokio::test(flavor = "multi_thread")]
async fn issue14_a_limit_of_zero_is_refused() {
    let (_dir, brain) = vault(3, Workers::Never);
    let mut c = Client::connect(brain).await;
    let msg = c.error("list", json!({"limit": 0}), "bad_argument").await;
    assert!(msg.contains("limit of 0"), "{msg}");
    let msg = c
        .error(
            "search",
            json!({"query": "common", "limit": 0}),
            "bad_argument",
        )
        .await;
    assert!(msg.contains("limit of 0"), "{msg}");
    // 1 is the smallest page, and over the maximum is lowered, not refused.
    let l = c.ok("list", json!({"limit": 1})).await;
    assert_eq!(l["items"].as_array().map(Vec::len), Some(1), "{l}");
    assert_eq!(l["next_offset"], 1, "{l}");
    let l = c.ok("list", json!({"limit": 5000})).await;
    assert_eq!(l["items"].as_array().map(Vec::len), Some(3), "{l}");
}

/// Issue 14.7: search pages like list: `offset` and `next_offset` walk the whole ranking, each
/// hit once, and the last page says there is no next one.
#[tokio::test(flavor = "multi_thread")]
async fn issue14_search_pages_with_offset() {
    let (_dir, brain) = vault(25, Workers::Never);
    let mut c = Client::connect(brain).await;
    let all = c
        .ok("search", json!({"query": "common", "limit": 500}))
        .await;
    assert_eq!(all["next_offset"], Value::Null, "{all}");
    let ranked: Vec<Value> = all["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["id"].clone())
        .collect();
    assert_eq!(ranked.len(), 25);
    let mut paged = Vec::new();
    let mut offset = json!(0);
    let mut pages = 0;
    while !offset.is_null() {
        let page = c
            .ok(
                "search",
                json!({"query": "common", "limit": 10, "offset": offset}),
            )
            .await;
        paged.extend(
            page["hits"]
                .as_array()
                .expect("hits")
                .iter()
                .map(|h| h["id"].clone()),
        );
        offset = page["next_offset"].clone();
        pages += 1;
        assert!(pages <= 3, "more pages than 25 hits need: {page}");
    }
    assert_eq!(pages, 3);
    assert_eq!(paged, ranked, "the pages in order are the whole ranking");
    let past = c
        .ok("search", json!({"query": "common", "offset": 25}))
        .await;
    assert_eq!(past, json!({"hits": [], "next_offset": null}));
}

/// Issue 14.7: matched words are marked ⟦like this⟧, which the note's own Markdown cannot be
/// mistaken for; a ⟦ or ⟧ the note holds is doubled.
#[tokio::test(flavor = "multi_thread")]
async fn issue14_search_highlights_are_unambiguous() {
    let (_dir, brain) = vault(0, Workers::Never);
    let mut c = Client::connect(brain).await;
    c.ok(
        "create",
        json!({"type": "note", "id": "crab", "content": "The **bold** crab said ⟦hi⟧ twice.\n"}),
    )
    .await;
    let s = c.ok("search", json!({"query": "crab"})).await;
    assert_eq!(
        s["hits"][0]["snippet"], "The **bold** ⟦crab⟧ said ⟦⟦hi⟧⟧ twice",
        "{s}"
    );
}

/// Issue 14.6: `get` sends the text once, as `content` (with `content_hash`); no `body`.
#[tokio::test(flavor = "multi_thread")]
async fn issue14_get_sends_the_text_once() {
    let (_dir, brain) = vault(0, Workers::Never);
    let mut c = Client::connect(brain).await;
    let text = format!(
        "---\ntitle: Big\n---\n{}\n",
        "a distinctive line\n".repeat(200)
    );
    c.ok(
        "create",
        json!({"type": "note", "id": "big", "content": &text[..MAX_BODY.min(text.len())]}),
    )
    .await;
    let (resp, _) = c
        .request(
            "tools/call",
            json!({"name": "get", "arguments": {"type": "note", "id": "big"}}),
        )
        .await;
    let (_, doc, _) = tool_result(&resp);
    let mut keys: Vec<&str> = doc
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "content",
            "content_hash",
            "created",
            "deleted",
            "id",
            "metadata",
            "path",
            "tags",
            "title",
            "type",
            "updated"
        ]
    );
    let sent = resp["result"]["content"][0]["text"].as_str().expect("text");
    assert_eq!(
        sent.matches("a distinctive line").count(),
        doc["content"]
            .as_str()
            .expect("content")
            .matches("a distinctive line")
            .count(),
        "the text is in the answer once"
    );
}

/// Issue 14.3: `get` of a deleted note says it was deleted and how to bring it back (kind
/// `not_found`, as there is nothing to read), not that there is no such note.
#[tokio::test(flavor = "multi_thread")]
async fn issue14_get_of_a_deleted_note_says_it_is_restorable() {
    let (_dir, brain) = vault(1, Workers::Never);
    let mut c = Client::connect(brain).await;
    c.ok("get", json!({"type": "note", "id": "f0/n0"})).await;
    c.ok("delete", json!({"type": "note", "id": "f0/n0"})).await;
    let msg = c
        .error("get", json!({"type": "note", "id": "f0/n0"}), "not_found")
        .await;
    assert!(msg.contains("note/f0/n0 was deleted"), "{msg}");
    assert!(msg.contains("brain restore note/f0/n0"), "{msg}");
    let msg = c
        .error(
            "get",
            json!({"type": "note", "id": "f0/never"}),
            "not_found",
        )
        .await;
    assert!(msg.contains("there is no note note/f0/never"), "{msg}");
}
