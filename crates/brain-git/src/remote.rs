//! Talking to the remote: fetch, merge what was fetched, push. These are the only commands that
//! touch the network (fetch, push) or move `HEAD` to someone else's commits (merge).
//!
//! Pull is always fetch, then merge: never a rebase or a strategy option (`-X ours`) that drops
//! one side's hunks. A merge that conflicts is left to [`Repo::resolve_conflicts`], which keeps
//! both versions of every conflicting file.

use std::time::Duration;

use crate::repo::LOCAL_TIMEOUT;
use crate::{GitError, Repo, Result, RunOptions, Secret};

/// The remote's name in the vault's repository. Brains manages exactly one.
pub const REMOTE_NAME: &str = "origin";

/// The empty tree's id: the "before" of a first checkout, so a clone imports every file.
pub const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// Where and how to reach the remote for one job.
#[derive(Clone, Debug)]
pub struct RemoteSpec {
    /// The branch synced, on both sides.
    pub branch: String,
    /// `Authorization: ...` sent as `http.extraHeader` for this command only.
    pub auth_header: Option<Secret>,
    /// A network command still running after this long is killed.
    pub timeout: Duration,
}

impl RemoteSpec {
    /// The remote-tracking ref fetched into, e.g. `refs/remotes/origin/main`.
    pub fn tracking_ref(&self) -> String {
        format!("refs/remotes/{REMOTE_NAME}/{}", self.branch)
    }

    fn options(&self) -> RunOptions {
        RunOptions {
            timeout: self.timeout,
            auth_header: self.auth_header.clone(),
            input: None,
        }
    }
}

/// How a merge of the fetched branch ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeOutcome {
    /// Nothing to merge: the remote has nothing we lack.
    UpToDate,
    /// `HEAD` moved forward, or a merge commit was made, with no conflict.
    Merged,
    /// The merge stopped with these files unmerged; the merge is in progress.
    Conflicted(Vec<String>),
}

/// How a push ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// The remote branch now points at our `HEAD` (or already did).
    Pushed,
    /// The remote branch moved since we fetched (not a fast-forward): fetch and merge, then
    /// push again.
    Rejected,
}

/// An `Authorization` header for a token: HTTP Basic, which every git host accepts over HTTPS
/// (GitHub, GitLab, Gitea/Forgejo, Bitbucket with an app password). A token written as
/// `user:secret` names its user; a bare token goes as `x-access-token`, the name GitHub
/// expects and the others ignore.
pub fn token_header(token: &str) -> Secret {
    use base64::Engine as _;
    let credentials = if token.contains(':') {
        token.to_owned()
    } else {
        format!("x-access-token:{token}")
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
    Secret::new(format!("Authorization: Basic {encoded}"))
}

impl Repo {
    /// The URL of [`REMOTE_NAME`], or `None` if there is no such remote.
    pub fn remote_url(&self) -> Result<Option<String>> {
        match self.run(&["remote", "get-url", REMOTE_NAME]) {
            Ok(out) => Ok(Some(out.stdout.trim_end_matches('\n').to_owned())),
            // "error: No such remote 'origin'", exit 2.
            Err(GitError::Failed { code: Some(2), .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Points [`REMOTE_NAME`] at `url`, adding it if missing. The URL is written to
    /// `.git/config` as given: tokens go in headers, never here.
    pub fn set_remote_url(&self, url: &str) -> Result<()> {
        match self.remote_url()? {
            Some(current) if current == url => Ok(()),
            Some(_) => self.run(&["remote", "set-url", REMOTE_NAME, url]).map(drop),
            None => self.run(&["remote", "add", REMOTE_NAME, url]).map(drop),
        }
    }

    /// Puts [`REMOTE_NAME`] back as it was before a failed `brain git init` set it: pointing at
    /// `url` again, or gone (with its tracking refs) when there was none, so a URL that turned
    /// out wrong is not left configured for every later sync.
    pub fn restore_remote_url(&self, url: Option<&str>) -> Result<()> {
        match url {
            Some(url) => self.set_remote_url(url),
            None if self.remote_url()?.is_some() => {
                self.run(&["remote", "remove", REMOTE_NAME]).map(drop)
            }
            None => Ok(()),
        }
    }

    /// Fetches the branch into its remote-tracking ref and returns the commit it points to, or
    /// `None` when the remote does not have the branch (an empty remote, or a new branch).
    pub fn fetch(&self, spec: &RemoteSpec) -> Result<Option<String>> {
        let refspec = format!("+refs/heads/{}:{}", spec.branch, spec.tracking_ref());
        let args = [
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-recurse-submodules",
            "--no-write-fetch-head",
            REMOTE_NAME,
            &refspec,
        ];
        match self.git().run(self.root(), &args, &spec.options()) {
            Ok(_) => self.resolve(&spec.tracking_ref()),
            Err(GitError::Failed { stderr, .. }) if stderr.contains("couldn't find remote ref") => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The branch names the remote has.
    pub fn remote_branches(&self, spec: &RemoteSpec) -> Result<Vec<String>> {
        let out = self.git().run(
            self.root(),
            &["ls-remote", "--heads", REMOTE_NAME],
            &spec.options(),
        )?;
        Ok(out
            .stdout
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .filter_map(|(_, r)| r.strip_prefix("refs/heads/"))
            .map(str::to_owned)
            .collect())
    }

    /// The commit a ref or revision names, `None` if it names nothing.
    pub fn resolve(&self, rev: &str) -> Result<Option<String>> {
        let spec = format!("{rev}^{{commit}}");
        match self.run(&["rev-parse", "--verify", "-q", &spec]) {
            Ok(out) => Ok(Some(out.stdout.trim().to_owned())),
            Err(GitError::Failed { code: Some(1), .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Merges `rev` into `HEAD` (a fast-forward when possible), committing as `author` with
    /// `message` when a merge commit is needed. `unrelated` allows joining two histories with no
    /// common commit (connecting an existing vault to a remote that has notes).
    ///
    /// Hooks that could stop the merge commit (`--no-verify`) and autostash are off: the sync
    /// job decides what is committed. A conflict leaves the merge in progress and returns the
    /// unmerged files; any other failure (local changes in the way, say) leaves nothing changed.
    pub fn merge(
        &self,
        rev: &str,
        message: &str,
        author: Option<(&str, &str)>,
        unrelated: bool,
    ) -> Result<MergeOutcome> {
        let before = self.head()?;
        let identity = crate::commit::identity_args(author);
        let mut args: Vec<&str> = identity.iter().map(String::as_str).collect();
        args.extend([
            "-c",
            "merge.autoStash=false",
            "merge",
            // Whatever `merge.ff` the user set (`only` would refuse every real merge).
            "--ff",
            "--no-edit",
            "--no-stat",
            "--no-verify",
            "--no-squash",
            "-m",
            message,
        ]);
        if unrelated {
            args.push("--allow-unrelated-histories");
        }
        args.extend(["--end-of-options", rev]);
        let opts = RunOptions::with_timeout(LOCAL_TIMEOUT);
        match self.git().run(self.root(), &args, &opts) {
            Ok(_) if self.head()? == before => Ok(MergeOutcome::UpToDate),
            Ok(_) => Ok(MergeOutcome::Merged),
            Err(e @ GitError::Failed { code: Some(1), .. }) => {
                let status = self.status()?;
                if status.merging && !status.unmerged.is_empty() {
                    Ok(MergeOutcome::Conflicted(status.unmerged))
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Pushes `HEAD` to the branch on the remote and makes it the upstream. A push the remote
    /// refuses because it has commits we lack is [`PushOutcome::Rejected`], not an error.
    pub fn push(&self, spec: &RemoteSpec) -> Result<PushOutcome> {
        let refspec = format!("HEAD:refs/heads/{}", spec.branch);
        let args = [
            "push",
            "--quiet",
            "--no-verify",
            "--set-upstream",
            REMOTE_NAME,
            &refspec,
        ];
        match self.git().run(self.root(), &args, &spec.options()) {
            Ok(_) => Ok(PushOutcome::Pushed),
            Err(GitError::Failed { stderr, .. })
                if stderr.contains("[rejected]")
                    || stderr.contains("(fetch first)")
                    || stderr.contains("(non-fast-forward)") =>
            {
                Ok(PushOutcome::Rejected)
            }
            Err(e) => Err(e),
        }
    }

    /// How many commits `HEAD` has that `rev` lacks, and the reverse.
    pub fn ahead_behind(&self, rev: &str) -> Result<(u32, u32)> {
        let range = format!("HEAD...{rev}");
        let out = self.run(&["rev-list", "--left-right", "--count", &range])?;
        let mut counts = out.stdout.split_whitespace().map(str::parse::<u32>);
        match (counts.next(), counts.next()) {
            (Some(Ok(ahead)), Some(Ok(behind))) => Ok((ahead, behind)),
            _ => Err(crate::repo::unparsable(
                &["rev-list", "--left-right", "--count", &range],
                "expected two counts",
            )),
        }
    }
}
