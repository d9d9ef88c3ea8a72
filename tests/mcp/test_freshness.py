"""Issue 13 item 7: an MCP session answers from what the files hold. A file saved on disk before a
call is in that call's answer (no `sync` in between, no waiting out a debounce), and an update
over a hash read before a person's edit is refused as stale, with the person's text kept and no
conflict copy made."""

from __future__ import annotations

import os

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
