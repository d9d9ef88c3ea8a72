//! Git errors.

use std::path::PathBuf;
use std::time::Duration;

use crate::git::GitVersion;

/// What went wrong running `git`. Every message is already redacted: an auth header given to
/// [`crate::Git::run`] never appears in it.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// No `git` program could be started.
    #[error(
        "git not found (tried `{program}`): install git (Debian: apt-get install git, macOS: \
         xcode-select --install) or set BRAIN_GIT to its path"
    )]
    Missing {
        /// The program we tried to run (`git`, or the `BRAIN_GIT` override).
        program: String,
    },
    /// The installed git is older than we support.
    #[error("git {found} is too old: brains needs git {needed} or newer; please upgrade git")]
    TooOld {
        /// The version found.
        found: GitVersion,
        /// The oldest version supported.
        needed: GitVersion,
    },
    /// `git --version` printed something we cannot read.
    #[error("cannot read the git version from `{output}`: is BRAIN_GIT a real git?")]
    BadVersion {
        /// What `git --version` printed.
        output: String,
    },
    /// Starting git or talking to it through its pipes failed.
    #[error("cannot run `{command}`: {source}")]
    Io {
        /// The git command, as `git <args>` (redacted).
        command: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Git ran longer than its timeout and was killed (with everything it started).
    /// Whether it is tried again is for the caller to say (a job with attempts left is; a
    /// `brain git init` is not), so the message only says what happened.
    #[error(
        "`{command}` in {} did not finish within {after:?} and was killed (a slow network or \
         remote; git.timeout_s sets the limit)",
        .repo.display()
    )]
    TimedOut {
        /// The git command, as `git <args>` (redacted).
        command: String,
        /// The repository it ran in.
        repo: PathBuf,
        /// The timeout.
        after: Duration,
    },
    /// Git exited with a non-zero status.
    #[error(
        "`{command}` failed in {} ({}): {}{}",
        .repo.display(),
        exit_text(*.code),
        stderr_text(.stderr),
        hint_text(.stderr)
    )]
    Failed {
        /// The git command, as `git <args>` (redacted).
        command: String,
        /// The repository it ran in.
        repo: PathBuf,
        /// The exit code (`None`: killed by a signal).
        code: Option<i32>,
        /// What git wrote to stderr (redacted, trimmed, and cut to its last few KiB).
        stderr: String,
    },
    /// The vault folder is inside a git repository but is not its top level.
    #[error(
        "{} is inside the git repository at {} but is not its top folder: brains versions the \
         vault folder itself, so run `git init` in the vault folder (or make the repository's \
         top folder the vault)",
        .path.display(),
        .top.display()
    )]
    NotTopLevel {
        /// The vault folder.
        path: PathBuf,
        /// The top level of the repository that contains it.
        top: PathBuf,
    },
    /// A file excluded by `.brainignore`, edited here and changed by the remote, could not be
    /// moved aside before the merge that would overwrite it: nothing was merged, and the file
    /// is as the user left it.
    #[error(
        "cannot move '{path}' (excluded by .brainignore, edited here and changed on the remote) \
         to '{dest}' before merging: {source}; nothing was merged and the file is as you left \
         it: commit it (`git add {path} && git commit`) or drop your edit (`git checkout -- \
         {path}`), then run `brain git sync` again"
    )]
    SetAside {
        /// The file, relative to the vault.
        path: String,
        /// Where its version was to go, relative to the vault.
        dest: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A folder could not be read (it is missing, or not accessible).
    #[error("cannot read the folder {}: {source}", .path.display())]
    Path {
        /// The folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An automatic commit was refused because a merge is in progress or files are unmerged:
    /// committing then would either conclude a merge the user has not reviewed or fail on the
    /// unmerged files.
    #[error("{}", merge_unresolved_text(.paths))]
    MergeUnresolved {
        /// The unmerged files, relative to the repository's top level (empty when every
        /// conflict is resolved but the merge is not concluded).
        paths: Vec<String>,
    },
    /// A conflicting merge could not keep both versions of a file: the only version git has of
    /// one side is its own content merge, conflict markers and all (a rename collision does
    /// that). Keeping it would spread a half-resolved conflict to every device, so the merge is
    /// aborted instead, with nothing changed.
    #[error(
        "cannot keep both versions of {}: git's merge of it holds conflict markers (`<<<<<<<`, \
         `=======`, `>>>>>>>`) and neither side has a whole version to keep; the merge was \
         aborted with nothing changed: merge the remote by hand (`git merge`, resolve, \
         `git commit`), then run `brain git sync`",
        .paths.join(", ")
    )]
    ConflictMarkers {
        /// The files with markers, relative to the repository's top level.
        paths: Vec<String>,
    },
    /// Git printed output that does not have the documented machine-readable format.
    #[error("cannot read the output of `{command}`: {detail}; please report this as a bug")]
    Unparsable {
        /// The git command, as `git <args>`.
        command: String,
        /// What was wrong with it.
        detail: String,
    },
}

impl GitError {
    /// Whether trying again later may succeed: timeouts, network errors and another git's lock
    /// are transient; authentication failures, a remote that does not exist or a bad URL, merge
    /// conflicts, a missing or old git and anything unrecognised are not, since retrying would
    /// fail the same way.
    pub fn is_transient(&self) -> bool {
        match self {
            GitError::TimedOut { .. } => true,
            // Another git (an editor plugin, a terminal) holding `index.lock` lets go soon.
            GitError::Failed { stderr, .. } => {
                matches!(classify(stderr), Some(Kind::Network | Kind::Lock))
            }
            GitError::Missing { .. }
            | GitError::TooOld { .. }
            | GitError::BadVersion { .. }
            | GitError::Io { .. }
            | GitError::NotTopLevel { .. }
            | GitError::Path { .. }
            | GitError::SetAside { .. }
            | GitError::MergeUnresolved { .. }
            | GitError::ConflictMarkers { .. }
            | GitError::Unparsable { .. } => false,
        }
    }

    /// Whether the remote refused our credentials: retrying cannot help until the user fixes
    /// the token or the credential helper.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, GitError::Failed { stderr, .. } if classify(stderr) == Some(Kind::Auth))
    }

    /// Whether the remote is not there at all: no repository at the URL, or a URL git cannot
    /// use. Retrying cannot help until the user fixes the URL.
    pub fn is_no_such_remote(&self) -> bool {
        matches!(self, GitError::Failed { stderr, .. } if classify(stderr) == Some(Kind::NoRemote))
    }
}

/// The common failures we can give advice for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Auth,
    /// No repository at the URL, or a URL git cannot use.
    NoRemote,
    Network,
    Conflict,
    Lock,
    Identity,
}

/// Recognises common failures from git's (English, `LC_ALL=C`) stderr. Authentication and a
/// missing repository are checked before the network because git reports an HTTP 403 or 404 as
/// "unable to access ...: 403".
fn classify(stderr: &str) -> Option<Kind> {
    const AUTH: &[&str] = &[
        "could not read Username",
        "could not read Password",
        "Authentication failed",
        "The requested URL returned error: 401",
        "The requested URL returned error: 403",
        "Permission denied (publickey",
        "HTTP 401",
        "HTTP 403",
    ];
    const NO_REMOTE: &[&str] = &[
        // A local path or file:// URL with no repository there (and a URL git took for a path).
        "does not appear to be a git repository",
        // Smart HTTP answering 404 (`repository 'URL/' not found`), dumb HTTP too.
        "Repository not found",
        "The requested URL returned error: 404",
        // A scheme git has no transport for (`foo://`), or one it refuses to use.
        "Unable to find remote helper",
        "' is not a git command",
        "fatal: transport '",
        "fatal: protocol '",
        "URL using bad/illegal format",
        "Malformed input to a URL function",
    ];
    const NETWORK: &[&str] = &[
        "Could not resolve host",
        "unable to access",
        "Connection timed out",
        "Connection refused",
        "Connection reset",
        "Operation timed out",
        "Network is unreachable",
        "The remote end hung up unexpectedly",
        "early EOF",
        "RPC failed",
        "The requested URL returned error: 5",
    ];
    const CONFLICT: &[&str] = &[
        "CONFLICT (",
        "Automatic merge failed",
        "not possible to fast-forward",
    ];
    const LOCK: &[&str] = &[".lock': File exists"];
    const IDENTITY: &[&str] = &[
        "Please tell me who you are",
        "unable to auto-detect email address",
        "empty ident name",
    ];
    let has = |needles: &[&str]| needles.iter().any(|n| stderr.contains(n));
    // `fatal: repository 'URL/' not found`: split, so a file named "not found" is not matched.
    let missing_repository = stderr
        .lines()
        .any(|l| l.starts_with("fatal: repository '") && l.ends_with("' not found"));
    if has(AUTH) {
        Some(Kind::Auth)
    } else if has(NO_REMOTE) || missing_repository {
        Some(Kind::NoRemote)
    } else if has(NETWORK) {
        Some(Kind::Network)
    } else if has(CONFLICT) {
        Some(Kind::Conflict)
    } else if has(LOCK) {
        Some(Kind::Lock)
    } else if has(IDENTITY) {
        Some(Kind::Identity)
    } else {
        None
    }
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exit code {code}"),
        None => "killed by a signal".to_owned(),
    }
}

fn stderr_text(stderr: &str) -> &str {
    if stderr.is_empty() {
        "git printed nothing"
    } else {
        stderr
    }
}

fn hint_text(stderr: &str) -> &'static str {
    match classify(stderr) {
        Some(Kind::Auth) => "\nauthentication failed: check git.token or the credential helper",
        Some(Kind::NoRemote) => {
            "\nthere is no git repository at the remote's URL, or git cannot use the URL: \
             retrying cannot fix this; check the URL (a typo, a repository not created yet), \
             then run `brain git init --remote URL` with the right one"
        }
        // Not "it is retried": whether a later try is scheduled is for the caller to say.
        Some(Kind::Network) => {
            "\nnetwork error: the remote could not be reached (check the URL and the network)"
        }
        Some(Kind::Conflict) => "\nthe histories conflict: resolve it in the repository",
        Some(Kind::Lock) => {
            "\nanother git process is using the repository; if none is running, remove the \
             `.lock` file named above"
        }
        Some(Kind::Identity) => {
            "\ngit does not know who is committing: set git.author_name and git.author_email \
             (or git's user.name/user.email)"
        }
        None => "",
    }
}

fn merge_unresolved_text(paths: &[String]) -> String {
    if paths.is_empty() {
        "auto-commit is refused while a merge is unresolved: conclude it (`git commit`) or \
         abort it (`git merge --abort`), then run `brain git sync`"
            .to_owned()
    } else {
        format!(
            "auto-commit is refused while a merge is unresolved: resolve the conflicts in {} \
             (edit, then `git add` and `git commit`, or `git merge --abort`), then run \
             `brain git sync`",
            paths.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_wins_over_network_and_is_not_transient() {
        let stderr = "fatal: unable to access 'https://x/': The requested URL returned error: 403";
        assert_eq!(classify(stderr), Some(Kind::Auth));
        let err = GitError::Failed {
            command: "git push".into(),
            repo: "/r".into(),
            code: Some(128),
            stderr: stderr.into(),
        };
        assert!(!err.is_transient());
        assert!(
            err.to_string()
                .contains("check git.token or the credential helper")
        );
    }

    #[test]
    fn a_missing_repository_or_bad_url_is_not_transient_and_says_what_to_do() {
        for stderr in [
            "fatal: '/nonexistent' does not appear to be a git repository\nfatal: Could not read \
             from remote repository.",
            "fatal: repository 'http://127.0.0.1:9/x.git/' not found",
            "fatal: unable to access 'https://h/x.git/': The requested URL returned error: 404",
            "git: 'remote-foo' is not a git command. See 'git --help'.",
            "fatal: Unable to find remote helper for 'foo'",
        ] {
            assert_eq!(classify(stderr), Some(Kind::NoRemote), "{stderr}");
            let err = GitError::Failed {
                command: "git fetch".into(),
                repo: "/r".into(),
                code: Some(128),
                stderr: stderr.into(),
            };
            assert!(!err.is_transient(), "{stderr}");
            assert!(err.is_no_such_remote(), "{stderr}");
            let text = err.to_string();
            assert!(text.contains("retrying cannot fix this"), "{text}");
            assert!(text.contains("brain git init --remote URL"), "{text}");
            assert!(!text.contains("it is retried"), "{text}");
        }
    }

    #[test]
    fn network_is_transient() {
        let err = GitError::Failed {
            command: "git fetch".into(),
            repo: "/r".into(),
            code: Some(128),
            stderr: "fatal: unable to access 'https://x/': Could not resolve host: x".into(),
        };
        assert!(err.is_transient());
        let text = err.to_string();
        assert!(text.contains("the remote could not be reached"), "{text}");
        assert!(!text.contains("retried"), "{text}");
    }

    #[test]
    fn conflict_is_not_transient() {
        let err = GitError::Failed {
            command: "git merge".into(),
            repo: "/r".into(),
            code: Some(1),
            stderr: "CONFLICT (content): Merge conflict in a.md\nAutomatic merge failed".into(),
        };
        assert!(!err.is_transient());
    }

    #[test]
    fn missing_identity_has_a_hint() {
        let err = GitError::Failed {
            command: "git commit -q -F -".into(),
            repo: "/r".into(),
            code: Some(128),
            stderr: "Author identity unknown\n\n*** Please tell me who you are.".into(),
        };
        assert!(!err.is_transient());
        assert!(
            err.to_string()
                .contains("set git.author_name and git.author_email")
        );
    }
}
