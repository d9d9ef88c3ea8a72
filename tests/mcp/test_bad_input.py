"""d. Bad input: each is a tool error (isError, not a protocol error) whose message names the
problem, nothing changes on disk, and the session keeps working."""

from __future__ import annotations

from pathlib import Path

import pytest

from brainmcp import Server, Session, note_id

pytestmark = pytest.mark.anyio

MAX_BODY = 1000


def names(msg: str, *words: str) -> bool:
    low = msg.lower()
    return any(w.lower() in low for w in words)


async def still_works(sess: Session) -> None:
    st = await sess.ok("status")
    assert st["notes"] == 2000, st


async def test_bad_input(make_server, vault) -> None:
    server: Server = make_server(vault, env={"BRAIN_MCP_MAX_BODY_BYTES": str(MAX_BODY)})
    existing = vault.manifest["paths"][0]
    eid = note_id(existing)
    before = vault.snapshot()
    outside = vault.root.parent
    outside_before = sorted(p.name for p in outside.iterdir())
    good = "---\ntitle: Fine\n---\nbody\n"

    async with server.session() as sess:
        # unknown type
        msg = await sess.error("create", {"type": "nosuchtype", "id": "x", "content": good})
        assert names(msg, "nosuchtype", "unknown type"), msg
        await still_works(sess)
        msg = await sess.error("get", {"type": "nosuchtype", "id": "x"})
        assert names(msg, "nosuchtype", "unknown type", "not found"), msg

        # ids that leave the vault
        for bad in ("../escape", "/abs", "a/../../escape", "a/../../../escape"):
            msg = await sess.error("create", {"type": "note", "id": bad, "content": good})
            assert names(msg, bad, "id", "path", "outside", "escape", "absolute", ".."), msg
            await still_works(sess)
        msg = await sess.error("update", {"type": "note", "id": "../" + eid, "content": good})
        assert names(msg, "id", "path", "outside", "escape", ".."), msg

        # an oversized body
        big = "---\ntitle: Big\n---\n" + "x" * (2000 - 20) + "\n"
        assert len(big.encode()) >= 2000
        msg = await sess.error("create", {"type": "note", "id": "mcp/big", "content": big})
        assert names(msg, "large", "size", "bytes", str(MAX_BODY), "limit", "too long"), msg
        await still_works(sess)
        msg = await sess.error("update", {"type": "note", "id": eid, "content": big})
        assert names(msg, "large", "size", "bytes", str(MAX_BODY), "limit", "too long"), msg

        # invalid frontmatter
        bad_fm = "---\ntitle: [unclosed\n---\nbody"
        msg = await sess.error("create", {"type": "note", "id": "mcp/badfm", "content": bad_fm})
        assert names(msg, "frontmatter", "yaml"), msg
        await still_works(sess)
        msg = await sess.error("update", {"type": "note", "id": eid, "content": bad_fm})
        assert names(msg, "frontmatter", "yaml"), msg

        # missing entities
        for tool, args in (
            ("get", {"type": "note", "id": "no/such/note"}),
            ("update", {"type": "note", "id": "no/such/note", "content": good, "expected_hash": "0" * 64}),
            ("delete", {"type": "note", "id": "no/such/note"}),
        ):
            msg = await sess.error(tool, args)
            assert names(msg, "not found", "no such", "does not exist", "no/such/note"), (tool, msg)
            await still_works(sess)

        # bad job ids
        for tool in ("job_status", "cancel_job"):
            msg = await sess.error(tool, {"id": 987654321})
            assert names(msg, "not found", "no such", "987654321", "unknown job"), (tool, msg)
            await still_works(sess)

        # Nothing was stored: the notes are as they were, and a full sync (which would write
        # anything pending) leaves the files as they were.
        g = await sess.ok("get", {"type": "note", "id": eid})
        assert g["content"].encode() == vault.file(existing).read_bytes()
        for id_ in ("mcp/big", "mcp/badfm", "x", "escape"):
            await sess.error("get", {"type": "note", "id": id_})
        d = await sess.ok("sync", {})
        assert d["state"] == "succeeded", d
        assert d["result"]["imported"] == 0 and d["result"]["exported"] == 0, d["result"]

        # and a write within the limits still works
        doc = await sess.ok("create", {"type": "note", "id": "mcp/fine", "content": good})
        assert doc["outcome"] == "created", doc

    after = vault.snapshot()
    after.pop("mcp/fine.md", None)
    assert after == before, f"files changed: {set(after.items()) ^ set(before.items())}"
    assert sorted(p.name for p in outside.iterdir()) == outside_before, "something was written beside the vault"
    assert not Path("/abs.md").exists()
    assert not list(vault.root.rglob("*escape*")), list(vault.root.rglob("*escape*"))
    assert not (vault.root / "nosuchtype").exists()


async def test_bad_arguments_are_tool_errors(server: Server) -> None:
    """Arguments of the wrong shape or an unknown mode/op are answered as tool errors too."""
    async with server.session() as sess:
        msg = await sess.error("sync", {"mode": "sideways"})
        assert names(msg, "sideways", "mode"), msg
        await still_works(sess)
        msg = await sess.error("git_sync", {"op": "teleport"})
        assert names(msg, "teleport", "op", "git"), msg
        await still_works(sess)
        msg = await sess.error("list", {"limit": -5})
        assert names(msg, "limit", "-5"), msg
        await still_works(sess)


async def test_update_of_a_missing_note_is_an_error(server: Server) -> None:
    """The spec: `update` of a missing entity is a tool error (`create` makes notes), and nothing
    is written."""
    async with server.session() as sess:
        msg = await sess.error("update", {"type": "note", "id": "no/such/note", "content": "# Upserted\n"})
        assert names(msg, "not found", "no such", "does not exist", "no/such/note"), msg
        # An empty expected hash is not a way around it (the store reads "" as "no note").
        msg = await sess.error(
            "update", {"type": "note", "id": "no/such/note", "content": "# Upserted\n", "expected_hash": ""}
        )
        assert names(msg, "hash"), msg
        await sess.error("get", {"type": "note", "id": "no/such/note"})
        d = await sess.ok("sync", {"mode": "export-only"})
        assert d["state"] == "succeeded", d
    assert not server.vault.file("no/such/note.md").exists()
