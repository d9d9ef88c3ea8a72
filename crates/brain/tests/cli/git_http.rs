#![allow(clippy::unwrap_used)] // tests fail loudly by design
//! Git sync over HTTP: a loopback smart-HTTP remote (`git http-backend` behind a small test
//! server), a token-protected one, and one that cuts a push off mid-request.

use crate::util;

use crate::git_util;
use crate::http_remote;

use std::path::{Path, PathBuf};

use serde_json::json;

use git_util::{
    assert_failed_without_retry, assert_in_step, bare, brain, brain_env, brain_ok, edit, get, git,
    git_init, git_run, git_sync, note, read, rev, text_files, vault_with,
};
use http_remote::{HttpRemote, closed_port};
use util::TestVault;

/// A folder of bare repositories for an HTTP server.
fn http_root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("brain-http-")
        .tempdir()
        .unwrap();
    let repo = bare(dir.path(), "notes.git");
    (dir, repo)
}

#[test]
fn http_remote_syncs_two_vaults() {
    let (dir, repo) = http_root();
    let server = HttpRemote::start(dir.path());
    let url = server.url("notes.git");
    let a = vault_with(&[
        ("alpha.md", note("alpha").as_str()),
        ("bravo.md", note("bravo").as_str()),
    ]);
    git_init(&a, &url);
    let b = TestVault::uninitialized();
    git_init(&b, &url);
    assert_eq!(text_files(&a), text_files(&b));

    let alpha = edit(&a, "alpha.md", "line one of alpha", "alpha on A");
    let bravo = edit(&b, "bravo.md", "line one of bravo", "bravo on B");
    git_sync(&a);
    git_sync(&b);
    git_sync(&a);
    let head = rev(&repo, "main");
    assert_eq!(rev(a.root(), "HEAD"), head);
    assert_eq!(rev(b.root(), "HEAD"), head);
    assert_eq!(text_files(&a), text_files(&b));
    for v in [&a, &b] {
        assert_eq!(get(v, "note/alpha"), Some(alpha.clone()));
        assert_eq!(get(v, "note/bravo"), Some(bravo.clone()));
        assert_in_step(v);
    }
    let lines = server.request_lines();
    assert!(
        lines
            .iter()
            .any(|l| l == "POST /notes.git/git-receive-pack"),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l == "POST /notes.git/git-upload-pack"),
        "{lines:?}"
    );
    assert_eq!(server.authorizations(), Vec::<String>::new());
}

/// Whether `haystack` holds `needle`, as bytes.
fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every file under `dir`, recursively.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn token_protected_http_remote() {
    const TOKEN: &str = "secret123";
    // base64("x-access-token:secret123")
    const BASIC: &str = "Basic eC1hY2Nlc3MtdG9rZW46c2VjcmV0MTIz";
    let secrets = [TOKEN, BASIC.trim_start_matches("Basic ")];
    let with_token = [("BRAIN_GIT_TOKEN", TOKEN)];
    let (dir, repo) = http_root();
    let server = HttpRemote::start_with_auth(dir.path(), BASIC);
    let url = server.url("notes.git");
    let mut printed = Vec::new();

    let a = vault_with(&[("alpha.md", note("alpha").as_str())]);
    let r = brain_env(
        &a,
        &["--json", "git", "init", "--remote", &url],
        &with_token,
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    printed.push(r);
    assert_eq!(rev(&repo, "main"), rev(a.root(), "HEAD"));
    let pushed = rev(&repo, "main");

    // Without the token: refused, once, and not retried.
    let alpha = edit(&a, "alpha.md", "line one of alpha", "alpha, changed");
    let refused = server.unauthorized_count();
    let r = brain(&a, &["--json", "git", "sync"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("authentication failed"), "{}", r.stderr);
    assert!(server.unauthorized_count() > refused);
    assert_failed_without_retry(&a, &r);
    printed.push(r);
    assert_eq!(rev(&repo, "main"), pushed);
    // The change was committed here and waits for the push.
    assert_eq!(rev(a.root(), "HEAD^"), pushed);

    // With it: pushed.
    let r = brain_env(&a, &["--json", "git", "sync"], &with_token);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["pushed"], true);
    printed.push(r);
    assert_eq!(rev(&repo, "main"), rev(a.root(), "HEAD"));

    // A second device: refused without the token, cloned with it.
    let b = TestVault::uninitialized();
    let r = brain(&b, &["--json", "git", "init", "--remote", &url]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("authentication failed"), "{}", r.stderr);
    printed.push(r);
    let r = brain_env(
        &b,
        &["--json", "git", "init", "--remote", &url],
        &with_token,
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    printed.push(r);
    assert_eq!(read(&b, "alpha.md"), alpha);
    assert_eq!(get(&b, "note/alpha"), Some(alpha));

    // The token travelled as the header, and nowhere else.
    let auths = server.authorizations();
    assert!(!auths.is_empty());
    assert!(auths.iter().all(|h| h == BASIC), "{auths:?}");
    for v in [&a, &b] {
        for args in [
            &["--json", "jobs", "list"][..],
            &["--json", "git", "status"],
        ] {
            printed.push(brain_env(v, args, &with_token));
        }
    }
    let mut places: Vec<(String, Vec<u8>)> = printed
        .iter()
        .map(|r| {
            (
                "brain output".to_owned(),
                format!("{}{}", r.stdout, r.stderr).into_bytes(),
            )
        })
        .collect();
    places.push((
        "request lines".into(),
        server.request_lines().join("\n").into_bytes(),
    ));
    for v in [&a, &b] {
        for p in all_files(&v.path(".brain"))
            .into_iter()
            .chain([v.path(".git/config")])
        {
            places.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
    for (place, bytes) in &places {
        for secret in secrets {
            assert!(!holds(bytes, secret), "the token is in {place}");
        }
    }
}

#[test]
fn a_push_cut_off_keeps_the_commit_for_the_next_sync() {
    let (dir, repo) = http_root();
    let server = HttpRemote::start(dir.path());
    let url = server.url("notes.git");
    let a = vault_with(&[("alpha.md", note("alpha").as_str())]);
    git_init(&a, &url);
    let before = rev(&repo, "main");

    let alpha = edit(&a, "alpha.md", "line one of alpha", "alpha, changed");
    server.set_cut_pushes(true);
    let r = brain(&a, &["git", "sync"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("your commits are kept"), "{}", r.stderr);
    assert!(server.cut_count() >= 1);
    // Issue 13: with no daemon the retry is cancelled, so none is promised.
    assert!(r.stderr.contains("Nothing retries it now"), "{}", r.stderr);
    assert_no_retry_promised(&r.stderr);

    // The commit is here, not there.
    let local = rev(a.root(), "HEAD");
    assert_ne!(local, before);
    assert_eq!(rev(a.root(), "HEAD^"), before);
    assert_eq!(git(a.root(), &["show", "HEAD:alpha.md"]) + "\n", alpha);
    assert_eq!(git(a.root(), &["status", "--porcelain"]), "");
    assert_eq!(rev(&repo, "main"), before);
    assert_ne!(git_run(&repo, &["cat-file", "-e", &local]).code, 0);

    server.set_cut_pushes(false);
    // `brain git push` alone delivers the kept commit.
    let report = brain_ok(&a, &["--json", "git", "push"]).json();
    assert_eq!(report["pushed"], true, "{report}");
    assert_eq!(report["commits"], json!([]), "{report}");
    assert_eq!(rev(&repo, "main"), local);
    assert_eq!(git(&repo, &["show", "main:alpha.md"]) + "\n", alpha);
    assert_eq!(report["ahead"], 0);
    assert_eq!(report["behind"], 0);
}

/// With every log on (`-vv`, then `BRAIN_LOG=trace`, then trace with git's own curl tracing and
/// a push cut off, so the error path prints git's stderr too), the token travels only as the
/// request header: its bytes and its base64 form appear in no output of `brain`, not in
/// `.git/` and not in `.brain/` (config, database, logs).
#[test]
fn the_token_stays_out_of_debug_and_trace_logs() {
    const TOKEN: &str = "tok-5f3a9c1e-never-logged";
    // base64("x-access-token:tok-5f3a9c1e-never-logged"), as the Authorization header carries it
    const ENCODED: &str = "eC1hY2Nlc3MtdG9rZW46dG9rLTVmM2E5YzFlLW5ldmVyLWxvZ2dlZA==";
    let basic = format!("Basic {ENCODED}");
    let (dir, repo) = http_root();
    let server = HttpRemote::start_with_auth(dir.path(), &basic);
    let url = server.url("notes.git");
    let a = vault_with(&[("alpha.md", note("alpha").as_str())]);
    let token = ("BRAIN_GIT_TOKEN", TOKEN);
    let r = brain_env(&a, &["--json", "git", "init", "--remote", &url], &[token]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let mut printed = vec![("git init", r)];

    edit(&a, "alpha.md", "line one of alpha", "alpha, debug");
    let r = brain_env(&a, &["-vv", "--json", "git", "sync"], &[token]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["pushed"], true);
    printed.push(("-vv git sync", r));

    edit(&a, "alpha.md", "line two of alpha", "alpha, trace");
    let trace = ("BRAIN_LOG", "trace");
    let r = brain_env(&a, &["--json", "git", "sync"], &[token, trace]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["pushed"], true);
    printed.push(("BRAIN_LOG=trace git sync", r));
    assert_eq!(rev(&repo, "main"), rev(a.root(), "HEAD"));

    edit(&a, "alpha.md", "line three of alpha", "alpha, cut off");
    server.set_cut_pushes(true);
    let curl = ("GIT_CURL_VERBOSE", "1");
    let r = brain_env(&a, &["-vv", "git", "sync"], &[token, trace, curl]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("your commits are kept"), "{}", r.stderr);
    assert!(server.cut_count() >= 1);
    printed.push(("a push cut off, traced", r));

    // The logs were on and covered the authenticated fetches and pushes.
    for (what, r) in &printed[1..] {
        for expected in ["running git", "fetch", "push"] {
            assert!(
                r.stderr.contains(expected),
                "{what}: no {expected:?}\n{}",
                r.stderr
            );
        }
    }
    // And the token did reach the server, as the header and in this form only.
    let auths = server.authorizations();
    assert!(!auths.is_empty());
    assert!(auths.iter().all(|h| *h == basic), "{auths:?}");

    let mut places: Vec<(String, Vec<u8>)> = printed
        .iter()
        .map(|(what, r)| {
            (
                format!("the output of {what}"),
                format!("{}{}", r.stdout, r.stderr).into_bytes(),
            )
        })
        .collect();
    for p in all_files(&a.path(".brain"))
        .into_iter()
        .chain(all_files(&a.path(".git")))
    {
        places.push((p.display().to_string(), std::fs::read(&p).unwrap()));
    }
    assert!(places.iter().any(|(p, _)| p.ends_with(".git/config")));
    for (place, bytes) in &places {
        for secret in [TOKEN, ENCODED] {
            assert!(!holds(bytes, secret), "the token is in {place}");
        }
    }
}

/// Phrases that promise a retry: said only when one is scheduled, never by `brain git init`
/// (which is not retried) or by a command whose retry nobody runs.
const RETRY_PROMISES: [&str; 6] = [
    "later try",
    "it is retried",
    "retried with backoff",
    "retries it with backoff",
    "backoff",
    "tried again",
];

fn assert_no_retry_promised(text: &str) {
    for promise in RETRY_PROMISES {
        assert!(!text.contains(promise), "{promise:?} in {text}");
    }
}

/// What the vault's config.toml says of `[git] enabled`.
fn git_enabled(v: &TestVault) -> bool {
    let text = std::fs::read_to_string(v.path(".brain/config.toml")).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    doc.get("git")
        .and_then(|g| g.get("enabled"))
        .and_then(toml::Value::as_bool)
        .unwrap_or(false)
}

/// Issue 13: `brain git init` against a remote nobody answers at says what happened (the
/// remote could not be reached, nothing was pushed, `origin` removed, git sync not enabled,
/// what to do), never that it is retried; it leaves exactly that state; and the same command
/// run again once the remote is up at that URL connects the vault.
#[test]
fn issue13_git_init_against_an_unreachable_remote_says_nothing_was_pushed_and_leaves_nothing_set() {
    let (dir, repo) = http_root();
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}/notes.git");
    let a = vault_with(&[("alpha.md", note("alpha").as_str())]);

    let r = brain(&a, &["--json", "git", "init", "--remote", &url]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_failed_without_retry(&a, &r);
    let error = r.json()["error"].as_str().unwrap().to_owned();
    for said in [
        format!("could not reach the remote {url}"),
        "nothing was pushed".to_owned(),
        format!("unable to access '{url}/'"),
        "the `origin` remote it added was removed".to_owned(),
        "git sync is not enabled".to_owned(),
        "it made no commit".to_owned(),
        "this is not retried".to_owned(),
        format!("check the URL and the network, then run `brain git init --remote {url}` again"),
    ] {
        assert!(error.contains(&said), "{said:?} not in {error}");
    }
    assert_no_retry_promised(&error);
    assert_no_retry_promised(&r.stderr);
    assert!(r.stderr.contains(&error), "{}", r.stderr);
    // The state is what was said.
    assert_eq!(git(a.root(), &["remote"]), "");
    assert!(!git_enabled(&a));
    assert_eq!(
        git_run(&repo, &["rev-parse", "--verify", "-q", "main"]).code,
        1
    );

    // The remote comes up at that URL: the same command now connects the vault.
    let _server = HttpRemote::start_on(dir.path(), port);
    let report = git_init(&a, &url);
    assert_eq!(report["pushed"], true, "{report}");
    assert_eq!(rev(&repo, "main"), rev(a.root(), "HEAD"));
    assert_eq!(git(a.root(), &["remote", "get-url", "origin"]), url);
    assert!(git_enabled(&a));
}

/// Issue 13: a `brain git init` whose push is cut off says so in its own words (text output):
/// nothing was pushed, the commit it made is kept (named), `origin` removed, git sync not on,
/// not retried; and running it again once pushes get through pushes that very commit.
#[test]
fn issue13_git_init_whose_push_is_cut_off_keeps_its_commit_and_a_rerun_pushes_it() {
    let (dir, repo) = http_root();
    let server = HttpRemote::start(dir.path());
    let url = server.url("notes.git");
    let a = vault_with(&[("alpha.md", note("alpha").as_str())]);
    server.set_cut_pushes(true);

    let r = brain(&a, &["git", "init", "--remote", &url]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(server.cut_count() >= 1);
    assert!(!r.stdout.contains("Git sync is on"), "{}", r.stdout);
    let commit = rev(a.root(), "HEAD");
    for said in [
        format!("could not reach the remote {url}: nothing was pushed"),
        "the `origin` remote it added was removed".to_owned(),
        "git sync is not enabled".to_owned(),
        format!("the commit(s) it made here ({}) are kept", &commit[..10]),
        "this is not retried".to_owned(),
        format!("then run `brain git init --remote {url}` again"),
    ] {
        assert!(r.stderr.contains(&said), "{said:?} not in {}", r.stderr);
    }
    assert_no_retry_promised(&r.stderr);
    assert_eq!(git(a.root(), &["remote"]), "");
    assert!(!git_enabled(&a));
    assert_eq!(
        git_run(&repo, &["rev-parse", "--verify", "-q", "main"]).code,
        1
    );
    let all = git_util::jobs(&a);
    let init = all
        .iter()
        .find(|j| j["input"]["op"] == "init")
        .unwrap_or_else(|| panic!("no init job in {all:?}"));
    assert_eq!(init["state"], "failed", "{init}");
    assert_eq!(init["attempts"], 1, "{init}");

    server.set_cut_pushes(false);
    let report = git_init(&a, &url);
    assert_eq!(report["pushed"], true, "{report}");
    assert_eq!(
        rev(&repo, "main"),
        commit,
        "the kept commit is the one pushed"
    );
    assert_eq!(rev(a.root(), "HEAD"), commit);
    assert!(git_enabled(&a));
}
