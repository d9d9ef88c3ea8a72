//! Issue 20: the `batch`, `batch_status`, `batch_rollback` and `batch_cancel` tools, and the
//! filters `search` gained, as an agent meets them.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_previews_runs_watches_and_rolls_back_a_batch() {
    let (_dir, brain) = vault(300, on_demand());
    let mut c = Client::connect(brain).await;
    c.ok("sync", json!({})).await;
    let set = json!({"op": "set", "where": "tag:t0", "key": "status", "value": "done"});

    let mut dry = set.clone();
    dry["dry_run"] = json!(true);
    let preview = c.ok("batch", dry).await;
    assert_eq!(
        (&preview["count"], &preview["would_change"]),
        (&json!(100), &json!(100))
    );
    assert!(
        preview["notes"][0]["diff"]
            .as_str()
            .unwrap_or_default()
            .contains("+status: done")
    );
    let found = c.ok("search", json!({"query": "meta.status:done"})).await;
    assert_eq!(found["hits"], json!([]), "a dry run writes nothing");
    // One page at a time: 50 notes' changes by default, then from next_offset.
    assert_eq!(preview["notes"].as_array().map(Vec::len), Some(50));
    assert_eq!(preview["next_offset"], 50, "{}", preview["next_offset"]);
    let mut rest = set.clone();
    rest["dry_run"] = json!(true);
    rest["offset"] = json!(90);
    rest["limit"] = json!(20);
    let last = c.ok("batch", rest).await;
    assert_eq!(last["notes"].as_array().map(Vec::len), Some(10));
    assert!(last["next_offset"].is_null(), "{}", last["next_offset"]);
    assert_eq!(last["count"], 100, "the count is the whole selection's");
    // A long value: each diff is cut, the answer stays small.
    let long = json!({"op": "set", "where": "tag:t0", "key": "long",
                      "value": "L".repeat(200_000), "dry_run": true, "limit": 3});
    let cut = c.ok("batch", long).await;
    let diff = cut["notes"][0]["diff"].as_str().unwrap_or_default();
    assert!(
        diff.ends_with("(diff cut at 8000 characters; the run writes the whole change)"),
        "{}",
        &diff[diff.len() - 80..]
    );
    // Only the page's notes have their diff worked out.
    let mut far = set.clone();
    far["dry_run"] = json!(true);
    far["offset"] = json!(10);
    far["limit"] = json!(2);
    let far = c.ok("batch", far).await;
    assert!(far["notes"][0]["diff"].is_string(), "{far}");
    assert!(
        cut.to_string().len() < 40_000,
        "{} bytes",
        cut.to_string().len()
    );

    let queued = c.ok("batch", set).await;
    let id = queued["batch_id"].as_i64().expect("a batch id");
    assert_eq!(
        queued["message"],
        format!("Queued: set status=done on 100 notes. Batch {id}")
    );

    let (resp, notes) = c
        .request(
            "tools/call",
            json!({"name": "batch_status", "arguments": {"id": id, "wait": true},
                   "_meta": {"progressToken": "b"}}),
        )
        .await;
    let (is_error, report, _) = tool_result(&resp);
    assert!(!is_error, "{report}");
    assert_eq!(
        (&report["state"], &report["changed"]),
        (&json!("succeeded"), &json!(100))
    );
    let progress: Vec<f64> = notes
        .iter()
        .filter(|n| n["method"] == "notifications/progress")
        .filter_map(|n| n["params"]["progress"].as_f64())
        .collect();
    assert!(!progress.is_empty(), "{notes:?}");
    assert!(progress.windows(2).all(|w| w[1] > w[0]), "{progress:?}");
    assert_eq!(progress.last().copied(), Some(100.0), "100% when it ended");

    let found = c
        .ok(
            "search",
            json!({"query": "meta.status:done tag:t0", "limit": 500}),
        )
        .await;
    assert_eq!(found["hits"].as_array().map(Vec::len), Some(100), "{found}");

    let rb = c.ok("batch_rollback", json!({"id": id})).await;
    let rb = rb["batch_id"].as_i64().expect("a rollback id");
    let undone = c.ok("batch_status", json!({"id": rb, "wait": true})).await;
    assert_eq!(undone["changed"], 100, "{undone}");
    let again = c
        .error("batch_rollback", json!({"id": id}), "refused")
        .await;
    assert!(again.contains(&format!("by batch {rb}")), "{again}");
    // Cancelling a batch that ended says nothing was cancelled.
    let ended = c.ok("batch_cancel", json!({"id": id})).await;
    assert_eq!(ended["already_ended"], true, "{ended}");
    assert_eq!(ended["state"], "succeeded", "{ended}");
    assert!(
        ended["message"]
            .as_str()
            .is_some_and(|m| m.contains("nothing to cancel")),
        "{ended}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_batches_are_refused_and_an_empty_selection_queues_nothing() {
    let (_dir, brain) = vault(3, on_demand());
    let mut c = Client::connect(brain).await;
    c.ok("sync", json!({})).await;
    c.error(
        "batch",
        json!({"op": "paint", "where": "tag:t0"}),
        "bad_argument",
    )
    .await;
    c.error(
        "batch",
        json!({"op": "set", "where": "tag:t0", "key": "k"}),
        "bad_argument",
    )
    .await;
    c.error(
        "batch",
        json!({"op": "delete", "where": "tag:"}),
        "bad_argument",
    )
    .await;
    // An argument of another op is refused by name, not ignored.
    let foreign = c
        .error(
            "batch",
            json!({"op": "delete", "where": "tag:t0", "key": "status"}),
            "bad_argument",
        )
        .await;
    assert!(foreign.contains("does not take `key`"), "{foreign}");
    c.error(
        "batch",
        json!({"op": "set", "where": "tag:t0", "key": "k", "value": 1, "tag": "x"}),
        "bad_argument",
    )
    .await;
    // Paging is for a dry run; an empty folder is no folder.
    c.error(
        "batch",
        json!({"op": "delete", "where": "tag:t0", "limit": 5}),
        "bad_argument",
    )
    .await;
    c.error(
        "batch",
        json!({"op": "move", "where": "tag:t0", "to": " "}),
        "bad_argument",
    )
    .await;
    let none = c
        .ok(
            "batch",
            json!({"op": "delete", "where": "tag:nothing-has-it"}),
        )
        .await;
    assert!(none["batch_id"].is_null(), "{none}");
    c.error("batch_status", json!({"id": 4242}), "not_found")
        .await;
    c.error("batch_cancel", json!({"id": 4242}), "not_found")
        .await;
}
