//! Issue 16.4: jobs on a timer are schedules in the store. The verification scan (moved here
//! from the watcher, with its test) and a `[[schedule]]` of config.toml fire under a real
//! daemon and are listed with their next and last run; a schedule that cannot work stops the
//! daemon before it serves, naming the schedule and the file.

use std::io::Write as _;

use brain_store::jobs::JobState;

use super::{LIMIT, TestVault, wait_for};

fn add_to_config(v: &TestVault, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(v.path(".brain/config.toml"))
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[test]
fn the_verification_scan_and_a_configured_schedule_fire_and_are_listed() {
    let v = TestVault::new();
    v.write("a.md", "# A\n");
    add_to_config(
        &v,
        "\n[[schedule]]\nname = \"import-pass\"\njob = \"directory-sync\"\n\
         input = { mode = \"import-only\" }\nevery = \"1s\"\n",
    );
    // Listed before any daemon registered it.
    let before = v.ok(&["--json", "schedules", "list"]).json();
    assert_eq!(
        before["not_registered"],
        serde_json::json!(["import-pass"]),
        "{before}"
    );

    let d = v.serve(&[("BRAIN_SERVE_VERIFY_INTERVAL_S", "1")]);
    let listed = wait_for(LIMIT, "both schedules to have fired", || {
        let doc = v.ok(&["--json", "schedules", "list"]).json();
        let all = doc["schedules"].as_array()?.clone();
        // The daily thinning of history is listed too, due a day after the start.
        let timed: Vec<_> = all
            .iter()
            .filter(|s| s["name"] != "history-prune")
            .collect();
        (all.len() == 3 && timed.len() == 2 && timed.iter().all(|s| s["last_job"].is_i64()))
            .then_some(doc)
    });
    let all = listed["schedules"].as_array().unwrap();
    let prune = all.iter().find(|s| s["name"] == "history-prune").unwrap();
    assert_eq!(prune["job_type"], "history-prune", "{prune}");
    assert_eq!(prune["timing"], "every 86400s", "{prune}");
    let verify = all.iter().find(|s| s["name"] == "verify-scan").unwrap();
    assert_eq!(
        (&verify["job_type"], &verify["timing"], &verify["source"]),
        (
            &serde_json::json!("directory-sync"),
            &serde_json::json!("every 1s"),
            &serde_json::json!("builtin")
        ),
        "{verify}"
    );
    assert_eq!(listed["not_registered"], serde_json::json!([]));
    // The verification timer queues a rescan: a whole-vault sync (what the watcher's timer did).
    let job = v
        .ok(&["--json", "jobs", "show", &verify["last_job"].to_string()])
        .json();
    assert_eq!(job["type"], "directory-sync", "{job}");
    assert_eq!(job["input"]["mode"], "full", "{job}");
    let mine = all.iter().find(|s| s["name"] == "import-pass").unwrap();
    assert_eq!(mine["scope"], "replica:local", "{mine}");

    let status = v.ok(&["status"]).stdout;
    assert!(
        status.contains("Schedules:")
            && status.contains("verify-scan: directory-sync every 1s (this vault); next ")
            && status.contains("import-pass: directory-sync every 1s"),
        "{status}"
    );
    assert_eq!(d.stop(), 0);
    let status = v.ok(&["status"]).stdout;
    assert!(
        status.contains("they fire while `brain serve` runs; none runs now"),
        "with no daemon, status says nothing fires them: {status}"
    );
    // Every job a schedule queued ran or waits: none failed.
    let syncs = v.jobs_of("directory-sync");
    assert!(
        syncs.iter().all(|j| j.state != JobState::Failed),
        "{syncs:#?}"
    );

    // Taken out of config.toml: gone at the next start.
    let config = std::fs::read_to_string(v.path(".brain/config.toml")).unwrap();
    let cut = config.find("\n[[schedule]]").unwrap();
    std::fs::write(v.path(".brain/config.toml"), &config[..cut]).unwrap();
    // Until then the list says it is no longer asked for, and what removes it.
    let listed = v.ok(&["--json", "schedules", "list"]).json();
    assert_eq!(
        listed["not_in_config"],
        serde_json::json!(["import-pass"]),
        "{listed}"
    );
    let text = v.ok(&["schedules", "list"]).stdout;
    assert!(
        text.contains(
            "No longer in config.toml: import-pass. Nothing fires it; the next `brain serve` \
             start removes it."
        ),
        "{text}"
    );
    let d = v.serve(&[]);
    let names: Vec<String> = v.ok(&["--json", "schedules", "list"]).json()["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["history-prune", "verify-scan"]);
    let listed = v.ok(&["--json", "schedules", "list"]).json();
    assert_eq!(listed["not_in_config"], serde_json::json!([]), "{listed}");
    assert_eq!(d.stop(), 0);
}

#[test]
fn a_schedule_that_cannot_work_stops_the_daemon_naming_it() {
    for (block, says) in [
        (
            "name = \"nightly\"\njob = \"directory-snyc\"\ncron = \"0 3 * * *\"\n",
            "schedule 'nightly'",
        ),
        (
            "name = \"often\"\njob = \"directory-sync\"\nevery = \"now and then\"\n",
            "schedule 'often': every = 'now and then' is not an interval",
        ),
        (
            "name = \"push\"\njob = \"git\"\ninput = { op = \"sync\" }\nevery = \"1h\"\n",
            "schedule 'push' would never work: it runs git jobs, but git is off",
        ),
        (
            "name = \"leap\"\njob = \"directory-sync\"\ncron = \"0 0 30 2 *\"\n",
            "no date ahead matches it",
        ),
        (
            "name = \"\"\njob = \"directory-sync\"\nevery = \"1h\"\n",
            "a schedule's name \"\" cannot be used",
        ),
        (
            "name = \"typo\"\njob = \"directory-sync\"\ninput = { mod = \"import-only\" }\n\
             every = \"1h\"\n",
            "unknown input key 'mod': this job type takes mode, allow_mass_delete",
        ),
        (
            "name = \"Git-Sync\"\njob = \"directory-sync\"\nevery = \"1h\"\n",
            "the schedule name 'Git-Sync' is kept for a built-in schedule (git-sync, verify-scan, history-prune)",
        ),
    ] {
        let v = TestVault::new();
        add_to_config(&v, &format!("\n[[schedule]]\n{block}"));
        // `schedules list` refuses what the daemon would, with the same words.
        let listed = v.run(&["schedules", "list"]);
        let r = v.run(&["serve"]);
        for r in [&listed, &r] {
            assert_eq!(r.code, 1, "{}", r.stderr);
            assert!(
                r.stderr
                    .contains("config.toml: a [[schedule]] cannot be used")
                    && r.stderr.contains(says),
                "{}",
                r.stderr
            );
            assert_eq!(r.stderr.matches(says).count(), 1, "said once: {}", r.stderr);
        }
        // With --json: one document, the list with the refusal in it, not the list and then
        // an error document.
        let listed = v.run(&["--json", "schedules", "list"]);
        assert_eq!(listed.code, 1, "{}", listed.stderr);
        let doc: serde_json::Value = serde_json::from_str(listed.stdout.trim())
            .unwrap_or_else(|e| panic!("one JSON document ({e}): {}", listed.stdout));
        assert!(doc["schedules"].is_array(), "{doc}");
        assert!(doc["error"].as_str().unwrap().contains(says), "{doc}");
        assert_eq!(doc["exit_code"], 1, "{doc}");
        // `brain status` says it too, where the user looks first.
        let status = v.ok(&["status"]);
        assert!(
            status.stdout.contains("Schedules: ") && status.stdout.contains(says),
            "{}",
            status.stdout
        );
        let status = v.ok(&["--json", "status"]).json();
        assert!(
            status["schedule_error"].as_str().unwrap().contains(says),
            "{status}"
        );
    }
}
