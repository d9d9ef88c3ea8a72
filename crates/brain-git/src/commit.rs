//! The auto-commit of a sync job: everything in the vault, in one commit, or nothing.
//!
//! A sync job commits unattended, so it must never commit what a person would not: a merge the
//! user has not concluded (a merge in progress, or any path git reports as unmerged). That is
//! checked before anything is staged, so a refusal leaves the index exactly as it was.
//!
//! Text that merely looks like conflict markers is not refused: a note that documents git
//! (`<<<<<<< HEAD` ... `>>>>>>> x`) is the user's text and is committed like any other. Markers
//! a merge left behind come with an unmerged path in the index, which is what is refused.

use crate::repo::unparsable;
use crate::{GitError, Repo, Result, RunOptions};

/// How much of a file is looked at to decide whether it is text: git's own heuristic (a NUL
/// byte in the first 8000 bytes means binary).
const BINARY_SNIFF: usize = 8000;

impl Repo {
    /// Commits every change in the work tree (new, modified, deleted and moved files; the
    /// vault's `.gitignore` decides what stays out, and nothing a `.brainignore` excludes is
    /// staged: see [`BRAINIGNORE`](crate::BRAINIGNORE)) and returns the new commit id, or `None`
    /// when there is nothing to commit, so a sync never makes empty commits.
    ///
    /// `author` is `(name, email)`: when given it is used for this commit only (as `-c user.*`),
    /// so a device without a git identity can still sync; when not, git's own config decides,
    /// and a missing identity fails with a hint to set one. The user's hooks and signing config
    /// are respected. The message goes through stdin (`-F -`), so any text is safe, and only
    /// whitespace is cleaned up (`--cleanup=whitespace`): a line starting with `#`, such as a
    /// tag, is kept even if the user's config strips comments.
    ///
    /// Refused, with nothing staged or changed: [`GitError::MergeUnresolved`] while a merge is
    /// in progress or files are unmerged. A file whose text holds a `<<<<<<< `/`=======`/
    /// `>>>>>>> ` block is committed like any other: only git's index tells a conflict a merge
    /// left from a note that documents one. If git itself fails (a hook rejects the commit,
    /// say), the changes stay staged; the next attempt stages them again anyway.
    pub fn commit_all(
        &self,
        message: &str,
        author: Option<(&str, &str)>,
    ) -> Result<Option<String>> {
        self.commit_all_with(|_| Some(message.to_owned()), author)
    }

    /// [`Repo::commit_all`] with the message made from the status it reads (the changed files
    /// for `{files}`), so a sync job asks git for the status once, not twice. `message` may
    /// also decline (`None`): nothing is staged or committed.
    pub fn commit_all_with(
        &self,
        message: impl FnOnce(&crate::RepoStatus) -> Option<String>,
        author: Option<(&str, &str)>,
    ) -> Result<Option<String>> {
        let status = self.status()?;
        if status.merging || !status.unmerged.is_empty() {
            return Err(GitError::MergeUnresolved {
                paths: status.unmerged,
            });
        }
        if status.changed.is_empty() {
            return Ok(None);
        }
        let Some(message) = message(&status) else {
            return Ok(None);
        };
        self.stage_all_except(&status.brainignored)?;
        // `--quiet` exits 1 when the index differs from `HEAD` (or, on an unborn branch, from
        // the empty tree), 0 when there is nothing to commit.
        match self.run(&["diff", "--cached", "--quiet", "--no-ext-diff"]) {
            Ok(_) => return Ok(None),
            Err(GitError::Failed { code: Some(1), .. }) => {}
            Err(e) => return Err(e),
        }

        self.commit_index(&message, author, Hooks::Run).map(Some)
    }

    /// Commits what is staged with `message` (through stdin, so any text is safe; only
    /// whitespace cleaned up) as `author`, and returns the new commit id.
    pub(crate) fn commit_index(
        &self,
        message: &str,
        author: Option<(&str, &str)>,
        hooks: Hooks,
    ) -> Result<String> {
        let identity = identity_args(author);
        let mut args: Vec<&str> = identity.iter().map(String::as_str).collect();
        args.extend(["commit", "-q", "--cleanup=whitespace", "-F", "-"]);
        if hooks == Hooks::Skip {
            args.push("--no-verify");
        }
        let mut opts = RunOptions::with_timeout(crate::repo::LOCAL_TIMEOUT);
        opts.input = Some(message.as_bytes().to_vec());
        self.git().run(self.root(), &args, &opts)?;
        self.head()?
            .ok_or_else(|| unparsable(&args, "no HEAD after a successful commit"))
    }
}

/// Whether a commit runs the user's hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hooks {
    /// The user's own changes: their hooks and signing decide.
    Run,
    /// A merge the sync job concludes: a hook must not strand it half done.
    Skip,
}

/// `-c user.name=NAME -c user.email=EMAIL` for one command when `author` is given, so a device
/// without a git identity can still sync; nothing when not (git's own config decides).
pub(crate) fn identity_args(author: Option<(&str, &str)>) -> Vec<String> {
    match author {
        Some((name, email)) => vec![
            "-c".into(),
            format!("user.name={name}"),
            "-c".into(),
            format!("user.email={email}"),
        ],
        None => Vec::new(),
    }
}

/// Whether `bytes` is text holding a conflict block (used to refuse an index stage that is git's
/// own content merge, markers and all, as a side's whole version): a line of seven or more `<` then a space,
/// then a line of only seven or more `=`, then a line of as many `>` then a space. All three are
/// required, in order, so a Markdown setext heading (`=======` under a line) alone does not
/// count. Longer markers are what git writes for a conflict nested in another (a rename
/// collision's content merge uses eight).
pub(crate) fn has_conflict_markers(bytes: &[u8]) -> bool {
    if bytes[..bytes.len().min(BINARY_SNIFF)].contains(&0) {
        return false;
    }
    // The length of a run of `c` at the start of `line` followed by a space (or, for `=`, by
    // nothing), if it is at least seven.
    fn marker(line: &[u8], c: u8) -> Option<usize> {
        let n = line.iter().take_while(|&&b| b == c).count();
        let rest = &line[n..];
        let ends_right = if c == b'=' {
            rest.is_empty()
        } else {
            rest.first() == Some(&b' ')
        };
        (n >= 7 && ends_right).then_some(n)
    }
    let mut open: Option<usize> = None;
    let mut middle = false;
    for line in bytes.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match (open, middle) {
            (None, _) => open = marker(line, b'<'),
            (Some(n), false) if marker(line, b'=') == Some(n) => middle = true,
            (Some(n), true) if marker(line, b'>') == Some(n) => return true,
            (Some(_), _) => {
                if let Some(m) = marker(line, b'<') {
                    open = Some(m);
                    middle = false;
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_need_all_three_in_order() {
        let block = b"a\n<<<<<<< HEAD\nmine\n=======\ntheirs\n>>>>>>> other\nb\n";
        assert!(has_conflict_markers(block));
        assert!(has_conflict_markers(
            b"<<<<<<< HEAD\r\nx\r\n=======\r\ny\r\n>>>>>>> b\r\n"
        ));
        assert!(!has_conflict_markers(b"Title\n=======\n"));
        assert!(!has_conflict_markers(b"<<<<<<< a\n>>>>>>> b\n=======\n"));
        assert!(!has_conflict_markers(b"<<<<<<<\n=======\n>>>>>>> b\n"));
        assert!(!has_conflict_markers(b"<<<<<<< a\n======= \n>>>>>>> b\n"));
        assert!(!has_conflict_markers(b"\0<<<<<<< a\n=======\n>>>>>>> b\n"));
        // A rename collision's nested content merge writes eight.
        assert!(has_conflict_markers(
            b"<<<<<<<< HEAD:c.md\nx\n========\ny\n>>>>>>>> o:c.md\n"
        ));
        assert!(!has_conflict_markers(b"<<<<<<<< a\n=======\n>>>>>>>> b\n"));
    }
}
