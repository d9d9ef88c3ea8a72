"""Issue 17: the MCP server of a vault whose brain lives in PostgreSQL (the cluster scripts/test
starts, BRAIN_TEST_PG), over both transports: search, get, create and update with the
compare-and-set, and the written note reaching its file."""

from __future__ import annotations

import os
import subprocess
import time
import uuid

import pytest

from brainmcp import Server, Vault, copy_tree, note_id
from test_writes import wait_content

pytestmark = pytest.mark.anyio


@pytest.fixture
def pg_vault(tmp_path, templates) -> Vault:
    url = os.environ.get("BRAIN_TEST_PG")
    assert url, "BRAIN_TEST_PG is not set: scripts/test starts a PostgreSQL cluster (scripts/pg start)"
    db = f"mcp_{uuid.uuid4().hex[:12]}"
    r = subprocess.run(["psql", url, "-qc", f"CREATE DATABASE {db}"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    src, manifest = templates.get(200)
    root = tmp_path / "vault"
    copy_tree(src, root)
    home = tmp_path / "home"
    home.mkdir()
    v = Vault(root, home)
    v.manifest = manifest  # type: ignore[attr-defined]
    v.brain("init", "--store", url.rsplit("/", 1)[0] + "/" + db)
    v.brain("sync")
    return v


async def test_tools_on_a_postgres_vault(make_server, pg_vault: Vault) -> None:
    server: Server = make_server(pg_vault)
    q = pg_vault.manifest["queries"]
    needle, expected = q["needle"], q["needle_expected_notes"]
    async with server.session() as sess:
        hits = (await sess.ok("search", {"query": needle, "limit": 100}))["hits"]
        assert len(hits) == expected, (len(hits), expected)
        p = pg_vault.manifest["paths"][3]
        doc = await sess.ok("get", {"type": "note", "id": note_id(p)})
        assert doc["content"].encode() == pg_vault.file(p).read_bytes()
        t0 = time.monotonic()
        made = await sess.ok("create", {"type": "note", "id": "pg/made", "content": "# Made\n\nin postgres quokkapg\n"})
        await wait_content(server, "pg/made.md", "# Made\n\nin postgres quokkapg\n", t0)
        await sess.error(
            "update",
            {"type": "note", "id": "pg/made", "content": "# Other\n", "expected_hash": "0" * 64},
            "stale",
        )
        t0 = time.monotonic()
        await sess.ok(
            "update",
            {"type": "note", "id": "pg/made", "content": "# Made\n\nquokkaupdated\n", "expected_hash": made["content_hash"]},
        )
        await wait_content(server, "pg/made.md", "# Made\n\nquokkaupdated\n", t0)
        assert [h["id"] for h in (await sess.ok("search", {"query": "quokkaupdated"}))["hits"]] == ["pg/made"]
