"""g. After a session of writes, the tree on disk: every note file equals its entity, every
deleted note's file is in the trash as it was, and no temp files are left anywhere."""

from __future__ import annotations

from pathlib import PurePosixPath

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
        deleted = {p: vault.file(p).read_bytes() for p in paths[10:15]}
        for p in deleted:
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
        # every file, byte for byte (a couple of thousand local calls: cheap)
        for p in sorted(files):
            g = await sess.ok("get", {"type": "note", "id": note_id(p)})
            assert g["content"].encode() == files[p], f"{p}: file and entity differ"
        assert all(files[f"mcp/tree/{i}.md"] == f"# Tree {i}\n\nleaf {i}\n".encode() for i in range(10))

    stray = [
        f
        for f in vault.all_files()
        if "brain-tmp" in f or f.endswith((".tmp", ".swp", "~")) or ".conflict-" in f
    ]
    assert not stray, f"stray files: {stray}"
    outside_brain = [f for f in vault.all_files() if not f.startswith(".brain/") and not f.endswith(".md")]
    assert not outside_brain, f"non-note files in the vault: {outside_brain}"
    # The trash holds exactly the deleted files (`.brain/trash/STAMP/<path>`), each byte for byte
    # what it was before the delete.
    trash = vault.root / ".brain/trash"
    trashed: dict[str, bytes] = {}
    for f in vault.trash_files():
        rel = PurePosixPath(f.relative_to(trash).as_posix())
        assert len(rel.parts) > 1, f"{rel}: a trashed file outside a stamp folder"
        path = PurePosixPath(*rel.parts[1:]).as_posix()
        assert path not in trashed, f"{path} trashed twice"
        trashed[path] = f.read_bytes()
    assert set(trashed) == set(deleted), f"trashed {sorted(trashed)}, deleted {sorted(deleted)}"
    for p, data in deleted.items():
        assert trashed[p] == data, f"{p}: the trashed copy differs from the deleted file"
