//! The `.gitignore` lines a vault needs so that git sync only versions the notes.
//!
//! The index (`.brain/`), Obsidian's per-device window layout, its trash and our half-written
//! temp files change all the time and differ between devices: committing them would make every
//! sync a conflict. The user owns `.gitignore`, so we only ever append what is missing, leave
//! their lines (and line endings) exactly as they were, and write atomically so a crash never
//! leaves a truncated file.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The lines brains needs in the vault's `.gitignore`, in the order they are appended.
pub const DEFAULT_IGNORES: &[&str] = &[
    brain_core::layout::STATE_GITIGNORE_LINE,
    ".obsidian/workspace*.json",
    ".trash/",
    ".*.brain-tmp-*",
];

/// Written above the lines we append, so the user can tell where they came from.
const HEADER: &str = "# brains";

/// Makes sure `<vault>/.gitignore` contains every line of [`DEFAULT_IGNORES`], creating the
/// file if needed, and returns whether it changed anything.
///
/// A line counts as present if the file has it exactly, ignoring surrounding whitespace; an
/// equivalent pattern spelt differently (e.g. `/.brain`) does not count, and the canonical line
/// is appended too, which is harmless. Missing lines are appended under a `# brains` comment
/// (unless the file already has one), with the file's own line ending (CRLF if its first line
/// ends so), after a line break if the file does not end with one. The file is replaced by
/// renaming a temp file from the same folder, keeping its permissions. Running it again changes
/// nothing.
pub fn ensure_gitignore(vault: &Path) -> io::Result<bool> {
    let path = vault.join(".gitignore");
    let (old, permissions) = match fs::read(&path) {
        Ok(bytes) => (bytes, Some(fs::metadata(&path)?.permissions())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => (Vec::new(), None),
        Err(e) => return Err(e),
    };
    let Some(new) = with_defaults(&old) else {
        return Ok(false);
    };
    write_atomically(&path, &new, permissions)?;
    Ok(true)
}

/// The attribute that makes git merge two devices' `.gitignore` files line by line (git's
/// built-in `union` driver) instead of stopping on a conflict: a conflict copy of an ignore file
/// helps nobody, and a union of ignore lines loses none. It goes in `info/attributes`, this
/// repository's own, never committed.
pub(crate) fn ensure_union_merge_of_gitignore(repo: &crate::Repo) -> crate::Result<()> {
    const LINE: &str = "/.gitignore merge=union";
    let out = repo.run(&["rev-parse", "--git-path", "info/attributes"])?;
    let printed = out.stdout.strip_suffix('\n').unwrap_or(&out.stdout);
    let path = repo.root().join(printed);
    let io = |source| crate::GitError::Path {
        path: path.clone(),
        source,
    };
    let old = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(e)),
    };
    if old.lines().any(|l| l.trim() == LINE) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io)?;
    let sep = if old.is_empty() || old.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    writeln!(file, "{sep}{LINE}").map_err(io)
}

/// `content` with the missing default lines appended, `None` if none is missing. Works on bytes
/// so a `.gitignore` that is not UTF-8 is kept byte for byte.
fn with_defaults(content: &[u8]) -> Option<Vec<u8>> {
    let lines: Vec<&[u8]> = content
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .collect();
    let missing: Vec<&str> = DEFAULT_IGNORES
        .iter()
        .copied()
        .filter(|want| !lines.contains(&want.as_bytes()))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let eol: &[u8] = match content.iter().position(|&b| b == b'\n') {
        Some(i) if i > 0 && content[i - 1] == b'\r' => b"\r\n",
        _ => b"\n",
    };
    let mut out = content.to_vec();
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.extend_from_slice(eol);
    }
    if !lines.contains(&HEADER.as_bytes()) {
        out.extend_from_slice(HEADER.as_bytes());
        out.extend_from_slice(eol);
    }
    for line in missing {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(eol);
    }
    Some(out)
}

/// Replaces `path` with `content` via a temp file in the same folder (so the rename stays on one
/// filesystem and is atomic), giving it `permissions` if the old file had some.
fn write_atomically(
    path: &Path,
    content: &[u8],
    permissions: Option<fs::Permissions>,
) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tmp, mut file) = create_temp(dir, &name)?;
    let result = (|| {
        file.write_all(content)?;
        if let Some(permissions) = permissions {
            file.set_permissions(permissions)?;
        }
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // Best effort: the temp name is ignored by git anyway.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates a new temp file named like our other temp files (`.<name>.brain-tmp-<pid>-<n>`, which
/// the default ignores cover), retrying on a name clash.
fn create_temp(dir: &Path, name: &str) -> io::Result<(PathBuf, fs::File)> {
    let base = name.trim_start_matches('.');
    let pid = std::process::id();
    let mut attempt = 0u32;
    loop {
        let tmp = dir.join(format!(".{base}.brain-tmp-{pid}-{attempt}"));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::process::Command;

    const ALL: &str = "# brains\n.brain/\n.obsidian/workspace*.json\n.trash/\n.*.brain-tmp-*\n";

    fn read(vault: &Path) -> String {
        fs::read_to_string(vault.join(".gitignore")).unwrap()
    }

    fn write(vault: &Path, text: &str) {
        fs::write(vault.join(".gitignore"), text).unwrap();
    }

    /// Only `.gitignore` is left in the folder: no temp file lingers.
    fn assert_no_temp(vault: &Path) {
        let names: Vec<_> = fs::read_dir(vault)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [".gitignore"]);
    }

    #[test]
    fn fresh_vault() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ensure_gitignore(dir.path()).unwrap());
        assert_eq!(read(dir.path()), ALL);
        assert_no_temp(dir.path());
    }

    #[test]
    fn keeps_user_lines_and_order() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "*.pdf\n.trash/\n# mine\n  .brain/  \nprivate/\n",
        );
        assert!(ensure_gitignore(dir.path()).unwrap());
        assert_eq!(
            read(dir.path()),
            "*.pdf\n.trash/\n# mine\n  .brain/  \nprivate/\n\
             # brains\n.obsidian/workspace*.json\n.*.brain-tmp-*\n"
        );
        assert_no_temp(dir.path());
    }

    #[test]
    fn crlf_file_gets_crlf() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "*.pdf\r\n.brain/\r\n");
        assert!(ensure_gitignore(dir.path()).unwrap());
        assert_eq!(
            read(dir.path()),
            "*.pdf\r\n.brain/\r\n# brains\r\n.obsidian/workspace*.json\r\n.trash/\r\n\
             .*.brain-tmp-*\r\n"
        );
        assert!(!ensure_gitignore(dir.path()).unwrap());
    }

    #[test]
    fn no_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "*.pdf");
        assert!(ensure_gitignore(dir.path()).unwrap());
        assert_eq!(read(dir.path()), format!("*.pdf\n{ALL}"));
    }

    #[test]
    fn idempotent() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a\n");
        assert!(ensure_gitignore(dir.path()).unwrap());
        let once = read(dir.path());
        assert!(!ensure_gitignore(dir.path()).unwrap());
        assert_eq!(read(dir.path()), once);
        assert_no_temp(dir.path());
    }

    #[test]
    fn header_not_repeated() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "# brains\n.brain/\n");
        assert!(ensure_gitignore(dir.path()).unwrap());
        assert_eq!(read(dir.path()), ALL);
    }

    #[cfg(unix)]
    #[test]
    fn keeps_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a\n");
        let path = dir.path().join(".gitignore");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(ensure_gitignore(dir.path()).unwrap());
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn git_ignores_what_it_should() {
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path();
        let git = |args: &[&str]| {
            Command::new("git")
                .args(args)
                .current_dir(vault)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .status()
                .unwrap()
        };
        assert!(git(&["init", "-q", "-b", "main"]).success());
        assert!(ensure_gitignore(vault).unwrap());
        for file in [
            ".brain/brain.db",
            ".obsidian/workspace.json",
            ".obsidian/workspace-mobile.json",
            ".obsidian/app.json",
            ".trash/x.md",
            "notes/a.md",
            "notes/.a.md.brain-tmp-1",
        ] {
            let path = vault.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "x").unwrap();
        }
        let ignored = |file: &str| {
            let status = git(&["check-ignore", "-q", file]);
            assert!(matches!(status.code(), Some(0 | 1)), "{file}: {status}");
            status.success()
        };
        for file in [
            ".brain/brain.db",
            ".obsidian/workspace.json",
            ".obsidian/workspace-mobile.json",
            ".trash/x.md",
            "notes/.a.md.brain-tmp-1",
        ] {
            assert!(ignored(file), "{file} should be ignored");
        }
        for file in ["notes/a.md", ".obsidian/app.json", ".gitignore"] {
            assert!(!ignored(file), "{file} should not be ignored");
        }
    }
}
