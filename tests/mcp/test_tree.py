"""g. After a session of writes, the tree on disk: every note file equals its entity, and no
temp files are left anywhere."""

from __future__ import annotations

import random

import pytest

from brainmcp import Server, eventually, note_id

pytestmark = pytest.mark.anyio


async def test_tree_matches_store(server: Server) -> None:
    vault = server.vault
    paths = vault.manifest["paths"]
    async with server.session() as sess:
        # a mix of writes: new notes, updates of generated ones, deletes
        for i in range(10):
            await sess.ok("create", {"type": "note", "id": f"mcp/tree/{i}", "content": f"# Tree {i}\n\nleaf {i}\n"})
        for p in paths[:10]:
            g = await sess.ok("get", {"type": "note", "id": note_id(p)})
            new = g["content"] + "\nAppended over MCP.\n"
            d = await sess.ok("update", {"type": "note", "id": note_id(p), "content": new, "expected_hash": g["content_hash"]})
            assert d["outcome"] == "updated", d
        for p in paths[10:15]:
            await sess.ok("delete", {"type": "note", "id": note_id(p)})

        # once the exports ran, the files are what the store holds
        def settled() -> bool:
            files = vault.md_files()
            return (
                all(f"mcp/tree/{i}.md" in files for i in range(10))
                and all(files.get(p, b"").endswith(b"\nAppended over MCP.\n") for p in paths[:10])
                and not any(p in files for p in paths[10:15])
            )

        await eventually(settled, 10, "the writes to reach the files")
        d = await sess.ok("sync", {})
        assert d["state"] == "succeeded", d
        assert d["result"]["imported"] == 0 and d["result"]["updated"] == 0, d["result"]

        files = vault.md_files()
        items = []
        offset = 0
        while offset is not None:
            page = await sess.ok("list", {"limit": 1000, "offset": offset})
            items += page["items"]
            offset = page["next_offset"]
        listed = {vault.rel(it["path"]) for it in items}
        assert listed == set(files), f"store and disk differ: {sorted(listed ^ set(files))[:10]}"
        sample = random.Random(7).sample(sorted(files), 50) + [f"mcp/tree/{i}.md" for i in range(10)] + paths[:10]
        for p in sample:
            g = await sess.ok("get", {"type": "note", "id": note_id(p)})
            assert g["content"].encode() == files[p], f"{p}: file and entity differ"

    stray = [
        f
        for f in vault.all_files()
        if "brain-tmp" in f or f.endswith((".tmp", ".swp", "~")) or ".conflict-" in f
    ]
    assert not stray, f"stray files: {stray}"
    outside_brain = [f for f in vault.all_files() if not f.startswith(".brain/") and not f.endswith(".md")]
    assert not outside_brain, f"non-note files in the vault: {outside_brain}"
    assert len(vault.trash_files()) >= 5, vault.trash_files()
