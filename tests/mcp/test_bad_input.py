"""d. Bad input: each is a tool error (isError, not a protocol error) whose `kind` names the
problem (the stable {"error": {"kind", "message"}} of every tool error: the wording of the
message is for people and may change, the kind may not), nothing changes on disk, and the
session keeps working."""

from __future__ import annotations

from pathlib import Path

import pytest

from brainmcp import Server, Session, note_id

pytestmark = pytest.mark.anyio

MAX_BODY = 1000


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
        await sess.error("create", {"type": "nosuchtype", "id": "x", "content": good}, "unknown_type")
        await still_works(sess)
        await sess.error("get", {"type": "nosuchtype", "id": "x"}, "unknown_type")

        # ids that leave the vault (or land where sync never reads them back)
        for bad in ("../escape", "/abs", "a/../../escape", "a/../../../escape", ".brain/escape", ".git/escape"):
            await sess.error("create", {"type": "note", "id": bad, "content": good}, "unsafe_id")
            await still_works(sess)
        h = (await sess.ok("get", {"type": "note", "id": eid}))["content_hash"]
        await sess.error("update", {"type": "note", "id": "../" + eid, "content": good, "expected_hash": h}, "unsafe_id")
        # Without a hash, `update` looks the note up first: there is none by that id.
        await sess.error("update", {"type": "note", "id": "../" + eid, "content": good}, "not_found")

        # an oversized body (over this server's mcp.max_body_bytes)
        big = "---\ntitle: Big\n---\n" + "x" * (2000 - 20) + "\n"
        assert len(big.encode()) >= 2000
        msg = await sess.error("create", {"type": "note", "id": "mcp/big", "content": big}, "too_large")
        assert str(MAX_BODY) in msg, msg
        await still_works(sess)
        await sess.error("update", {"type": "note", "id": eid, "content": big}, "too_large")

        # invalid frontmatter: bad YAML, never closed, not a map
        for bad_fm in ("---\ntitle: [unclosed\n---\nbody", "---\ntitle: Open\nbody\n", "---\n- a\n- b\n---\nbody"):
            await sess.error("create", {"type": "note", "id": "mcp/badfm", "content": bad_fm}, "invalid_frontmatter")
            await still_works(sess)
            await sess.error("update", {"type": "note", "id": eid, "content": bad_fm}, "invalid_frontmatter")

        # no text at all
        await sess.error("create", {"type": "note", "id": "mcp/empty", "content": ""}, "not_text")
        await sess.error("create", {"type": "note", "id": "mcp/nul", "content": "a\u0000b"}, "not_text")

        # missing entities
        for tool, args in (
            ("get", {"type": "note", "id": "no/such/note"}),
            ("update", {"type": "note", "id": "no/such/note", "content": good}),
            ("delete", {"type": "note", "id": "no/such/note"}),
        ):
            await sess.error(tool, args, "not_found")
            await still_works(sess)
        # An update with a hash of a note that is not there: its hash is not what was expected.
        await sess.error(
            "update", {"type": "note", "id": "no/such/note", "content": good, "expected_hash": "0" * 64}, "stale"
        )

        # bad job ids
        for tool in ("job_status", "cancel_job"):
            await sess.error(tool, {"id": 987654321}, "unknown_job")
            await still_works(sess)

        # Nothing was stored: the notes are as they were, and a full sync (which would write
        # anything pending) leaves the files as they were.
        g = await sess.ok("get", {"type": "note", "id": eid})
        assert g["content"].encode() == vault.file(existing).read_bytes()
        for id_ in ("mcp/big", "mcp/badfm", "mcp/empty", "mcp/nul", "x", "escape"):
            await sess.error("get", {"type": "note", "id": id_}, "not_found")
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
        await sess.error("sync", {"mode": "sideways"}, "bad_argument")
        await still_works(sess)
        # the op is checked before the vault's git setup (this vault has none)
        await sess.error("git_sync", {"op": "teleport"}, "bad_argument")
        await still_works(sess)
        # refused by the SDK's argument decoding in the server, still with a kind
        msg = await sess.error("list", {"limit": -5}, "bad_argument")
        assert "-5" in msg, msg
        await sess.error("get", {"type": "note"}, "bad_argument")
        await sess.error("job_status", {"id": "seven"}, "bad_argument")
        await sess.error("search", {"query": "   "}, "bad_argument")
        await still_works(sess)


async def test_unknown_arguments_are_refused_by_name(server: Server) -> None:
    """A misspelt or unknown argument is a bad_argument naming it and the tool, never silently
    ignored (issue 14.7: `search` answered a different question than was asked)."""
    calls = {
        "search": {"query": "x", "limt": 5},
        "list": {"offest": 10},
        "get": {"type": "note", "id": "x", "format": "md"},
        "create": {"type": "note", "id": "mcp/never", "content": "x\n", "overwrite": True},
        "update": {"type": "note", "id": "x", "content": "x\n", "hash": "h"},
        "delete": {"type": "note", "id": "x", "force": True},
        "sync": {"wait": False, "mod": "full"},
        "git_sync": {"operation": "pull"},
        "status": {"verbose": True},
        "job_status": {"id": 1, "job": 1},
        "cancel_job": {"id": 1, "reason": "x"},
    }
    async with server.session() as sess:
        for tool, args in calls.items():
            unknown = list(args)[-1]
            msg = await sess.error(tool, args, "bad_argument")
            assert f"`{unknown}`" in msg and f"`{tool}`" in msg, f"{tool}: {msg}"
        await sess.error("get", {"type": "note", "id": "mcp/never"}, "not_found")
        await still_works(sess)


async def test_a_limit_of_zero_is_refused(server: Server) -> None:
    """`limit: 0` asked for no notes and got one (issue 14.3); now it is a bad_argument, as
    `brain list --limit 0` is a usage mistake."""
    async with server.session() as sess:
        for tool, args in (("list", {"limit": 0}), ("search", {"query": "note", "limit": 0})):
            msg = await sess.error(tool, args, "bad_argument")
            assert "limit of 0" in msg, msg
        doc = await sess.ok("list", {"limit": 1})
        assert len(doc["items"]) == 1 and doc["next_offset"] == 1, doc
        await still_works(sess)


async def test_update_of_a_missing_note_is_an_error(server: Server) -> None:
    """The spec: `update` of a missing entity is a tool error (`create` makes notes), and nothing
    is written."""
    async with server.session() as sess:
        await sess.error("update", {"type": "note", "id": "no/such/note", "content": "# Upserted\n"}, "not_found")
        # An empty expected hash is not a way around it (the store reads "" as "no note").
        await sess.error(
            "update",
            {"type": "note", "id": "no/such/note", "content": "# Upserted\n", "expected_hash": ""},
            "bad_argument",
        )
        await sess.error("get", {"type": "note", "id": "no/such/note"}, "not_found")
        d = await sess.ok("sync", {"mode": "export-only"})
        assert d["state"] == "succeeded", d
    assert not server.vault.file("no/such/note.md").exists()
