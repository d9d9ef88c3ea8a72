"""git_sync: a tool error on a vault without git sync; on one connected to a bare remote, the
note created over MCP reaches the remote's main branch."""

from __future__ import annotations

import subprocess

import pytest

from brainmcp import Server, eventually, wait_job

pytestmark = pytest.mark.anyio

AUTHOR = {"BRAIN_GIT_AUTHOR_NAME": "MCP Test", "BRAIN_GIT_AUTHOR_EMAIL": "mcp-test@example.com"}
NOTE = "---\ntitle: Through git\n---\n# Through git\n\ncommitted by git_sync\n"


async def test_git_sync_without_git(server: Server) -> None:
    async with server.session() as sess:
        await sess.error("git_sync", {}, "git_not_configured")
        await sess.error("git_sync", {"op": "push", "wait": False}, "git_not_configured")
        st = await sess.ok("status")
        assert st["notes"] == 2000, st


async def test_git_sync_pushes(make_server, make_vault, tmp_path) -> None:
    vault = make_vault(20)
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True, env=vault.env())
    vault.brain("git", "init", "--remote", str(bare), env=AUTHOR)
    server: Server = make_server(vault, env=AUTHOR)
    async with server.session() as sess:
        doc = await sess.ok("create", {"type": "note", "id": "mcp/git-note", "content": NOTE})
        assert doc["outcome"] == "created", doc
        path = vault.file("mcp/git-note.md")
        await eventually(lambda: path.exists() and path.read_text() == NOTE, 10, "the note's file")

        doc = await sess.ok("git_sync", {"op": "sync"})
        assert doc["state"] == "succeeded", doc
        assert doc["error"] is None, doc

        def on_remote() -> str | None:
            r = subprocess.run(
                ["git", "--git-dir", str(bare), "show", "main:mcp/git-note.md"],
                capture_output=True,
                text=True,
                env=vault.env(),
            )
            return r.stdout if r.returncode == 0 else None

        assert on_remote() == NOTE, f"the remote's main has {on_remote()!r}"

        for op in ("pull", "push"):
            d = await sess.ok("git_sync", {"op": op})
            assert d["state"] == "succeeded", (op, d)
        d = await sess.ok("git_sync", {"wait": False})
        assert "job" in d and isinstance(d.get("joined"), bool), d
        # Not left running while the session closes and the test's folder is removed.
        done = await wait_job(sess, d["job"])
        assert done["state"] == "succeeded", done
