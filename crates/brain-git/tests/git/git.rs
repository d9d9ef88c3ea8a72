//! The git runner against the real `git` on this machine.

use std::path::Path;
use std::time::{Duration, Instant};

use brain_git::{Git, GitError, GitVersion, RunOptions, Secret};

const HEADER: &str = "Authorization: Bearer tok-0123456789abcdef";

fn git() -> Git {
    Git::locate().expect("git is installed")
}

fn opts() -> RunOptions {
    RunOptions::with_timeout(Duration::from_secs(30))
}

fn with_header() -> RunOptions {
    RunOptions {
        auth_header: Some(Secret::new(HEADER)),
        ..opts()
    }
}

/// A fresh repository with a local identity.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let git = git();
    git.run(dir.path(), &["init", "-q"], &opts())
        .expect("git init");
    git.run(dir.path(), &["config", "user.name", "Test"], &opts())
        .expect("user.name");
    git.run(
        dir.path(),
        &["config", "user.email", "test@example.com"],
        &opts(),
    )
    .expect("user.email");
    dir
}

#[test]
fn version_is_found_and_parsed() {
    let git = git();
    assert!(git.version() >= GitVersion::MINIMUM, "{}", git.version());
    assert!(git.version().major >= 2);
}

#[test]
fn version_check() {
    assert!(matches!(
        GitVersion::check("git version 2.29.2\n"),
        Err(GitError::TooOld {
            found: GitVersion {
                major: 2,
                minor: 29,
                patch: 2
            },
            ..
        })
    ));
    let err = GitVersion::check("git version 2.29.2").expect_err("too old");
    assert!(err.to_string().contains("2.29.2"), "{err}");
    assert_eq!(
        GitVersion::check("git version 2.39.5\n").expect("ok"),
        GitVersion {
            major: 2,
            minor: 39,
            patch: 5
        }
    );
    assert_eq!(
        GitVersion::check("git version 2.45.1.windows.1").expect("ok"),
        GitVersion {
            major: 2,
            minor: 45,
            patch: 1
        }
    );
    assert_eq!(
        GitVersion::check("git version 2.39.5 (Apple Git-154)").expect("ok"),
        GitVersion {
            major: 2,
            minor: 39,
            patch: 5
        }
    );
    assert!(matches!(
        GitVersion::check("hello"),
        Err(GitError::BadVersion { .. })
    ));
}

#[test]
fn missing_git_says_how_to_install() {
    let err = Git::at("/nonexistent/brain-git-test/git").expect_err("missing");
    assert!(matches!(err, GitError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains("apt-get install git"), "{err}");
}

#[test]
fn status_in_a_fresh_repo() {
    let dir = repo();
    let out = git()
        .run(dir.path(), &["status", "--porcelain"], &opts())
        .expect("status");
    assert_eq!(out.stdout, "");
    std::fs::write(dir.path().join("a.md"), "hi\n").expect("write");
    let out = git()
        .run(dir.path(), &["status", "--porcelain"], &opts())
        .expect("status");
    assert_eq!(out.stdout, "?? a.md\n");
}

#[test]
fn input_reaches_stdin_and_large_output_does_not_deadlock() {
    let dir = repo();
    // 4 MiB through stdin and back out through stdout: more than any pipe buffer.
    let input = "line of text\n".repeat(4 << 20 >> 4).into_bytes();
    let opts = RunOptions {
        input: Some(input.clone()),
        ..opts()
    };
    let out = git()
        .run(dir.path(), &["-c", "alias.echo=!cat", "echo"], &opts)
        .expect("cat");
    assert_eq!(out.stdout.len(), input.len());
    let hash = git()
        .run(
            dir.path(),
            &["hash-object", "--stdin"],
            &RunOptions {
                input: Some(b"x\n".to_vec()),
                ..self::opts()
            },
        )
        .expect("hash-object");
    assert_eq!(hash.stdout.trim().len(), 40);
}

#[test]
fn failing_command_gives_failed_with_stderr() {
    let dir = repo();
    let err = git()
        .run(
            dir.path(),
            &["rev-parse", "--verify", "no-such-ref"],
            &opts(),
        )
        .expect_err("fails");
    let GitError::Failed {
        command,
        repo,
        code,
        stderr,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(command, "git rev-parse --verify no-such-ref");
    assert_eq!(repo, dir.path());
    assert_eq!(*code, Some(128));
    assert!(stderr.contains("Needed a single revision"), "{stderr}");
    let text = err.to_string();
    assert!(
        text.contains("git rev-parse --verify no-such-ref"),
        "{text}"
    );
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
    assert!(!err.is_transient());
}

#[test]
fn network_failure_is_transient() {
    let dir = repo();
    let err = git()
        .run(
            dir.path(),
            &["fetch", "https://brain-git-test.invalid/x.git"],
            &opts(),
        )
        .expect_err("fails");
    assert!(matches!(err, GitError::Failed { .. }), "{err:?}");
    assert!(err.is_transient(), "{err}");
    // Whether a retry follows is for the job to say, not git's error.
    let text = err.to_string();
    assert!(text.contains("the remote could not be reached"), "{text}");
    assert!(!text.contains("retried"), "{text}");
}

/// Issue 13 item 11: a remote that is not there (no repository at the path, a scheme git has
/// no transport for) fails for good with what to do, never as a network error that is retried.
#[test]
fn issue13_a_missing_remote_or_bad_url_is_not_called_temporary() {
    let dir = repo();
    let missing = dir.path().join("no-such-remote.git");
    for url in [
        format!("file://{}", missing.display()),
        missing.display().to_string(),
        "foo://brain-git-test/x.git".to_owned(),
    ] {
        let err = git()
            .run(dir.path(), &["fetch", &url], &opts())
            .expect_err("fails");
        assert!(matches!(err, GitError::Failed { .. }), "{err:?}");
        assert!(!err.is_transient(), "{url}: {err}");
        assert!(err.is_no_such_remote(), "{url}: {err}");
        let text = err.to_string();
        assert!(text.contains("retrying cannot fix this"), "{text}");
        assert!(text.contains("brain git init --remote URL"), "{text}");
        assert!(!text.contains("it is retried"), "{text}");
    }
}

#[test]
fn hung_command_is_killed_within_the_timeout() {
    let dir = repo();
    let pid_file = dir.path().join("sleep.pid");
    let alias = format!(
        "alias.hang=!echo $$ > '{}'; exec sleep 30",
        pid_file.display()
    );
    let timeout = Duration::from_millis(3000);
    let started = Instant::now();
    let err = git()
        .run(
            dir.path(),
            &["-c", &alias, "hang"],
            &RunOptions::with_timeout(timeout),
        )
        .expect_err("times out");
    let took = started.elapsed();
    assert!(
        matches!(err, GitError::TimedOut { after, .. } if after == timeout),
        "{err:?}"
    );
    assert!(err.is_transient());
    // Killed at the timeout, not left to finish its `sleep 30`.
    assert!(took < Duration::from_secs(15), "took {took:?}");

    let pid = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .to_owned();
    assert!(!pid.is_empty());
    assert!(gone(&pid), "sleep {pid} is still running");
}

/// Whether a process is gone (or a zombie about to be reaped), polling for up to 2 s.
fn gone(pid: &str) -> bool {
    let stat = Path::new("/proc").join(pid).join("stat");
    if !Path::new("/proc/self/stat").exists() {
        return true; // no procfs: nothing to check with
    }
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        match std::fs::read_to_string(&stat) {
            Err(_) => return true,
            Ok(s)
                if s.rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z')) =>
            {
                return true;
            }
            Ok(_) if Instant::now() > until => return false,
            Ok(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[test]
fn auth_header_reaches_git_but_is_never_stored_or_printed() {
    let dir = repo();
    let opts = with_header();
    let out = git()
        .run(dir.path(), &["config", "--get", "http.extraHeader"], &opts)
        .expect("config --get");
    assert_eq!(out.stdout.trim(), HEADER);

    let config = std::fs::read_to_string(dir.path().join(".git/config")).expect("config");
    assert!(!config.contains("tok-0123456789abcdef"), "{config}");
    assert!(!config.contains("extraHeader"), "{config}");

    let debug = format!("{opts:?}");
    assert!(!debug.contains("tok-0123456789abcdef"), "{debug}");
    assert!(debug.contains("***"), "{debug}");

    // Without the header, git sees none.
    let err = git()
        .run(
            dir.path(),
            &["config", "--get", "http.extraHeader"],
            &self::opts(),
        )
        .expect_err("no header");
    assert!(
        matches!(err, GitError::Failed { code: Some(1), .. }),
        "{err:?}"
    );
}

#[test]
fn secret_in_stderr_is_redacted() {
    let dir = repo();
    let alias = "alias.leak=!git config --get http.extraHeader >&2; echo token tok-0123456789abcdef >&2; exit 3";
    let err = git()
        .run(dir.path(), &["-c", alias, "leak"], &with_header())
        .expect_err("fails");
    let GitError::Failed { code, stderr, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*code, Some(3));
    assert!(stderr.contains("***"), "{stderr}");
    for text in [stderr.clone(), err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("tok-0123456789abcdef"), "{text}");
    }
}
