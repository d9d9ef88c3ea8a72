//! Tests of the facade's errors: kinds, bad input and the command-line wording.

use crate::error::{BrainError, InvalidKind, in_cli_words};
use brain_core::EntityRef;
use brain_store::StoreError;

fn invalid(kind: InvalidKind) -> BrainError {
    BrainError::Invalid {
        entity: "note/x".into(),
        reason: "why".into(),
        kind,
    }
}

/// The published kinds, one per failure: an interface promises these names to its callers,
/// so a rename or a merge of two kinds must fail here first.
#[test]
fn every_failure_has_its_published_kind() {
    let cases: Vec<(BrainError, &str)> = vec![
        (
            BrainError::NotFound {
                entity: "note/x".into(),
                suggestion: None,
            },
            "not_found",
        ),
        (invalid(InvalidKind::UnknownType), "unknown_type"),
        (invalid(InvalidKind::UnsafeId), "unsafe_id"),
        (invalid(InvalidKind::NotText), "not_text"),
        (
            invalid(InvalidKind::InvalidFrontmatter),
            "invalid_frontmatter",
        ),
        (
            BrainError::TooLarge {
                entity: "note/x".into(),
                size: 2,
                limit: 1,
                setting: "sync.max_file_bytes",
            },
            "too_large",
        ),
        (
            BrainError::Exists {
                entity: "note/x".into(),
            },
            "exists",
        ),
        (
            BrainError::Stale {
                entity: "note/x".into(),
                expected: "a".into(),
                actual: "b".into(),
            },
            "stale",
        ),
        (BrainError::UnknownJob(7), "unknown_job"),
        (BrainError::BadRequest("no".into()), "bad_argument"),
        (BrainError::NoSuchBatch("no batch 7".into()), "not_found"),
        (BrainError::BatchRefused("rolled back".into()), "refused"),
        (
            BrainError::UnknownType {
                name: "t".into(),
                known: "note".into(),
            },
            "unknown_type",
        ),
        (BrainError::GitNotEnabled, "git_not_configured"),
        (
            BrainError::Store(StoreError::InvalidJob("bad".into())),
            "store_failed",
        ),
        (
            BrainError::Deleted {
                entity: "note/x".into(),
            },
            "not_found",
        ),
    ];
    for (error, kind) in &cases {
        assert_eq!(error.kind(), *kind, "{error:?}");
    }
    // Every message, as the CLI prints it, names `brain` commands and no MCP tool.
    for (error, _) in &cases {
        let cli = in_cli_words(&error.to_string());
        assert!(!cli.contains(" tool"), "{cli}");
        for tool in [
            "`get`", "`update`", "`create`", "`list`", "`search`", "`status`",
        ] {
            assert!(!cli.contains(tool), "{tool} in {cli}");
        }
    }
    let not_found = BrainError::NotFound {
        entity: "note/x".into(),
        suggestion: None,
    };
    assert!(
        in_cli_words(&not_found.to_string()).contains("`brain list` or `brain search`"),
        "{not_found}"
    );
}

/// A store error passed on in the store's words (the jobs and conflicts calls) says exactly
/// what the store said, with the kind the facade gives that failure everywhere else.
#[test]
fn records_keep_the_stores_words_and_the_callers_kind() {
    let cases: Vec<(StoreError, &str, bool)> = vec![
        (StoreError::JobNotFound(3), "unknown_job", true),
        (StoreError::ConflictNotFound(4), "not_found", true),
        (
            StoreError::JobState {
                id: 5,
                state: "running",
                what: "only failed or cancelled jobs can be retried",
            },
            "bad_argument",
            true,
        ),
        (StoreError::InvalidJob("bad".into()), "store_failed", false),
    ];
    for (store, kind, bad_input) in cases {
        let words = store.to_string();
        let error = BrainError::record(store);
        assert!(matches!(error, BrainError::Record(_)), "{error:?}");
        assert_eq!(error.to_string(), words);
        assert_eq!(error.kind(), kind, "{error:?}");
        assert_eq!(error.is_bad_input(), bad_input, "{error:?}");
    }
    // Through the queue, a store error is the store's; the queue's own are the queue's.
    let from_queue = BrainError::record(brain_jobs::QueueError::Store(StoreError::JobNotFound(6)));
    assert_eq!(from_queue.to_string(), "no job #6: see `brain jobs list`");
    let queue_own = BrainError::record(brain_jobs::QueueError::UnknownType {
        job_type: "x".into(),
        known: "y".into(),
    });
    assert_eq!(queue_own.kind(), "queue_failed", "{queue_own:?}");
}

/// Store errors the facade passes on keep the kind of what they mean to the caller, not
/// "the store failed".
#[test]
fn store_errors_become_the_callers_kind() {
    let r = EntityRef::new("note", "a/b");
    let cases: Vec<(StoreError, &str)> = vec![
        (StoreError::NotFound(r.clone()), "not_found"),
        (StoreError::JobNotFound(3), "unknown_job"),
        (
            StoreError::Stale {
                entity: r.to_string(),
                expected: String::new(),
                actual: Some("h".into()),
            },
            "exists",
        ),
        (
            StoreError::Stale {
                entity: r.to_string(),
                expected: "old".into(),
                actual: None,
            },
            "stale",
        ),
        (StoreError::EmptyQuery, "bad_argument"),
        (StoreError::InvalidJob("bad".into()), "store_failed"),
    ];
    for (store, kind) in cases {
        let shown = format!("{store:?}");
        let error = BrainError::from(store);
        assert_eq!(error.kind(), kind, "{shown} became {error:?}");
        assert_eq!(error.is_bad_input(), kind != "store_failed", "{shown}");
    }
}
