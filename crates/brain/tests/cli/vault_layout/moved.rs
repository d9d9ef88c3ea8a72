//! A vault folder, or its `.brain/`, moved, replaced or removed under a running `brain serve`
//! or `brain mcp` (issue 13, item 9): the process stops saying what happened and what to do,
//! and touches nothing at the old path; through the real binary like the rest of
//! `vault_layout.rs`, whose helpers they use.

use super::*;

/// The vault folder moved out of the way of a test, put back (or removed) when it ends.
struct Moved {
    to: PathBuf,
    back: PathBuf,
}

impl Drop for Moved {
    fn drop(&mut self) {
        if self.to.exists() {
            let _ = std::fs::remove_dir_all(&self.back);
            let _ = std::fs::rename(&self.to, &self.back);
        }
    }
}

/// Starts `brain serve` as `TestVault::serve` does, with its stderr kept for the test.
fn serve_keeping_stderr(v: &TestVault) -> Child {
    let child = v
        .cmd()
        .env("BRAIN_SERVE_SYNC_DEBOUNCE_MS", DEBOUNCE_MS.to_string())
        .env("BRAIN_SERVE_INITIAL_SYNC_DELAY_MS", "0")
        .env("BRAIN_JOBS_LEASE_MS", "2000")
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("brain serve starts");
    let pid = child.id();
    let store = v.store();
    wait_for(Duration::from_secs(60), "brain serve to be ready", || {
        let state = store.runtime_state("serve").ok()??.value;
        (state["pid"] == pid && state["state"] == "ready").then_some(())
    });
    child
}

/// Waits (with a deadline) for the daemon to exit on its own; returns its code and stderr.
fn exit_of(mut child: Child) -> (i32, String) {
    let status = wait_for(
        Duration::from_secs(60),
        "brain serve (or brain mcp) to stop by itself",
        || child.try_wait().unwrap(),
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code().unwrap_or(-1), stderr)
}

/// A daemon serving a synced vault holding `a.md`, idle, and the vault folder moved away.
fn served_then_moved(v: &TestVault) -> (Child, Moved) {
    v.write("a.md", "# A\n");
    let child = serve_keeping_stderr(v);
    v.settle();
    assert_eq!(v.entity_content("note/a").as_deref(), Some("# A\n"));
    let name = v.root().file_name().unwrap().to_string_lossy().into_owned();
    let moved = Moved {
        to: v.root().with_file_name(format!("{name}-moved")),
        back: v.root().to_path_buf(),
    };
    std::fs::rename(v.root(), &moved.to).unwrap();
    (child, moved)
}

/// Asserts the daemon said which folder and what to do, and the store it kept is the moved
/// vault's, untouched: `a` live, nothing else.
fn stopped_clearly(v: &TestVault, code: i32, stderr: &str, moved: &Moved) {
    assert_eq!(
        code, 1,
        "brain serve must fail when its folder goes: {stderr}"
    );
    let path = v.root().display().to_string();
    assert!(
        stderr.contains(&format!("the vault folder {path}"))
            && stderr.contains("start `brain serve` again where the vault is now"),
        "the daemon must say which folder changed and what to do: {stderr}"
    );
    let store = testing::at(&moved.to.join(".brain/brain.db")).unwrap();
    assert_eq!(
        store.get(&"note/a".parse().unwrap()).unwrap().content(),
        "# A\n"
    );
    assert!(matches!(
        store.get(&"note/new".parse().unwrap()),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.count_live().unwrap(), 1);
}

#[test]
fn issue13_a_daemon_whose_vault_folder_is_replaced_stops_and_leaves_the_new_folder_alone() {
    let v = TestVault::new();
    let (child, moved) = served_then_moved(&v);
    std::fs::create_dir(v.root()).unwrap();
    v.write("new.md", "# New\n");

    let (code, stderr) = exit_of(child);
    stopped_clearly(&v, code, &stderr, &moved);
    let mut here: Vec<String> = std::fs::read_dir(v.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    here.sort();
    assert_eq!(
        here,
        ["new.md"],
        "the daemon created something in the new folder"
    );
    assert_eq!(
        std::fs::read_to_string(v.path("new.md")).unwrap(),
        "# New\n"
    );
}

#[test]
fn issue13_a_daemon_whose_vault_folder_is_moved_away_stops() {
    let v = TestVault::new();
    let (child, moved) = served_then_moved(&v);
    let (code, stderr) = exit_of(child);
    assert!(stderr.contains("moved away or deleted"), "{stderr}");
    stopped_clearly(&v, code, &stderr, &moved);
    assert!(
        !v.root().exists(),
        "the daemon made something at the old path"
    );
    // Put back, the vault is whole and serves again.
    drop(moved);
    v.settle();
    assert_eq!(listed(&v, &[]), ["note/a"]);
}

/// The `error:` line a process ended with: what it says last, once it stopped.
fn final_error(stderr: &str) -> &str {
    stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no final error line:\n{stderr}"))
}

/// Copies the files and folders in `from` into a new folder `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Swaps two folders in one step (`renameat2` with `RENAME_EXCHANGE`), so a process watching
/// either path never sees it missing in between.
#[allow(unsafe_code)]
fn exchange(a: &Path, b: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let a = std::ffi::CString::new(a.as_os_str().as_bytes()).unwrap();
    let b = std::ffi::CString::new(b.as_os_str().as_bytes()).unwrap();
    // SAFETY: two valid NUL-terminated paths, relative to nothing (absolute).
    let done = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    assert_eq!(done, 0, "{}", std::io::Error::last_os_error());
}

/// A daemon serving a synced vault holding `a.md`, idle; and a folder for what the test moves
/// out of the vault.
fn served_idle(v: &TestVault) -> (Child, tempfile::TempDir) {
    v.write("a.md", "# A\n");
    let child = serve_keeping_stderr(v);
    v.settle();
    assert_eq!(v.entity_content("note/a").as_deref(), Some("# A\n"));
    (child, tempfile::tempdir().unwrap())
}

/// Asserts the daemon named the state folder, not the vault folder, as what changed.
fn names_the_state_folder(v: &TestVault, code: i32, stderr: &str) {
    assert_eq!(
        code, 1,
        "brain serve must fail when its .brain/ goes: {stderr}"
    );
    let last = final_error(stderr);
    let state = v.path(".brain").display().to_string();
    assert!(
        last.contains(&format!("the vault's state folder {state}")),
        "the daemon must name the state folder: {stderr}"
    );
    let root = v.root().display().to_string();
    assert!(
        !stderr.contains(&format!("the vault folder {root} was")),
        "only .brain/ changed, not the vault folder: {stderr}"
    );
}

/// `.brain/` moved away and a copy put in its place (`mv .brain x && cp -r x .brain`): the
/// daemon says its state folder was replaced, so its store is another one now, and to start
/// `brain serve` again to use it; not that the vault folder was replaced.
#[test]
fn issue13_a_daemon_whose_state_folder_is_replaced_by_a_copy_says_to_serve_the_new_store() {
    let v = TestVault::new();
    let (child, aside) = served_idle(&v);
    let copy = aside.path().join("copy");
    copy_dir(&v.path(".brain"), &copy);
    exchange(&v.path(".brain"), &copy);

    let (code, stderr) = exit_of(child);
    names_the_state_folder(&v, code, &stderr);
    let last = final_error(&stderr);
    assert!(
        last.contains("was replaced by another one")
            && last.contains("start `brain serve` again")
            && last.contains("to use the new store"),
        "{stderr}"
    );
    // The new store is whole.
    assert_eq!(listed(&v, &[]), ["note/a"]);
}

/// `.brain/` removed under the daemon: it says so, that the notes are untouched and how to
/// build a new store (`brain init` and `brain sync`, since its settings went too), and makes
/// nothing there.
#[test]
fn issue13_a_daemon_whose_state_folder_is_removed_says_so_and_recreates_nothing() {
    let v = TestVault::new();
    let (child, aside) = served_idle(&v);
    std::fs::rename(v.path(".brain"), aside.path().join("state")).unwrap();

    let (code, stderr) = exit_of(child);
    names_the_state_folder(&v, code, &stderr);
    let last = final_error(&stderr);
    assert!(
        last.contains("was removed")
            && last.contains("notes")
            && last.contains("`brain init` and `brain sync`"),
        "{stderr}"
    );
    assert!(
        !v.path(".brain").exists(),
        "the daemon made a .brain/ again"
    );
    assert_eq!(v.read("a.md"), b"# A\n");
    // The advice works: a new store from the notes.
    v.ok(&["init"]);
    v.sync();
    assert_eq!(listed(&v, &[]), ["note/a"]);
}

/// `.brain/` replaced by one holding its settings but no store: the daemon says so, and to run
/// `brain doctor --rebuild`, which then brings the vault back.
#[test]
fn issue13_a_daemon_whose_state_folder_lost_its_store_says_to_rebuild() {
    let v = TestVault::new();
    let (child, aside) = served_idle(&v);
    let bare = aside.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    std::fs::copy(v.path(".brain/config.toml"), bare.join("config.toml")).unwrap();
    exchange(&v.path(".brain"), &bare);

    let (code, stderr) = exit_of(child);
    names_the_state_folder(&v, code, &stderr);
    let last = final_error(&stderr);
    assert!(
        last.contains("holds no store") && last.contains("brain doctor --rebuild"),
        "{stderr}"
    );
    assert!(!v.path(".brain/brain.db").exists(), "nothing made a store");
    v.ok(&["doctor", "--rebuild"]);
    assert_eq!(listed(&v, &[]), ["note/a"]);
}

/// The whole vault moved under the daemon: it says the vault folder moved, never that its
/// store was deleted (the store is whole, at the vault's new place), and exits 1.
#[test]
fn issue13_a_daemon_whose_vault_folder_is_moved_never_says_its_store_was_deleted() {
    let v = TestVault::new();
    let (child, moved) = served_then_moved(&v);
    let (code, stderr) = exit_of(child);
    stopped_clearly(&v, code, &stderr, &moved);
    assert!(
        final_error(&stderr).contains("moved away or deleted"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("was deleted while"),
        "a store moved with its vault is not a store deleted: {stderr}"
    );
}

/// `brain mcp` over stdio, its stderr kept, initialized as a client does; stdin held open.
fn mcp_keeping_stderr(v: &TestVault) -> (Child, ChildStdin) {
    let mut child = v
        .cmd()
        .arg("mcp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("brain mcp starts");
    let mut stdin = child.stdin.take().unwrap();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "vault_layout", "version": "0"}}});
    writeln!(stdin, "{init}").unwrap();
    stdin.flush().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("\"capabilities\""), "{line}");
    (child, stdin)
}

/// `brain mcp` whose vault folder is moved away: it says the vault folder moved and exits 1
/// by itself (the client sees the server go), making nothing at the old path.
#[test]
fn issue13_brain_mcp_stops_when_its_vault_folder_is_moved() {
    let v = TestVault::new();
    v.write("a.md", "# A\n");
    v.sync();
    let (child, _stdin) = mcp_keeping_stderr(&v);
    let name = v.root().file_name().unwrap().to_string_lossy().into_owned();
    let moved = Moved {
        to: v.root().with_file_name(format!("{name}-moved")),
        back: v.root().to_path_buf(),
    };
    std::fs::rename(v.root(), &moved.to).unwrap();

    let (code, stderr) = exit_of(child);
    assert_eq!(code, 1, "{stderr}");
    let last = final_error(&stderr);
    let path = v.root().display().to_string();
    assert!(
        last.contains("brain mcp stopped")
            && last.contains(&format!(
                "the vault folder {path} was moved away or deleted"
            ))
            && last.contains("restart the MCP client"),
        "{stderr}"
    );
    assert!(!stderr.contains("was deleted while"), "{stderr}");
    assert!(
        !v.root().exists(),
        "brain mcp made something at the old path"
    );
    drop(moved);
    assert_eq!(listed(&v, &[]), ["note/a"]);
}
