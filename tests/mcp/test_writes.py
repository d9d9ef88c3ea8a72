"""c. Writes through MCP reach the files: create, update (with and without a matching
expected_hash), delete into .brain/trash."""

from __future__ import annotations

import time

import pytest

from brainmcp import Server, eventually

pytestmark = pytest.mark.anyio

# serve.sync_debounce_ms (the default) plus a margin for a debug build on a busy machine. The
# issue's "debounce plus 100 ms" is a release-build figure: `brain bench mcp` measures it.
DEBOUNCE_S = 0.5
HTTP_MARGIN_S = 4.5
# brain mcp over stdio: exported by its own worker or the next sync; the spec allows 10 s.
STDIO_LIMIT_S = 10.0

NOTE_V1 = "---\ntitle: Written over MCP\ntags:\n  - mcp\n---\n# Written over MCP\n\nzebracorn first version\n"
NOTE_V2 = "---\ntitle: Written over MCP\ntags:\n  - mcp\n---\n# Written over MCP\n\nzebracorn second version\n"
NOTE_V3 = "---\ntitle: Written over MCP\n---\n# Written over MCP\n\nthird, written over a stale hash\n"


def write_limit(server: Server) -> float:
    return DEBOUNCE_S + HTTP_MARGIN_S if server.transport == "http" else STDIO_LIMIT_S


async def wait_content(server: Server, rel: str, content: str, since: float) -> float:
    """Waits until DIR/rel holds exactly `content`; returns how long it took from `since`."""
    path = server.vault.file(rel)
    want = content.encode()

    def there() -> bool:
        try:
            return path.read_bytes() == want
        except FileNotFoundError:
            return False

    limit = write_limit(server)
    try:
        await eventually(there, limit, f"{rel} to hold the content written over MCP")
    except AssertionError:
        try:
            now = path.read_bytes()
        except FileNotFoundError:
            now = None
        raise AssertionError(
            f"{rel} does not hold what was written within {limit} s ({server.transport}); on disk: {now!r}\n"
            f"{server.describe()}"
        ) from None
    return time.monotonic() - since


async def test_create_update_delete_reach_files(server: Server) -> None:
    vault = server.vault
    rel = "mcp/written.md"
    async with server.session() as sess:
        t0 = time.monotonic()
        doc = await sess.ok("create", {"type": "note", "id": "mcp/written", "content": NOTE_V1})
        assert doc["type"] == "note" and doc["id"] == "mcp/written", doc
        assert doc["outcome"] == "created", doc
        assert doc["path"].endswith(rel), doc
        assert isinstance(doc["export_job"], int), doc
        h1 = doc["content_hash"]
        await wait_content(server, rel, NOTE_V1, t0)

        g = await sess.ok("get", {"type": "note", "id": "mcp/written"})
        assert g["content"] == NOTE_V1 and g["content_hash"] == h1 and g["tags"] == ["mcp"], g
        hits = (await sess.ok("search", {"query": "zebracorn"}))["hits"]
        assert [h["id"] for h in hits] == ["mcp/written"], hits

        # creating it again is refused: it exists
        await sess.error("create", {"type": "note", "id": "mcp/written", "content": NOTE_V2}, "exists")

        # update with the right hash
        t0 = time.monotonic()
        doc = await sess.ok("update", {"type": "note", "id": "mcp/written", "content": NOTE_V2, "expected_hash": h1})
        assert doc["outcome"] == "updated", doc
        h2 = doc["content_hash"]
        assert h2 != h1, doc
        await wait_content(server, rel, NOTE_V2, t0)

        # the same content again: unchanged
        doc = await sess.ok("update", {"type": "note", "id": "mcp/written", "content": NOTE_V2, "expected_hash": h2})
        assert doc["outcome"] == "unchanged" and doc["content_hash"] == h2, doc
        doc = await sess.ok("update", {"type": "note", "id": "mcp/written", "content": NOTE_V2})
        assert doc["outcome"] == "unchanged", doc

        # a stale hash: a tool error naming it, nothing written (the store, then the file after
        # an export-only sync has run whatever is pending)
        await sess.error("update", {"type": "note", "id": "mcp/written", "content": NOTE_V3, "expected_hash": h1}, "stale")
        g = await sess.ok("get", {"type": "note", "id": "mcp/written"})
        assert g["content"] == NOTE_V2 and g["content_hash"] == h2, g
        d = await sess.ok("sync", {"mode": "export-only"})
        assert d["state"] == "succeeded", d
        assert vault.file(rel).read_bytes() == NOTE_V2.encode(), "a stale update reached the file"

        # delete: the file moves to .brain/trash
        t0 = time.monotonic()
        doc = await sess.ok("delete", {"type": "note", "id": "mcp/written"})
        assert doc["type"] == "note" and doc["id"] == "mcp/written" and doc["path"].endswith(rel), doc
        assert isinstance(doc["export_job"], int), doc

        def trashed() -> bool:
            return not vault.file(rel).exists() and any(
                p.read_bytes() == NOTE_V2.encode() for p in vault.trash_files()
            )

        limit = write_limit(server)
        try:
            await eventually(trashed, limit, f"{rel} to move to .brain/trash")
        except AssertionError:
            raise AssertionError(
                f"after delete: {rel} exists={vault.file(rel).exists()}, trash={vault.trash_files()}\n{server.describe()}"
            ) from None
        # A deleted note is said to be restorable, not missing (issue 14.3).
        msg = await sess.error("get", {"type": "note", "id": "mcp/written"}, "not_found")
        assert "note/mcp/written was deleted" in msg and "brain restore note/mcp/written" in msg, msg
        hits = (await sess.ok("search", {"query": "zebracorn"}))["hits"]
        assert hits == [], hits
        st = await sess.ok("status")
        assert st["notes"] == 2000, st


async def test_create_in_new_folders_and_unicode(server: Server) -> None:
    """Writes to a folder that does not exist yet, with non-ASCII text, several in a burst."""
    vault = server.vault
    notes = {
        f"mcp/deep/er/n{i}": f"---\ntitle: Nötiz {i} 日本\n---\n# Nötiz {i}\n\nbody {i} ✓ émoji 🧠\n" for i in range(5)
    }
    async with server.session() as sess:
        t0 = time.monotonic()
        for id_, content in notes.items():
            doc = await sess.ok("create", {"type": "note", "id": id_, "content": content})
            assert doc["outcome"] == "created", doc
        for id_, content in notes.items():
            await wait_content(server, id_ + ".md", content, t0)
        for id_, content in notes.items():
            g = await sess.ok("get", {"type": "note", "id": id_})
            assert g["content"] == content and g["title"] == content.split("\n")[1][len("title: ") :], g
        st = await sess.ok("status")
        assert st["notes"] == 2005, st
    assert vault.snapshot().keys() >= {k + ".md" for k in notes}


async def test_stdio_close_writes_pending_exports(make_vault) -> None:
    """`brain mcp` writes the exports still due when its client closes the session: a note
    created just before closing is on disk once the session is closed, without a sync."""
    vault = make_vault(0)
    server = Server("stdio", vault)
    async with server.session() as sess:
        for i in range(3):
            d = await sess.ok("create", {"type": "note", "id": f"last/{i}", "content": f"# Last {i}\n"})
            assert d["outcome"] == "created", d
    for i in range(3):
        p = vault.file(f"last/{i}.md")
        assert p.exists() and p.read_text() == f"# Last {i}\n", f"{p} not written on close\n{server.describe()}"


async def test_stdio_session_writes_exports_the_stopped_daemon_left(make_vault) -> None:
    """A `brain mcp` session next to a daemon only queues its writes for the daemon; if the
    daemon stops before it ran them, the session writes them itself when its client leaves:
    nothing an agent wrote waits for a sync nobody runs. (Directory sync is paused while the
    daemon is up, so the daemon cannot be the one that writes the file.)"""
    vault = make_vault(0)
    daemon = Server("http", vault).start()
    stdio = Server("stdio", vault)
    try:
        vault.brain("sync", "pause")
        async with stdio.session() as sess:
            d = await sess.ok("create", {"type": "note", "id": "left/behind", "content": "# Left\n"})
            assert d["outcome"] == "created", d
            assert daemon.stop() == 0, daemon.describe()
            vault.brain("sync", "resume")
            assert not vault.file("left/behind.md").exists(), "written while paused"
    finally:
        daemon.stop()
    p = vault.file("left/behind.md")
    assert p.exists() and p.read_text() == "# Left\n", f"{p} not written\n{stdio.describe()}"
