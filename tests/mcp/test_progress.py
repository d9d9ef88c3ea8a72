"""e. Progress notifications of a long sync; f. cancelling it with notifications/cancelled."""

from __future__ import annotations

import time
import warnings
from typing import Any

import anyio
import pytest
from mcp import types

from brainmcp import CANCEL_NOTES, NOTES, TERMINAL, Server, Session, eventually, wait_job

pytestmark = pytest.mark.anyio


async def test_sync_reports_progress(make_server, make_vault) -> None:
    vault = make_vault(NOTES, synced=False)
    before = vault.snapshot()
    server: Server = make_server(vault)
    async with server.session() as sess:
        events: list[tuple[float, float, float | None, str | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            events.append((time.monotonic(), progress, total, message))

        doc = await sess.ok("sync", {}, progress_callback=on_progress)
        returned = time.monotonic()
        assert doc["state"] == "succeeded", doc
        assert doc["result"]["imported"] == NOTES, doc["result"]

        assert len(events) >= 3, f"{len(events)} progress notifications for a sync of {NOTES} new notes: {events}"
        values = [e[1] for e in events]
        assert all(b > a for a, b in zip(values, values[1:])), f"progress values do not increase: {values}"
        assert all(e[0] <= returned for e in events)
        totals = {e[2] for e in events if e[2] is not None}
        for t in totals:
            assert t >= max(values), f"progress {max(values)} above its total {t}"
        assert any(e[3] for e in events), "no progress notification carries a message"

        st = await sess.ok("status")
        assert st["notes"] == NOTES, st
    assert vault.snapshot() == before, "an import changed note files"


def first_sync_job(status: dict[str, Any]) -> int | None:
    jobs = [*status.get("active", []), *status.get("recent", [])]
    ids = [j["id"] for j in jobs if j.get("type") == "directory-sync"]
    return max(ids) if ids else None


async def cancel_request(sess: Session, request_id: int, reason: str) -> None:
    """What a client sends when it gives up on a request: notifications/cancelled with its id.
    (mcp 1.x's ClientSession does not send it by itself when the caller's task is cancelled.)"""
    await sess.s.send_notification(
        types.ClientNotification(
            types.CancelledNotification(params=types.CancelledNotificationParams(requestId=request_id, reason=reason))
        )
    )


async def test_cancel_sync(make_server, make_vault) -> None:
    vault = make_vault(CANCEL_NOTES, synced=False)
    before = vault.snapshot()
    server: Server = make_server(vault)
    async with server.session() as sess:
        first = anyio.Event()
        progress: list[float] = []
        outcome: dict[str, Any] = {}

        async def on_progress(p: float, total: float | None, message: str | None) -> None:
            progress.append(p)
            first.set()

        async def run_sync(scope: anyio.CancelScope) -> None:
            with scope:
                outcome["result"] = await sess.call("sync", {}, progress_callback=on_progress)
            outcome["cancelled"] = scope.cancelled_caught

        # The SDK numbers requests 0, 1, 2… and uses the id as the progress token: the next
        # request is the sync (nothing else is sent until its first progress arrives).
        request_id = sess.s._request_id
        scope = anyio.CancelScope()
        t0 = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_sync, scope)
            with anyio.fail_after(20):
                await first.wait()
            t_first = time.monotonic() - t0
            assert "result" not in outcome, "the sync answered before it could be cancelled"
            # as a caller gives up on a request: cancel the waiting task, tell the server
            scope.cancel()
            await cancel_request(sess, request_id, "test: cancelled by the client")
        assert outcome.get("cancelled") and "result" not in outcome, (
            f"the sync finished before the cancel ({CANCEL_NOTES} notes is too few?): {outcome}"
        )
        tokens = [
            m.root.params.progressToken
            for m in sess.incoming
            if isinstance(m, types.ServerNotification) and isinstance(m.root, types.ProgressNotification)
        ]
        assert tokens and set(tokens) == {request_id}, f"progress tokens {set(tokens)}, request id {request_id}"

        # The session goes on; the job ends cancelled, not succeeded.
        job: int | None = None

        async def find_job() -> int | None:
            nonlocal job
            job = first_sync_job(await sess.ok("status"))
            return job

        await eventually(find_job, 5, "the sync job in status")
        last: dict[str, Any] = {}

        async def finished() -> bool:
            nonlocal last
            last = await sess.ok("job_status", {"id": job})
            return last["state"] in TERMINAL

        await eventually(finished, 20, f"sync job {job} to end after the cancel", interval=0.05)
        t_end = time.monotonic() - t0
        assert last["state"] == "cancelled", (
            f"job {job} ended {last['state']} (first progress after {t_first:.2f} s, ended by {t_end:.2f} s): "
            f"the server did not cancel it on notifications/cancelled; {last}"
        )
        assert last["type"] == "directory-sync", last

        late = [e for e in sess.exceptions() if "unknown request ID" in str(e)]
        if late:
            warnings.warn(f"the server answered the cancelled request anyway: {late[0]}")

        # A cancelled import kept the files as they were.
        assert vault.snapshot() == before, "the cancelled sync changed note files"
        st = await sess.ok("status")
        assert st["notes"] < CANCEL_NOTES, f"all notes imported although the sync was cancelled: {st}"

        # cancel_job does the same to a sync started without waiting.
        d = await sess.ok("sync", {"wait": False})
        assert d["joined"] is False and d["job"] != job, d
        c = await sess.ok("cancel_job", {"id": d["job"]})
        assert c["id"] == d["job"] and c["state"] in ("queued", "running", "cancelled"), c
        final = await wait_job(sess, d["job"])
        assert final["state"] == "cancelled", f"cancel_job answered {c}, the job ended {final}"
        assert vault.snapshot() == before, "the cancelled sync changed note files"

        # The next sync finishes the work.
        doc = await sess.ok("sync", {})
        assert doc["state"] == "succeeded" and doc["job"] not in (job, d["job"]), doc
        st = await sess.ok("status")
        assert st["notes"] == CANCEL_NOTES, st
    assert vault.snapshot() == before, "syncing changed note files"
