//! `brain batch` through the real binary (issue 20): the dry run, a batch that returns at once
//! and runs in a background worker, its status, rollback, refusals and exit codes; and the
//! search filters the batch query shares with `brain search`.

use std::time::Duration;

use super::util::TestVault;
use super::util::daemon::wait_for;

const GENEROUS: Duration = Duration::from_secs(120);

fn tagged_vault() -> TestVault {
    let v = TestVault::new();
    for i in 0..3 {
        v.write(
            &format!("projects/p{i}.md"),
            format!("---\ntags: [x]\n---\n# P{i}\n\nBody #inline\n"),
        );
    }
    v.write("other.md", "# Other\n\nBody\n");
    v.ok(&["sync"]);
    v
}

#[test]
fn a_batch_is_previewed_queued_watched_and_rolled_back_from_the_command_line() {
    let v = tagged_vault();
    let before = v.snapshot();

    let dry = v.ok(&[
        "batch",
        "set",
        "status=done",
        "--where",
        "tag:x",
        "--dry-run",
    ]);
    assert!(
        dry.stdout.starts_with(
            "Dry run: set status=done on 3 notes matching `tag:x`; 3 would change. Nothing was written."
        ),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("+status: done"), "{}", dry.stdout);
    assert_eq!(v.snapshot(), before, "a dry run writes nothing");
    let dry = v
        .ok(&[
            "--json",
            "batch",
            "tag",
            "remove",
            "inline",
            "--where",
            "tag:x",
            "--dry-run",
        ])
        .json();
    assert_eq!(
        (dry["count"].as_u64(), dry["would_change"].as_u64()),
        (Some(3), Some(0))
    );
    assert!(
        dry["note"].as_str().unwrap().contains("inline #tags"),
        "{dry}"
    );

    let queued = v
        .ok(&["--json", "batch", "set", "status=done", "--where", "tag:x"])
        .json();
    let id = queued["batch_id"].as_i64().expect("a batch id");
    assert_eq!(queued["count"], 3);
    let status = v
        .ok(&["--json", "batch", "status", &id.to_string(), "--wait"])
        .json();
    assert_eq!(status["state"], "succeeded", "{status}");
    assert_eq!(status["changed"], 3, "{status}");
    // `--wait` ends once the files are written too: `batch status --wait && git commit`
    // commits what the batch did.
    for i in 0..3 {
        let file = String::from_utf8_lossy(&v.read(&format!("projects/p{i}.md"))).into_owned();
        assert!(
            file.contains("status: done"),
            "p{i} right after --wait:\n{file}"
        );
    }
    // The batch's job says it only marks the batch, and what the batch did.
    let shown = v.ok(&["jobs", "show", &id.to_string()]);
    assert!(
        shown.stdout.contains(&format!(
            "This job only marks batch {id}: the batch's state is succeeded (3 changed, 0 unchanged, 0 failed)"
        )),
        "{}",
        shown.stdout
    );
    let shown = v.ok(&["--json", "jobs", "show", &id.to_string()]).json();
    assert_eq!(shown["batch_outcome"]["state"], "succeeded", "{shown}");
    assert_eq!(shown["batch_outcome"]["changed"], 3, "{shown}");
    let found = v
        .ok(&["--json", "search", "meta.status:done path:projects"])
        .json();
    assert_eq!(found.as_array().unwrap().len(), 3, "{found}");

    let said = v.ok(&["batch", "rollback", &id.to_string()]);
    let rb: i64 = said
        .stdout
        .lines()
        .next()
        .and_then(|l| {
            l.strip_prefix(&format!(
                "Queued: rollback of batch {id} on 3 notes. Batch "
            ))
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", said.stdout));
    let done = v.run(&["batch", "status", &rb.to_string(), "--wait"]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert!(
        done.stdout.contains(&format!("Batch {rb} (succeeded)")),
        "{}",
        done.stdout
    );
    wait_for(GENEROUS, "the files as before", || {
        (v.snapshot() == before).then_some(())
    });
    let again = v.run(&["batch", "rollback", &id.to_string()]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(
        again.stderr.contains(&format!("by batch {rb}")),
        "{}",
        again.stderr
    );
    let cancel = v.ok(&["batch", "cancel", &id.to_string()]);
    assert!(
        cancel
            .stdout
            .contains("had already ended (succeeded): there was nothing to cancel"),
        "{}",
        cancel.stdout
    );
    let listed = v.ok(&["batch", "list"]);
    assert!(
        listed
            .stdout
            .contains(&format!("(rolled back by batch {rb})")),
        "{}",
        listed.stdout
    );
}

#[test]
fn a_batch_selecting_nothing_or_no_batch_at_all_says_so() {
    let v = tagged_vault();
    let none = v.ok(&["batch", "rm", "--where", "tag:nothing"]);
    assert!(
        none.stdout
            .starts_with("No note matches `tag:nothing`: nothing was queued"),
        "{}",
        none.stdout
    );
    // `path:` counts letter case: a folder typed in another case is named as the vault
    // spells it, by the batch, its dry run and a search.
    let cased = v.ok(&["batch", "rm", "--where", "path:Projects"]);
    assert!(
        cased.stdout.contains(
            "`path:Projects` names nothing in the vault, which spells it `path:projects`"
        ),
        "{}",
        cased.stdout
    );
    let cased = v.ok(&["batch", "rm", "--where", "path:PROJECTS", "--dry-run"]);
    assert!(
        cased.stdout.contains("spells it `path:projects`"),
        "{}",
        cased.stdout
    );
    let cased = v.ok(&["search", "path:Projects"]);
    assert!(
        cased
            .stdout
            .starts_with("No matches.\nHint: `path:Projects` names nothing in the vault"),
        "{}",
        cased.stdout
    );
    // Before the first sync, the reason is that nothing is imported yet.
    let fresh = TestVault::new();
    fresh.write("a.md", "# A\n");
    let unsynced = fresh.ok(&["batch", "set", "a=b", "--where", "type:note"]);
    assert!(
        unsynced
            .stdout
            .contains("no note is imported into the store yet: run `brain sync`"),
        "{}",
        unsynced.stdout
    );
    let none = v
        .ok(&["--json", "batch", "rm", "--where", "tag:nothing"])
        .json();
    assert!(none["batch_id"].is_null(), "{none}");
    assert!(
        v.ok(&["--json", "batch", "list"])
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    let missing = v.run(&["batch", "status", "4242"]);
    assert_eq!(missing.code, 4, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("there is no batch 4242"),
        "{}",
        missing.stderr
    );
    let bad = v.run(&["batch", "set", "status", "--where", "tag:x"]);
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(bad.stderr.contains("has no '='"), "{}", bad.stderr);
    let bad = v.run(&["batch", "rm", "--where", "-tag:x"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("cannot be negated"), "{}", bad.stderr);
}

/// In a Logseq graph, a key that is no page property name is refused before anything is
/// queued, with a spelling that works, instead of failing note by note as the batch runs.
#[test]
fn a_logseq_key_that_is_no_property_name_is_refused_before_queueing() {
    let v = TestVault::new();
    v.write("logseq/config.edn", "{}\n");
    v.write("pages/plan.md", "tags:: work\n\n- first\n");
    v.sync();
    let refused = v.run(&["batch", "set", "due date=friday", "--where", "tag:work"]);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        refused
            .stderr
            .contains("cannot be a Logseq page property name")
            && refused.stderr.contains("'due-date'"),
        "{}",
        refused.stderr
    );
    assert!(
        v.ok(&["--json", "batch", "list"])
            .json()
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was queued"
    );
}

/// `batch rm` over most of the vault exits 5 and queues nothing, as a sync's mass delete does;
/// `--allow-mass-delete` runs it.
#[test]
fn a_batch_rm_of_most_of_the_vault_exits_5_unless_allowed() {
    let v = TestVault::new();
    for i in 0..12 {
        v.write(&format!("old/n{i}.md"), format!("# N{i}\n"));
    }
    v.sync();
    let refused = v.run(&["batch", "rm", "--where", "path:old"]);
    assert_eq!(refused.code, 5, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("--allow-mass-delete"),
        "{}",
        refused.stderr
    );
    let json = v.run(&["--json", "batch", "rm", "--where", "path:old"]);
    assert_eq!(json.json()["kind"], "mass_delete", "{}", json.stdout);
    let queued = v
        .ok(&[
            "--json",
            "batch",
            "rm",
            "--where",
            "path:old",
            "--allow-mass-delete",
        ])
        .json();
    let id = queued["batch_id"].as_i64().expect("queued").to_string();
    let done = v.ok(&["--json", "batch", "status", &id, "--wait"]).json();
    assert_eq!(done["changed"], 12, "{done}");
}

/// The process ids of `brain work` processes serving the vault at `root`, from /proc.
fn workers_of(root: &std::path::Path) -> Vec<String> {
    let wanted = root.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let e = e.ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            (args.contains(&wanted) && args.iter().any(|a| a == "work"))
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect()
}

/// A vault deleted while the background worker a batch started is running: the worker stops
/// at once instead of waiting ten minutes for a store that will never come back.
#[test]
fn a_background_worker_stops_when_its_vault_is_deleted() {
    // Enough notes that the worker is still at the batch when the vault goes.
    let v = TestVault::generated(2000, false);
    v.ok(&["sync"]);
    v.ok(&["batch", "set", "status=done", "--where", "type:note"]);
    let root = v.root().to_path_buf();
    wait_for(GENEROUS, "the background worker to start", || {
        (!workers_of(&root).is_empty()).then_some(())
    });
    drop(v);
    wait_for(GENEROUS, "the worker to stop", || {
        workers_of(&root).is_empty().then_some(())
    });
}
