"""e. Progress notifications of a long sync; f. cancelling it with notifications/cancelled."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
import warnings
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from brainmcp import NOTES, Server, Session, Vault, eventually, wait_job
from mcpsdk import client_notification, wire

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
        # Issue 15: the first notification comes at once, when the job is queued or starting;
        # before its scan has counted anything it has no total (never 0/0) and says so in its
        # message. Every later one carries a total: it may grow as the sync finds its work, but
        # never shrinks and is never below a progress already sent.
        first, later = events[0], events[1:]
        assert first[2] is None or first[2] > 0, f"a first notification of 0/0: {events}"
        if first[2] is None:
            assert first[1] == 0 and first[3], f"a first notification without a total says why: {events}"
        assert all(e[2] is not None for e in later), f"a later notification without a total: {events}"
        totals = [e[2] for e in events if e[2] is not None]
        counted = [e[1] for e in events if e[2] is not None]
        assert all(b >= a for a, b in zip(totals, totals[1:])), f"the total shrank: {events}"
        for i, t in enumerate(totals):
            assert t >= max(counted[: i + 1]), f"progress {max(counted[: i + 1])} above its total {t}"
        assert totals[-1] == values[-1], f"the last notification reaches its total: {events}"
        assert any(e[3] for e in events), "no progress notification carries a message"

        st = await sess.ok("status")
        assert st["notes"] == NOTES, st
    assert vault.snapshot() == before, "an import changed note files"


def first_sync_job(status: dict[str, Any]) -> int | None:
    jobs = [*status.get("active", []), *status.get("recent", [])]
    ids = [j["id"] for j in jobs if j.get("type") == "directory-sync"]
    return max(ids) if ids else None


def cancels_sent(sess: Session, request_id: Any) -> list[dict[str, Any]]:
    """The notifications/cancelled the client has sent for `request_id`."""
    return [m for m in sess.tap.notifications("notifications/cancelled") if m.get("params", {}).get("requestId") == request_id]


async def cancel_request(sess: Session, request_id: Any, reason: str) -> None:
    """What a client sends when it gives up on a request: notifications/cancelled with its id.
    The 2.x SDK sends it by itself when the caller's task is cancelled (the test sees it on the
    wire); 1.x does not, so then the test sends it, as a client of that line must."""
    if not cancels_sent(sess, request_id):
        await sess.s.send_notification(client_notification("notifications/cancelled", {"requestId": request_id, "reason": reason}))
    sent = cancels_sent(sess, request_id)
    assert len(sent) == 1, f"notifications/cancelled sent {len(sent)} times for request {request_id}: {sent}"


@contextlib.contextmanager
def sync_lock_held(vault: Vault, timeout: float = 30) -> Iterator[None]:
    """Holds `.brain/sync.lock` as another `brain` process would (flock, the lock `brain`'s
    directory jobs take with `File::try_lock`): a sync started meanwhile runs but waits at the
    lock, reporting progress and cancellable, and can do no work until it is released."""
    path = vault.root / ".brain/sync.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # Something of the server's holds it (a sync of its own): it lets go when done.
                if time.monotonic() > deadline:
                    raise AssertionError(f"{path} stayed locked for {timeout} s") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


async def wait_running(sess: Session, job: int) -> dict[str, Any]:
    """Polls job_status until `job` runs (a worker took it: here, to wait at the held lock)."""
    last: dict[str, Any] = {}

    async def running() -> bool:
        nonlocal last
        last = await sess.ok("job_status", {"id": job})
        assert last["state"] in ("queued", "running"), f"job {job} ended while the sync lock was held: {last}"
        return last["state"] == "running"

    await eventually(running, 30, f"job {job} to be taken by a worker", interval=0.05)
    return last


async def test_cancel_sync(make_server, make_vault) -> None:
    """notifications/cancelled cancels the running sync the request started, and cancel_job one
    started with wait=false. The test holds the vault's sync lock throughout, so both jobs run
    but cannot do any work (nor finish) before the cancel lands, however slow the machine."""
    vault = make_vault(NOTES, synced=False)
    before = vault.snapshot()
    server: Server = make_server(vault)
    async with server.session() as sess:
        with sync_lock_held(vault):
            first = anyio.Event()
            outcome: dict[str, Any] = {}

            async def on_progress(p: float, total: float | None, message: str | None) -> None:
                first.set()

            async def run_sync(scope: anyio.CancelScope) -> None:
                with scope:
                    outcome["result"] = await sess.call("sync", {}, progress_callback=on_progress)
                outcome["cancelled"] = scope.cancelled_caught
                ended.set()

            ended = anyio.Event()
            scope = anyio.CancelScope()
            async with anyio.create_task_group() as tg:
                tg.start_soon(run_sync, scope)
                with anyio.fail_after(30):
                    await first.wait()
                job: int | None = None

                async def find_job() -> int | None:
                    nonlocal job
                    job = first_sync_job(await sess.ok("status"))
                    return job

                await eventually(find_job, 30, "the sync job in status")
                assert job is not None
                await wait_running(sess, job)
                assert "result" not in outcome, f"the sync answered while the lock was held: {outcome}"
                # The sync's request as it went out: its id, and the progress token it asked for.
                calls = [m for m in sess.tap.requests("tools/call") if m["params"]["name"] == "sync"]
                assert len(calls) == 1, f"tools/call sync sent {len(calls)} times: {calls}"
                request_id = calls[0]["id"]
                token = calls[0]["params"].get("_meta", {}).get("progressToken")
                assert token is not None, f"the sync was sent without a progress token: {calls[0]}"
                # as a caller gives up on a request: cancel the waiting task, tell the server
                scope.cancel()
                with anyio.fail_after(30):
                    await ended.wait()
                await cancel_request(sess, request_id, "test: cancelled by the client")
            assert outcome.get("cancelled") and "result" not in outcome, outcome
            progress = [wire(m) for m in sess.incoming if not isinstance(m, Exception)]
            tokens = [m["params"]["progressToken"] for m in progress if m.get("method") == "notifications/progress"]
            assert tokens and set(tokens) == {token}, f"progress tokens {set(tokens)}, the sync asked for {token!r}"

            # The session goes on; the job ends cancelled, still under the lock: it did nothing.
            last = await wait_job(sess, job)
            assert last["state"] == "cancelled", (
                f"job {job} ended {last['state']}: the server did not cancel it on notifications/cancelled; {last}"
            )
            assert last["type"] == "directory-sync", last
            assert last["cancel_requested"], last

            late = [e for e in sess.exceptions() if "unknown request ID" in str(e)]
            if late:
                warnings.warn(f"the server answered the cancelled request anyway: {late[0]}")

            st = await sess.ok("status")
            assert st["notes"] == 0, f"notes imported by a sync cancelled before it could start: {st}"

            # cancel_job does the same to a running sync started without waiting.
            d = await sess.ok("sync", {"wait": False})
            assert d["joined"] is False and d["job"] != job, d
            await wait_running(sess, d["job"])
            c = await sess.ok("cancel_job", {"id": d["job"]})
            assert c["id"] == d["job"] and c["state"] in ("running", "cancelled"), c
            final = await wait_job(sess, d["job"])
            assert final["state"] == "cancelled", f"cancel_job answered {c}, the job ended {final}"
            st = await sess.ok("status")
            assert st["notes"] == 0, st
        assert vault.snapshot() == before, "the cancelled syncs changed note files"

        # With the lock free, the next sync does the whole work.
        doc = await sess.ok("sync", {})
        assert doc["state"] == "succeeded" and doc["job"] not in (job, d["job"]), doc
        assert doc["result"]["imported"] == NOTES, doc["result"]
        st = await sess.ok("status")
        assert st["notes"] == NOTES, st
    assert vault.snapshot() == before, "syncing changed note files"
