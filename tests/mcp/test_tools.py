"""b. Every tool with good input, its answer checked against the vault on disk."""

from __future__ import annotations

import json
import re

import pytest

from brainmcp import TERMINAL, Server, note_id, result_text, wait_job
from mcpsdk import is_error, wire

pytestmark = pytest.mark.anyio


async def test_get(server: Server) -> None:
    vault = server.vault
    paths = vault.manifest["paths"]
    sample = [paths[i] for i in (0, 1, 97, 500, 1999)]
    async with server.session() as sess:
        for p in sample:
            doc = await sess.ok("get", {"type": "note", "id": note_id(p)})
            want = {"type", "id", "path", "title", "metadata", "tags", "content", "content_hash", "created", "updated", "deleted"}
            assert set(doc) == want, f"get answers {sorted(doc)}, want {sorted(want)}"
            assert doc["type"] == "note" and doc["id"] == note_id(p), doc
            assert vault.rel(doc["path"]) == p, doc["path"]
            disk = vault.file(p).read_bytes()
            assert doc["content"].encode() == disk, f"get content of {p} differs from the file"
            # The text once (issue 14.6: it came as `body` and `content`, twice the size).
            sent = result_text(await sess.call("get", {"type": "note", "id": note_id(p)}))
            line = json.dumps(doc["content"].rstrip().rsplit("\n", 1)[-1])[1:-1]
            in_content = json.dumps(doc["content"]).count(line)
            assert sent.count(line) == in_content, f"{p}: the text is sent more than once ({len(sent)} characters for {len(disk)} bytes)"
            assert doc["title"] and doc["title"] in doc["content"], doc["title"]
            assert isinstance(doc["metadata"], dict) and doc["metadata"].get("title") == doc["title"], doc["metadata"]
            assert isinstance(doc["tags"], list), doc["tags"]
            assert sorted(doc["tags"]) == sorted(doc["metadata"].get("tags") or []), (doc["tags"], doc["metadata"])
            for t in doc["tags"]:
                assert t in doc["content"], f"tag {t} not in the file"
            assert isinstance(doc["content_hash"], str) and len(doc["content_hash"]) >= 16, doc["content_hash"]


async def test_search(server: Server) -> None:
    vault = server.vault
    q = vault.manifest["queries"]
    needle, expected = q["needle"], q["needle_expected_notes"]
    async with server.session() as sess:
        doc = await sess.ok("search", {"query": needle, "limit": 100})
        hits = doc["hits"]
        assert len(hits) == expected, f"search {needle!r}: {len(hits)} hits, the vault has {expected} notes with it"
        for h in hits:
            assert {"type", "id", "title", "path", "score", "snippet"} <= set(h), h
            assert h["type"] == "note"
            p = vault.rel(h["path"])
            assert h["id"] == note_id(p), h
            assert needle in vault.file(p).read_text(), f"hit {p} does not contain {needle!r}"
            assert needle in h["snippet"], f"snippet does not show the match: {h['snippet']!r}"
            assert isinstance(h["score"], (int, float)), h["score"]
        scores = [h["score"] for h in hits]
        assert scores == sorted(scores, reverse=True), f"hits not ranked best first: {scores}"

        # Matched words are marked ⟦like this⟧ (issue 14.7), never ** (Markdown bold).
        for h in hits:
            marked = re.findall(r"⟦([^⟦⟧]*)⟧", h["snippet"].replace("⟦⟦", "").replace("⟧⟧", ""))
            assert needle.lower() in [m.lower() for m in marked], f"{needle!r} is not marked: {h['snippet']!r}"

        # limit, types
        doc = await sess.ok("search", {"query": needle, "limit": 5, "types": ["note"]})
        assert len(doc["hits"]) == 5, doc
        # an unknown type: no hits, or a tool error naming it
        r = await sess.call("search", {"query": needle, "types": ["nosuchtype"]})
        if is_error(r):
            assert "nosuchtype" in result_text(r), result_text(r)
        else:
            assert json.loads(result_text(r))["hits"] == [], result_text(r)

        # tags: every hit carries the tag (checked through get and the file)
        doc = await sess.ok("search", {"query": needle, "tags": ["finance"], "limit": 100})
        tagged = doc["hits"]
        assert 0 < len(tagged) < expected, f"tag filter kept {len(tagged)} of {expected}"
        for h in tagged:
            g = await sess.ok("get", {"type": "note", "id": h["id"]})
            assert "finance" in g["tags"], (h["id"], g["tags"])

        # The words of one generated note's title find it.
        p = vault.manifest["paths"][3]
        title = vault.file(p).read_text().split("\n# ", 1)[1].split("\n", 1)[0]
        doc = await sess.ok("search", {"query": f'"{title}"', "limit": 50})
        assert note_id(p) in [h["id"] for h in doc["hits"]], f"search for {title!r} does not find {p}"


async def test_search_pages(server: Server) -> None:
    """Search pages like list (issue 14.7): offset and next_offset walk the whole ranking, each
    hit once, and the last page has next_offset null."""
    q = server.vault.manifest["queries"]
    needle, expected = q["needle"], q["needle_expected_notes"]
    assert expected > 7, f"the generated vault has only {expected} notes with {needle!r}"
    async with server.session() as sess:
        ranked = [h["id"] for h in (await sess.ok("search", {"query": needle, "limit": 500}))["hits"]]
        assert len(ranked) == expected, (len(ranked), expected)
        paged: list[str] = []
        offset: int | None = 0
        pages = 0
        while offset is not None:
            doc = await sess.ok("search", {"query": needle, "limit": 7, "offset": offset})
            assert set(doc) == {"hits", "next_offset"}, doc
            paged += [h["id"] for h in doc["hits"]]
            offset = doc["next_offset"]
            pages += 1
            assert pages <= expected // 7 + 1, f"more pages than {expected} hits need: {doc}"
        assert paged == ranked, "the pages, in order, are not the whole ranking"
        doc = await sess.ok("search", {"query": needle, "offset": expected})
        assert doc == {"hits": [], "next_offset": None}, doc


async def test_search_marks_cannot_be_confused_with_the_note(server: Server) -> None:
    """The note's own **bold** stays as it is, and a ⟦ or ⟧ the note holds is doubled, so a
    reader can always tell a match from the text (issue 14.7; the tool description says how)."""
    async with server.session() as sess:
        tools = {t["name"]: t for t in wire(await sess.s.list_tools())["tools"]}
        desc = tools["search"]["description"]
        assert "⟦" in desc and "twice" in desc, desc
        await sess.ok("create", {"type": "note", "id": "marks/probe", "content": "The **bold** quokkaword said ⟦hi⟧ twice.\n"})
        doc = await sess.ok("search", {"query": "quokkaword"})
        assert [h["snippet"] for h in doc["hits"]] == ["The **bold** ⟦quokkaword⟧ said ⟦⟦hi⟧⟧ twice"], doc


async def test_list(server: Server) -> None:
    vault = server.vault
    on_disk = set(vault.md_files())
    async with server.session() as sess:
        seen: list[str] = []
        offset = 0
        pages = 0
        while True:
            doc = await sess.ok("list", {"type": "note", "limit": 500, "offset": offset})
            items, nxt = doc["items"], doc["next_offset"]
            for it in items:
                assert {"type", "id", "title", "path", "updated"} <= set(it), it
                assert it["id"] == note_id(vault.rel(it["path"])), it
            seen += [vault.rel(it["path"]) for it in items]
            pages += 1
            assert pages <= 10, "list never ends"
            if nxt is None:
                break
            assert nxt == offset + len(items), f"next_offset {nxt} after {len(items)} items from {offset}"
            offset = nxt
        assert len(seen) == len(set(seen)), "list pages overlap"
        assert set(seen) == on_disk, f"list and disk differ: {len(set(seen) ^ on_disk)} paths"

        doc = await sess.ok("list", {"folder": "projects", "limit": 5000})
        under = {p for p in on_disk if p.startswith("projects/")}
        got = {vault.rel(it["path"]) for it in doc["items"]}
        assert got == under, f"folder=projects: {len(got)} items, {len(under)} notes under projects/ on disk"
        assert doc["next_offset"] is None

        doc = await sess.ok("list", {"tag": "finance", "limit": 5000})
        got = {vault.rel(it["path"]) for it in doc["items"]}
        assert got, "no note tagged finance"
        want = {p for p, b in vault.md_files().items() if "\n  - finance\n" in b.decode()}
        assert got == want, f"tag=finance: {len(got)} items, {len(want)} files with the tag"

        r = await sess.call("list", {"type": "nosuchtype"})
        if is_error(r):
            assert "nosuchtype" in result_text(r), result_text(r)
        else:
            doc = json.loads(result_text(r))
            assert doc["items"] == [] and doc["next_offset"] is None, doc


async def test_status_sync_and_jobs(server: Server) -> None:
    vault = server.vault
    before = vault.snapshot()
    async with server.session() as sess:
        st = await sess.ok("status")
        assert isinstance(st, dict) and st.get("notes") == 2000, f"status: {st}"
        assert "queue" in st, st

        doc = await sess.ok("sync", {})
        assert {"job", "state", "result", "error"} <= set(doc), doc
        assert doc["state"] == "succeeded", doc
        assert doc["error"] is None, doc
        assert doc["result"]["scanned"] == 2000 and doc["result"]["unchanged"] == 2000, doc["result"]
        job = doc["job"]

        js = await sess.ok("job_status", {"id": job})
        assert {"id", "type", "state", "progress", "result", "error"} <= set(js), js
        assert js["id"] == job and js["state"] == "succeeded" and js["type"] == "directory-sync", js
        assert js["result"] == doc["result"], (js["result"], doc["result"])

        for mode in ("import-only", "export-only", "full"):
            d = await sess.ok("sync", {"mode": mode, "allow_mass_delete": False})
            assert d["state"] == "succeeded", (mode, d)

        # wait=false: the job id at once, then it runs (on the server's workers)
        d = await sess.ok("sync", {"wait": False})
        assert set(d) >= {"job", "joined"} and isinstance(d["joined"], bool), d
        final = await wait_job(sess, d["job"])
        assert final["state"] == "succeeded", final

        # cancel_job on a job that may or may not have finished: its answer must be consistent
        d = await sess.ok("sync", {"wait": False})
        c = await sess.ok("cancel_job", {"id": d["job"]})
        assert c["id"] == d["job"] and isinstance(c["state"], str), c
        final = await wait_job(sess, d["job"])
        assert final["state"] in ("succeeded", "cancelled"), final
        if c["state"] == "cancelled":
            assert final["state"] == "cancelled", (c, final)
        if c["state"] in TERMINAL:
            assert final["state"] == c["state"], (c, final)

        st = await sess.ok("status")
        assert st["notes"] == 2000, st
    assert vault.snapshot() == before, "syncing an unchanged vault changed files"
