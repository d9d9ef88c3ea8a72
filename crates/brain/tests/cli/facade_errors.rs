//! Issue 15 item 2: `brain jobs`, `brain conflicts` and `brain sync pause|resume` go through the
//! `Brain` facade, and a person or a script sees what they saw when these commands read the
//! store themselves: the same words, exit code and `--json` kind.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::util;

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

/// Issue 15 (a reviewer's finding): a bad `BRAIN_STORE_BACKEND` is blamed on the variable, with
/// its value and what to do, on one line (in text and in `--json`), never on config.toml; an
/// empty one counts as unset; and `brain init` with a bad one makes nothing at all.
#[test]
fn a_bad_store_backend_variable_is_named_and_init_with_it_makes_nothing() {
    let v = TestVault::uninitialized();
    let out = v
        .cmd()
        .env("BRAIN_STORE_BACKEND", "mysql")
        .args(["--json", "init"])
        .output()
        .unwrap();
    let r = util::Run::from(out);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let error = r.json()["error"].as_str().unwrap().to_string();
    assert!(
        error.starts_with("the environment variable BRAIN_STORE_BACKEND=\"mysql\"")
            && error.contains("expected `sqlite` or `postgres`")
            && error.contains("unset it"),
        "{error}"
    );
    assert!(!error.contains('\n'), "one line: {error:?}");
    assert!(
        !v.path(".brain").exists(),
        "a refused init leaves no half-made vault"
    );

    // A real backend with no database named: said, and nothing made either.
    let out = v
        .cmd()
        .env("BRAIN_STORE_BACKEND", "postgres")
        .arg("init")
        .output()
        .unwrap();
    let r = util::Run::from(out);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("store.url is not set"), "{}", r.stderr);
    assert!(!v.path(".brain").exists(), "nothing made: {}", r.stderr);
    let out = v
        .cmd()
        .env("BRAIN_STORE_BACKEND", "")
        .arg("init")
        .output()
        .unwrap();
    assert!(out.status.success(), "empty is unset: {out:?}");
    let out = v
        .cmd()
        .env("BRAIN_STORE_BACKEND", "oracle")
        .arg("status")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("BRAIN_STORE_BACKEND=\"oracle\"") && stderr.contains("which is fine"),
        "{stderr}"
    );
    assert!(
        stderr.trim_end().lines().count() == 1,
        "one line, no stray newline: {stderr:?}"
    );
}
