"""Issue 20: a batch through a real MCP client: the dry run, a batch that returns at once,
batch_status streaming progress until it ends, the files following, and a rollback."""

from __future__ import annotations

import pytest

from brainmcp import Server, Vault, eventually

pytestmark = pytest.mark.anyio

EXPORT_LIMIT_S = 60.0


async def test_a_batch_is_previewed_run_watched_and_rolled_back(server: Server, vault: Vault) -> None:
    before = vault.snapshot()
    query = "tag:book path:projects"
    async with server.session() as sess:
        dry = await sess.ok("batch", {"op": "set", "where": query, "key": "status", "value": "done", "dry_run": True})
        count = dry["count"]
        assert count > 0 and dry["would_change"] == count, dry
        assert "+status: done" in dry["notes"][0]["diff"], dry["notes"][0]
        assert vault.snapshot() == before, "a dry run writes nothing"

        queued = await sess.ok("batch", {"op": "set", "where": query, "key": "status", "value": "done"})
        batch = queued["batch_id"]
        assert queued["message"] == f"Queued: set status=done on {count} notes. Batch {batch}", queued

        events: list[tuple[float, float | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            events.append((progress, total))

        report = await sess.ok("batch_status", {"id": batch, "wait": True}, progress_callback=on_progress)
        assert report["state"] == "succeeded" and report["changed"] == count, report
        assert events, "no progress notification"
        values = [e[0] for e in events]
        assert all(b > a for a, b in zip(values, values[1:])), f"progress does not increase: {events}"
        assert events[-1] == (count, count), f"the last notification reaches the total: {events}"

        def all_written() -> bool:
            now = vault.snapshot()
            return sum(1 for p in before if now.get(p) != before[p]) == count

        await eventually(all_written, EXPORT_LIMIT_S, f"{count} files with status: done")
        now = vault.snapshot()
        changed = [p for p in before if now.get(p) != before[p]]
        assert all(b"status: done" in vault.file(p).read_bytes() for p in changed)

        rollback = await sess.ok("batch_rollback", {"id": batch})
        undone = await sess.ok("batch_status", {"id": rollback["batch_id"], "wait": True})
        assert undone["changed"] == count, undone
        await eventually(lambda: vault.snapshot() == before, EXPORT_LIMIT_S, "every file as before the batch")
        msg = await sess.error("batch_rollback", {"id": batch}, "refused")
        assert f"by batch {rollback['batch_id']}" in msg, msg


async def test_a_batch_works_on_what_a_person_saved_just_before(server: Server, vault: Vault) -> None:
    """A note saved on disk before the call is part of the batch's selection and is changed as
    saved, like every other call's answer (no `sync` in between): the batch does not refuse it
    as edited on disk, and its dry run says what the run does."""
    rel = sorted(p for p in vault.md_files() if p.startswith("projects/"))[0]
    ident = rel[: -len(".md")]
    async with server.session() as sess:
        await sess.ok("get", {"type": "note", "id": ident})
        with open(vault.file(rel), "w", encoding="utf-8") as f:
            f.write("---\ntags: [savedjustnow]\n---\n# Saved by a person\n\nwombatfresh\n")
        dry = await sess.ok("batch", {"op": "set", "where": "tag:savedjustnow", "key": "seen", "value": "yes", "dry_run": True})
        assert dry["count"] == 1 and dry["would_change"] == 1, dry
        queued = await sess.ok("batch", {"op": "set", "where": "tag:savedjustnow", "key": "seen", "value": "yes"})
        report = await sess.ok("batch_status", {"id": queued["batch_id"], "wait": True})
        assert report["changed"] == 1 and report["failed"] == 0, report
        got = await sess.ok("get", {"type": "note", "id": ident})
        assert "wombatfresh" in got["content"] and "seen: yes" in got["content"], got["content"]


async def test_a_folder_in_another_letter_case_and_a_whole_tag_list_are_said(server: Server, vault: Vault) -> None:
    """`path:` counts letter case: a search or a batch selecting nothing because of it names
    the folder as the vault spells it. A `set tags=` batch says it replaces the whole list, and
    the refusal of a second rollback names the MCP tool that undoes the first, not a command."""
    async with server.session() as sess:
        found = await sess.ok("search", {"query": "path:PROJECTS"})
        assert found["hits"] == [] and "spells it `path:projects`" in found["hint"], found
        none = await sess.ok("batch", {"op": "delete", "where": "path:PROJECTS"})
        assert none["batch_id"] is None and "spells it `path:projects`" in none["message"], none
        dry = await sess.ok("batch", {"op": "set", "where": "path:projects", "key": "tags", "value": "solo", "dry_run": True})
        assert "replaces each note's whole tag list" in dry["note"], dry
        queued = await sess.ok("batch", {"op": "set", "where": "path:projects", "key": "seen", "value": "yes"})
        # `batch_id`, the name `batch` answers with, is taken as the id.
        await sess.ok("batch_status", {"batch_id": queued["batch_id"], "wait": True})
        rollback = await sess.ok("batch_rollback", {"id": queued["batch_id"]})
        await sess.ok("batch_status", {"id": rollback["batch_id"], "wait": True})
        msg = await sess.error("batch_rollback", {"id": queued["batch_id"]}, "refused")
        assert f"`batch_rollback` with id {rollback['batch_id']}" in msg, msg
        # The batch's job says what the batch did, beside its own state.
        job = await sess.ok("job_status", {"id": queued["batch_id"]})
        assert job["batch_outcome"]["state"] == "succeeded", job
        assert "batch_status" in job["batch_outcome"]["note"], job
