//! Issue 15 item 2: `brain jobs`, `brain conflicts` and `brain sync pause|resume` go through the
//! `Brain` facade, and a person or a script sees what they saw when these commands read the
//! store themselves: the same words, exit code and `--json` kind.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod util;

use util::TestVault;

/// Runs `args` with `--json`, expecting it to fail with `code`; returns the error document.
fn refused(v: &TestVault, args: &[&str], code: i32) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let r = v.run(&all);
    assert_eq!(r.code, code, "{args:?}: {}", r.stderr);
    let doc = r.json();
    assert_eq!(doc["exit_code"], code, "{doc}");
    assert_eq!(
        r.stderr.trim_end(),
        format!("error: {}", doc["error"].as_str().unwrap()),
        "{args:?}"
    );
    doc
}

#[test]
fn jobs_and_conflicts_errors_keep_their_words_exit_codes_and_kinds() {
    let v = TestVault::new();
    v.write("a.md", "# A\n");
    let job = v.sync()["job"].as_i64().unwrap().to_string();

    let doc = refused(&v, &["jobs", "show", "999"], 4);
    assert_eq!(doc["kind"], "not_found", "{doc}");
    assert_eq!(doc["error"], "no job #999: see `brain jobs list`");
    for args in [["jobs", "cancel", "999"], ["jobs", "retry", "999"]] {
        let doc = refused(&v, &args, 4);
        assert_eq!(doc["kind"], "not_found", "{doc}");
        assert_eq!(doc["error"], "no job #999: see `brain jobs list`");
    }

    let doc = refused(&v, &["jobs", "retry", &job], 1);
    assert_eq!(doc["kind"], "failed", "{doc}");
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .starts_with(&format!("job #{job}'s state is succeeded")),
        "{doc}"
    );

    for args in [
        ["conflicts", "show", "999"],
        ["conflicts", "resolve", "999"],
    ] {
        let doc = refused(&v, &args, 4);
        assert_eq!(doc["kind"], "not_found", "{doc}");
        assert_eq!(doc["error"], "no conflict #999: see `brain conflicts list`");
    }
}

#[test]
fn pause_and_resume_say_what_waits() {
    let v = TestVault::new();
    let paused = v.ok(&["--json", "sync", "pause"]).json();
    assert_eq!(
        paused,
        serde_json::json!({"paused": true, "queued_jobs": 0})
    );
    let put = v.run_stdin(&["put", "note/n"], b"# N\n");
    assert_eq!(put.code, 0, "{}", put.stderr);
    assert!(put.stdout.contains("sync is paused"), "{}", put.stdout);
    let text = v.ok(&["sync", "pause"]).stdout;
    assert!(text.contains("(1 job(s) waiting)"), "{text}");
    let resumed = v.ok(&["--json", "sync", "resume"]).json();
    assert_eq!(
        resumed,
        serde_json::json!({"paused": false, "queued_jobs": 1})
    );
    let status = v.ok(&["--json", "status"]).json();
    assert_eq!(status["paused"], serde_json::json!([]), "{status}");
}
