"""Issue 13 item 7: an MCP session answers from what the files hold. A file saved on disk before a
call is in that call's answer (no `sync` in between, no waiting out a debounce), and an update
over a hash read before a person's edit is refused as stale, with the person's text kept and no
conflict copy made."""

from __future__ import annotations

import fcntl
import os
import subprocess
import time

import anyio
import pytest

from brainmcp import Server, Vault, eventually, note_id

pytestmark = pytest.mark.anyio

# Long after any debounce (0.5 s) and any fence round trip: the writes below must be in the
# answer at once, so this only bounds how long a broken build is waited for.
EXPORT_LIMIT_S = 15.0


def first_note(vault: Vault, folder_too: bool = True) -> str:
    """A note of the generated vault inside a folder (so the folder's other notes exist)."""
    paths = sorted(p for p in vault.manifest["paths"] if (not folder_too or "/" in p))  # type: ignore[attr-defined]
    assert paths, "the generated vault has no note in a folder"
    return paths[0]


def save(path: os.PathLike[str] | str, text: str) -> None:
    """Saves a file in place, as an editor without atomic saves does: the folder does not
    change, only the file's bytes and stat."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def conflict_copies(vault: Vault) -> list[str]:
    return sorted(p for p in vault.md_files() if ".conflict-" in p)


async def test_issue13_a_file_saved_on_disk_is_in_the_next_get_and_search(server: Server) -> None:
    vault = server.vault
    rel = first_note(vault)
    ident = note_id(rel)
    folder = rel.rsplit("/", 1)[0]
    async with server.session() as sess:
        before = await sess.ok("get", {"type": "note", "id": ident})
        assert "quokkafresh" not in before["content"], before

        # An edit in place of a note the store knows: the very next get and search see it.
        edited = "# Edited by a person\n\nquokkafresh edited on disk\n"
        save(vault.file(rel), edited)
        got = await sess.ok("get", {"type": "note", "id": ident})
        assert got["content"] == edited, f"get answered the old content after the file was saved: {got['content'][:200]!r}"
        assert "warning" not in got, got
        hits = (await sess.ok("search", {"query": "quokkafresh"}))["hits"]
        assert [h["id"] for h in hits] == [ident], hits

        # A new note in that folder, and one in a folder made after the session started.
        save(vault.file(f"{folder}/made-by-hand.md"), "# By hand\n\nquokkanew in an old folder\n")
        os.makedirs(vault.file("handmade/deeper"))
        save(vault.file("handmade/deeper/n.md"), "# Deep\n\nquokkanew in a new folder\n")
        hits = (await sess.ok("search", {"query": "quokkanew"}))["hits"]
        assert sorted(h["id"] for h in hits) == sorted([f"{folder}/made-by-hand", "handmade/deeper/n"]), hits
        listed = await sess.ok("list", {"folder": "handmade"})
        assert [i["id"] for i in listed["items"]] == ["handmade/deeper/n"], listed

        # A file removed on disk is gone from the next answer.
        os.remove(vault.file(f"{folder}/made-by-hand.md"))
        await sess.error("get", {"type": "note", "id": f"{folder}/made-by-hand"}, "not_found")
        hits = (await sess.ok("search", {"query": "quokkanew"}))["hits"]
        assert [h["id"] for h in hits] == ["handmade/deeper/n"], hits

        # The same through a resource read.
        save(vault.file(rel), edited + "\nquokkaresource\n")
        res = await sess.s.read_resource(f"entity://note/{ident}")  # type: ignore[arg-type]
        assert res.contents[0].text == edited + "\nquokkaresource\n", res  # type: ignore[union-attr]


async def test_issue13_an_update_over_a_hash_read_before_a_disk_edit_is_stale(server: Server) -> None:
    vault = server.vault
    rel = first_note(vault)
    ident = note_id(rel)
    async with server.session() as sess:
        read = await sess.ok("get", {"type": "note", "id": ident})
        person = "# The person's version\n\nwritten while the agent was thinking\n"
        save(vault.file(rel), person)
        agent = "# The agent's version\n\nbased on what it read before\n"
        message = await sess.error(
            "update",
            {"type": "note", "id": ident, "content": agent, "expected_hash": read["content_hash"]},
            "stale",
        )
        assert ident in message, message
        # Nothing of the agent's text went anywhere: the file and the note are the person's.
        assert vault.file(rel).read_text() == person
        now = await sess.ok("get", {"type": "note", "id": ident})
        assert now["content"] == person and now["content_hash"] != read["content_hash"], now

        # With the hash of what is there now, the update is what happens.
        doc = await sess.ok(
            "update", {"type": "note", "id": ident, "content": agent, "expected_hash": now["content_hash"]}
        )
        assert doc["outcome"] == "updated", doc
        await eventually(
            lambda: vault.file(rel).read_text() == agent, EXPORT_LIMIT_S, f"{rel} to hold the agent's update"
        )
        # Only once the export ran can a wrong outcome show: its text in a conflict copy.
        await sess.ok("sync", {})
        assert vault.file(rel).read_text() == agent
        assert conflict_copies(vault) == [], conflict_copies(vault)


async def test_issue13_a_file_saved_before_the_session_is_in_its_first_answer(server: Server) -> None:
    """Saved while no session watched (and, over HTTP, after the daemon's start without its
    initial sync): the session's first call imports the vault once."""
    vault = server.vault
    save(vault.file("inbox-by-hand.md"), "# Saved by a person\n")
    async with server.session() as sess:
        await sess.error("create", {"type": "note", "id": "inbox-by-hand", "content": "# Agent\n"}, "exists")
        assert vault.file("inbox-by-hand.md").read_text() == "# Saved by a person\n"
        got = await sess.ok("get", {"type": "note", "id": "inbox-by-hand"})
        assert got["content"] == "# Saved by a person\n", got


def fences(vault: Vault) -> list[str]:
    return sorted(f for f in os.listdir(vault.file(".brain")) if f.startswith("mcp-fence-"))


async def test_issue13_fence_files_left_by_a_killed_session_are_removed_at_the_next_start(
    server: Server,
) -> None:
    """A session killed with -9 between creating its fence (`.brain/mcp-fence-PID-I-N`) and
    removing it leaves the file behind (60 kills of `brain mcp` mid-call left 31 of them). The
    next session's first call removes those of processes that are gone, and those older than a
    fence can live; a live session's fence is left alone. None is ever read as a note."""
    vault = server.vault
    finished = subprocess.Popen(["true"])  # a process that is gone: its PID is not running
    finished.wait()
    left = [f"mcp-fence-{finished.pid}-0-{n}" for n in (7, 8)]
    old = f"mcp-fence-{os.getpid()}-5-3"  # a live PID, but far older than a fence lives
    live = f"mcp-fence-{os.getpid()}-6-1"  # a live session's fence, just made
    for name in [*left, old, live]:
        vault.file(f".brain/{name}").write_bytes(b"")
    an_hour_ago = time.time() - 3600
    os.utime(vault.file(f".brain/{old}"), (an_hour_ago, an_hour_ago))
    async with server.session() as sess:
        await sess.ok("list", {"limit": 1})
        assert fences(vault) == [live], fences(vault)
        listed = await sess.ok("list", {"limit": 10_000})
        assert not [i for i in listed["items"] if "fence" in i["id"]], listed
    os.remove(vault.file(f".brain/{live}"))


async def test_issue13_calls_waiting_for_a_long_sync_answer_within_the_wait_of_their_arrival(
    server: Server,
) -> None:
    """Calls that arrive while another sync holds `.brain/sync.lock` queue behind one another;
    each answers (from the store, saying it may be stale) within the lock wait (10 s) counted from
    its own arrival. Before, each waited its own 10 s after the previous one: four calls came back
    at 10, 20, 30 and 40 s. Once the lock is free, the next call imports the edit."""
    vault = server.vault
    rel = first_note(vault)
    ident = note_id(rel)
    async with server.session() as sess:
        await sess.ok("get", {"type": "note", "id": ident})
        save(vault.file(rel), "# Saved while a sync ran\n")
        answers: list[tuple[float, dict]] = []
        fd = os.open(vault.file(".brain/sync.lock"), os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            start = time.monotonic()

            async def call() -> None:
                doc = await sess.ok("get", {"type": "note", "id": ident})
                answers.append((time.monotonic() - start, doc))

            async with anyio.create_task_group() as tg:
                for _ in range(4):
                    tg.start_soon(call)
        finally:
            os.close(fd)
        # 10 s each, plus a wide margin for a loaded machine; one wait after another is 40 s.
        slowest = max(t for t, _ in answers)
        assert slowest < 25, f"the calls answered after {[round(t, 1) for t, _ in answers]} s"
        for _, doc in answers:
            assert "sync.lock" in doc.get("warning", ""), doc
        got = await sess.ok("get", {"type": "note", "id": ident})
        assert got["content"] == "# Saved while a sync ran\n" and "warning" not in got, got


async def test_issue13_a_file_saved_but_not_importable_is_named_in_the_answer(server: Server) -> None:
    """A note's file truncated (an editor's save caught half way, or emptied by hand) is not
    imported (an empty file is skipped), so the store keeps the old text: the answer says so,
    naming the file and why, instead of passing the old text off as what the file holds. The
    same for a named pipe saved at a note's path, which is never opened (the call answers)."""
    vault = server.vault
    rel = first_note(vault)
    ident = note_id(rel)
    async with server.session() as sess:
        before = await sess.ok("get", {"type": "note", "id": ident})
        open(vault.file(rel), "w").close()
        got = await sess.ok("get", {"type": "note", "id": ident})
        assert got["content"] == before["content"], got
        warning = got.get("warning", "")
        assert rel in warning and "empty file" in warning and "not imported" in warning, got

        save(vault.file(rel), "# Saved whole\n")
        got = await sess.ok("get", {"type": "note", "id": ident})
        assert got["content"] == "# Saved whole\n" and "warning" not in got, got

        os.mkfifo(vault.file("a-pipe.md"))
        with anyio.fail_after(30):
            listed = await sess.ok("list", {"limit": 1})
        assert "a-pipe.md" in listed.get("warning", ""), listed
        with anyio.fail_after(30):
            listed = await sess.ok("list", {"limit": 1})
        assert "warning" not in listed, listed
