//! The read-only view of the vault's git repository that the sync jobs decide from.
//!
//! Every operation asks git for its machine-readable output (`--porcelain=v2`, `-z`,
//! `--name-status`) and parses that, never the human text: the human text changes between git
//! versions, and paths in it are quoted or cut at newlines, while `-z` output carries any path
//! (spaces, unicode, newlines) byte for byte.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{Git, GitError, Output, Result, RunOptions};

/// How long a read-only local command may take. Generous, since a first `git status` on a big
/// vault may hash every file, but bounded, so a hung filesystem cannot stall a sync job forever.
pub(crate) const LOCAL_TIMEOUT: Duration = Duration::from_secs(120);

/// A git work tree whose top level is the vault folder.
#[derive(Debug, Clone)]
pub struct Repo {
    git: Git,
    root: PathBuf,
}

/// The state of the repository that a sync job needs to decide what to do: where `HEAD` is,
/// how it relates to its upstream, and which files differ from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoStatus {
    /// The checked-out branch (`None`: `HEAD` is detached, so there is nothing to push to).
    pub branch: Option<String>,
    /// The commit `HEAD` points to (`None`: the branch is unborn, nothing was committed yet).
    pub head: Option<String>,
    /// The upstream branch, e.g. `origin/main` (`None`: none is configured).
    pub upstream: Option<String>,
    /// Commits on `HEAD` that the upstream lacks (0 without an upstream).
    pub ahead: u32,
    /// Commits on the upstream that `HEAD` lacks (0 without an upstream).
    pub behind: u32,
    /// Files that differ from `HEAD` (staged or not) or are untracked, ignored files excluded,
    /// and so are the files a `.brainignore` excludes: a git job never stages those.
    pub changed: Vec<ChangedPath>,
    /// The changes to files a `.brainignore` excludes, held out of [`RepoStatus::changed`]:
    /// new files kept out of git, and tracked files left as git has them.
    pub brainignored: Vec<ChangedPath>,
    /// Files with unresolved conflicts, relative to the repository's top level.
    pub unmerged: Vec<String>,
    /// Whether a merge is in progress (`MERGE_HEAD` exists): a sync must not start another.
    pub merging: bool,
}

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChangedPath {
    /// Its path relative to the repository's top level, `/`-separated (for a rename, the new
    /// path).
    pub path: String,
    /// How it changed.
    pub kind: ChangeKind,
}

/// How a file changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// New (added to the index, or a copy of another file).
    Added,
    /// Its content (or type or mode) changed.
    Modified,
    /// Removed.
    Deleted,
    /// Moved from `from` (and possibly edited too).
    Renamed {
        /// The path it had before, relative to the repository's top level.
        from: String,
    },
    /// Not tracked by git and not ignored.
    Untracked,
}

impl Repo {
    /// Opens the repository whose top level is `root`: `None` when `root` is not in a git work
    /// tree (the vault is not versioned yet), an error ([`GitError::NotTopLevel`]) when it is
    /// inside one whose top is elsewhere. Brains versions the vault folder itself; committing
    /// into an enclosing repository would sweep up, or miss, files outside the vault.
    ///
    /// "Not a repository" is recognised by git's `not a git repository` message: git has no
    /// machine-readable way to say it, and the runner's `LC_ALL=C` keeps that text stable.
    pub fn open(git: Git, root: &Path) -> Result<Option<Repo>> {
        let canonical = |path: &Path| {
            std::fs::canonicalize(path).map_err(|source| GitError::Path {
                path: path.to_path_buf(),
                source,
            })
        };
        let root = canonical(root)?;
        let args = ["rev-parse", "--show-toplevel"];
        let output = match git.run(&root, &args, &RunOptions::with_timeout(LOCAL_TIMEOUT)) {
            Ok(output) => output,
            Err(GitError::Failed { stderr, .. }) if stderr.contains("not a git repository") => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        // A single line; only its final newline is git's (a path may end in spaces).
        let printed = output.stdout.strip_suffix('\n').unwrap_or(&output.stdout);
        if printed.is_empty() {
            // `--show-toplevel` prints nothing inside a `.git` directory.
            return Err(unparsable(&args, "no top level printed"));
        }
        let top = canonical(Path::new(printed))?;
        if top != root {
            return Err(GitError::NotTopLevel { path: root, top });
        }
        Ok(Some(Repo { git, root }))
    }

    /// The top level of the work tree (canonical), where every path this type reports is
    /// relative to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The git program this repository is driven with.
    pub fn git(&self) -> &Git {
        &self.git
    }

    /// What a sync job needs to know before it commits, pulls or pushes, in one `git status`.
    ///
    /// Rename detection is forced on (`--renames`) and untracked files are listed one by one
    /// (`--untracked-files=all`) whatever the user's config says, so a new folder of notes is
    /// seen as its notes, and a moved note as a move rather than a delete and an add.
    pub fn status(&self) -> Result<RepoStatus> {
        let args = [
            "status",
            "--porcelain=v2",
            "--branch",
            "-z",
            "--untracked-files=all",
            "--renames",
            "--ahead-behind",
        ];
        let output = self.run(&args)?;
        let mut status = parse_status(&output.stdout).map_err(|d| unparsable(&args, &d))?;
        status.brainignored = self.split_brainignored(&mut status.changed)?;
        status.merging = self.merging()?;
        Ok(status)
    }

    /// The files that differ between two commits, so a pull imports exactly what it brought in
    /// (renames included, with both paths) instead of rescanning the vault.
    ///
    /// `old` and `new` are any revisions (commit ids, `HEAD`, `origin/main`). Rename detection
    /// is forced on (`-M`), colour and external diff tools off, whatever the user's config says.
    pub fn changed_between(&self, old: &str, new: &str) -> Result<Vec<ChangedPath>> {
        let args = [
            "diff",
            "--name-status",
            "-z",
            "-M",
            "--no-color",
            "--no-ext-diff",
            "--no-relative",
            "--end-of-options",
            old,
            new,
            "--",
        ];
        let output = self.run(&args)?;
        parse_name_status(&output.stdout).map_err(|d| unparsable(&args, &d))
    }

    /// The commit `HEAD` points to, `None` on an unborn branch (a fresh repository), which a
    /// sync must handle apart: there is nothing to diff against or fast-forward from.
    pub fn head(&self) -> Result<Option<String>> {
        let args = ["rev-parse", "--verify", "-q", "HEAD"];
        match self.run(&args) {
            Ok(output) => {
                let oid = output.stdout.trim();
                if oid.is_empty() || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(unparsable(&args, &format!("not a commit id: {oid:?}")));
                }
                Ok(Some(oid.to_owned()))
            }
            // `--verify -q` exits 1, silently, when the name does not resolve.
            Err(GitError::Failed { code: Some(1), .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether a merge is in progress. `MERGE_HEAD` is located with `--git-path` because it is
    /// not always under `.git/`: in a linked worktree it is in that worktree's own git dir.
    fn merging(&self) -> Result<bool> {
        let args = ["rev-parse", "--git-path", "MERGE_HEAD"];
        let output = self.run(&args)?;
        let printed = output.stdout.strip_suffix('\n').unwrap_or(&output.stdout);
        if printed.is_empty() {
            return Err(unparsable(&args, "no path printed"));
        }
        // Relative paths are relative to where git ran, the top level.
        Ok(self.root.join(printed).exists())
    }

    /// Runs a local git command in the work tree with the local timeout.
    pub(crate) fn run(&self, args: &[&str]) -> Result<Output> {
        self.git
            .run(&self.root, args, &RunOptions::with_timeout(LOCAL_TIMEOUT))
    }
}

pub(crate) fn unparsable(args: &[&str], detail: &str) -> GitError {
    GitError::Unparsable {
        command: format!("git {}", args.join(" ")),
        detail: detail.to_owned(),
    }
}

/// Parses `git status --porcelain=v2 --branch -z` (without `merging`, which is not in it).
fn parse_status(text: &str) -> Result<RepoStatus, String> {
    let mut status = RepoStatus::default();
    let mut fields = text.split('\0').filter(|f| !f.is_empty());
    while let Some(entry) = fields.next() {
        let bad = || format!("unexpected entry {entry:?}");
        let (tag, rest) = entry.split_once(' ').ok_or_else(bad)?;
        match tag {
            "#" => {
                let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
                match key {
                    "branch.oid" if value != "(initial)" => status.head = Some(value.to_owned()),
                    "branch.head" if value != "(detached)" => {
                        status.branch = Some(value.to_owned());
                    }
                    "branch.upstream" => status.upstream = Some(value.to_owned()),
                    "branch.ab" => {
                        let (ahead, behind) = value.split_once(' ').ok_or_else(bad)?;
                        let count = |text: Option<&str>| text.and_then(|t| t.parse().ok());
                        status.ahead = count(ahead.strip_prefix('+')).ok_or_else(bad)?;
                        status.behind = count(behind.strip_prefix('-')).ok_or_else(bad)?;
                    }
                    // Other headers (`branch.oid (initial)`, `stash`, ...) carry nothing we use.
                    _ => {}
                }
            }
            // `1 XY sub mH mI mW hH hI path`
            "1" => {
                let parts: Vec<&str> = rest.splitn(8, ' ').collect();
                let [xy, .., path] = parts.as_slice() else {
                    return Err(bad());
                };
                if parts.len() != 8 {
                    return Err(bad());
                }
                status.changed.push(ChangedPath {
                    path: (*path).to_owned(),
                    kind: ordinary_kind(xy),
                });
            }
            // `2 XY sub mH mI mW hH hI Xscore path`, then the original path as its own field.
            "2" => {
                let parts: Vec<&str> = rest.splitn(9, ' ').collect();
                let [xy, .., score, path] = parts.as_slice() else {
                    return Err(bad());
                };
                if parts.len() != 9 {
                    return Err(bad());
                }
                let from = fields
                    .next()
                    .ok_or_else(|| format!("no original path after {entry:?}"))?;
                let copied = xy.starts_with('C') || score.starts_with('C');
                status.changed.push(ChangedPath {
                    path: (*path).to_owned(),
                    kind: if copied {
                        ChangeKind::Added
                    } else {
                        ChangeKind::Renamed {
                            from: from.to_owned(),
                        }
                    },
                });
            }
            // `u XY sub m1 m2 m3 mW h1 h2 h3 path`
            "u" => {
                let parts: Vec<&str> = rest.splitn(10, ' ').collect();
                match parts.as_slice() {
                    [.., path] if parts.len() == 10 => status.unmerged.push((*path).to_owned()),
                    _ => return Err(bad()),
                }
            }
            "?" => status.changed.push(ChangedPath {
                path: rest.to_owned(),
                kind: ChangeKind::Untracked,
            }),
            // Ignored files are not the vault's business.
            "!" => {}
            _ => return Err(bad()),
        }
    }
    Ok(status)
}

/// The kind of an ordinary (`1`) status entry from its `XY` (index, work tree) letters: a
/// deletion on either side wins (the file is gone from the vault), then an addition to the
/// index (new since `HEAD`, even if edited again since), else it was modified.
fn ordinary_kind(xy: &str) -> ChangeKind {
    let mut letters = xy.chars();
    let (index, tree) = (letters.next(), letters.next());
    if index == Some('D') || tree == Some('D') {
        ChangeKind::Deleted
    } else if index == Some('A') {
        ChangeKind::Added
    } else {
        ChangeKind::Modified
    }
}

/// Parses `git diff --name-status -z`: a status field (`A`, `M`, `D`, `T`, `R<score>`,
/// `C<score>`, ...) then the path, or for renames and copies the old then the new path.
fn parse_name_status(text: &str) -> Result<Vec<ChangedPath>, String> {
    let mut changed = Vec::new();
    let mut fields = text.split('\0');
    while let Some(code) = fields.next() {
        if code.is_empty() {
            // The output ends with a NUL, leaving an empty last field.
            continue;
        }
        let mut path = || {
            fields
                .next()
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| format!("no path after status {code:?}"))
        };
        let entry = match code.as_bytes()[0] {
            b'A' => ChangedPath {
                path: path()?,
                kind: ChangeKind::Added,
            },
            b'D' => ChangedPath {
                path: path()?,
                kind: ChangeKind::Deleted,
            },
            // Content, type (file/symlink), or unmerged: the new side differs.
            b'M' | b'T' | b'U' => ChangedPath {
                path: path()?,
                kind: ChangeKind::Modified,
            },
            b'R' => {
                let from = path()?;
                ChangedPath {
                    path: path()?,
                    kind: ChangeKind::Renamed { from },
                }
            }
            // A copy leaves its source as it was: only the copy is new.
            b'C' => {
                path()?;
                ChangedPath {
                    path: path()?,
                    kind: ChangeKind::Added,
                }
            }
            _ => return Err(format!("unknown status {code:?}")),
        };
        changed.push(entry);
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_headers_and_entries() {
        let text = "# branch.oid 1234abcd\0# branch.head main\0# branch.upstream origin/main\0\
                    # branch.ab +2 -3\0\
                    1 .M N... 100644 100644 100644 aa bb a b.md\0\
                    1 A. N... 000000 100644 100644 00 bb new.md\0\
                    1 .D N... 100644 100644 000000 aa aa gone.md\0\
                    2 R. N... 100644 100644 100644 aa aa R100 to\nx.md\0from y.md\0\
                    u UU N... 100644 100644 100644 100644 a b c both.md\0\
                    ? dir/caf\u{e9}.md\0! ignored.md\0";
        let status = parse_status(text).expect("parses");
        assert_eq!(status.head.as_deref(), Some("1234abcd"));
        assert_eq!(status.branch.as_deref(), Some("main"));
        assert_eq!(status.upstream.as_deref(), Some("origin/main"));
        assert_eq!((status.ahead, status.behind), (2, 3));
        let kinds: Vec<(&str, &ChangeKind)> = status
            .changed
            .iter()
            .map(|c| (c.path.as_str(), &c.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("a b.md", &ChangeKind::Modified),
                ("new.md", &ChangeKind::Added),
                ("gone.md", &ChangeKind::Deleted),
                (
                    "to\nx.md",
                    &ChangeKind::Renamed {
                        from: "from y.md".into()
                    }
                ),
                ("dir/caf\u{e9}.md", &ChangeKind::Untracked),
            ]
        );
        assert_eq!(status.unmerged, ["both.md"]);
    }

    #[test]
    fn unborn_and_detached() {
        let status = parse_status("# branch.oid (initial)\0# branch.head main\0").expect("ok");
        assert_eq!(
            (status.head, status.branch.as_deref()),
            (None, Some("main"))
        );
        let status = parse_status("# branch.oid abc\0# branch.head (detached)\0").expect("ok");
        assert_eq!((status.head.as_deref(), status.branch), (Some("abc"), None));
    }

    #[test]
    fn garbage_is_refused() {
        assert!(parse_status("1 .M short\0").is_err());
        assert!(parse_status("2 R. N... 1 1 1 a a R100 x\0").is_err());
        assert!(parse_status("what\0").is_err());
        assert!(parse_name_status("M\0").is_err());
        assert!(parse_name_status("Z\0x\0").is_err());
    }

    #[test]
    fn name_status() {
        let text = "M\0a b.md\0R087\0old.md\0new\n.md\0A\0n.md\0D\0d.md\0C100\0s.md\0c.md\0";
        let changed = parse_name_status(text).expect("parses");
        let kinds: Vec<(&str, &ChangeKind)> =
            changed.iter().map(|c| (c.path.as_str(), &c.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("a b.md", &ChangeKind::Modified),
                (
                    "new\n.md",
                    &ChangeKind::Renamed {
                        from: "old.md".into()
                    }
                ),
                ("n.md", &ChangeKind::Added),
                ("d.md", &ChangeKind::Deleted),
                ("c.md", &ChangeKind::Added),
            ]
        );
    }
}
