"""HTTP only: the bearer token of `brain serve`'s MCP endpoint, and its refusal to listen beyond
loopback without one."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request

import pytest

from brainmcp import Server, eventually, stop_daemon, tail

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "brain-tests", "version": "0"},
    },
}


def post(url: str, headers: dict[str, str]) -> int:
    req = urllib.request.Request(
        url,
        data=json.dumps(INITIALIZE).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


async def test_bearer_token(make_vault) -> None:
    vault = make_vault(0)
    server = Server("http", vault, token="secret").start()
    try:
        assert server.url
        assert post(server.url, {}) == 401, "a request without the token was not refused with 401"
        assert post(server.url, {"Authorization": "Bearer wrong"}) == 401, "a wrong token was not refused with 401"
        assert post(server.url, {"Authorization": "secret"}) == 401, "a token without 'Bearer' was not refused"
        assert post(server.url, {"Authorization": "Bearer secret"}) == 200, "the right token was refused"

        async with server.session(headers={"Authorization": "Bearer secret"}) as sess:
            st = await sess.ok("status")
            assert st["notes"] == 0, st
            doc = await sess.ok("create", {"type": "note", "id": "authed", "content": "# Authed\n"})
            assert doc["outcome"] == "created", doc
    finally:
        rc = server.stop()
    assert rc == 0, f"brain serve exited {rc} after SIGTERM\n{server.describe()}"


def test_refuses_public_bind_without_token(make_vault) -> None:
    vault = make_vault(0)
    log = vault.home / "serve-public.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [str(vault.bin), "--vault", str(vault.root), "--json", "serve"],
            env=vault.env({"BRAIN_SERVE_HTTP": "0.0.0.0:0"}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    try:
        rc = proc.wait(20)
    except subprocess.TimeoutExpired:
        stop_daemon(proc, 10)
        raise AssertionError(f"brain serve kept running on 0.0.0.0 without a token\n{tail(log)}") from None
    out = proc.stdout.read().decode() if proc.stdout else ""
    stderr = tail(log)
    assert rc != 0, f"brain serve exited 0 on 0.0.0.0 without a token; stdout {out!r}; stderr {stderr}"
    assert "token" in stderr.lower(), f"the refusal does not mention the token: {stderr}"
    assert '"ready"' not in out, f"it said it was ready: {out}"
    # and no daemon was left behind: a loopback one starts at once
    s = Server("http", vault).start()
    assert s.stop() == 0


async def test_concurrent_sessions(make_vault) -> None:
    """Two clients at once on one daemon: each has its own session, and sees the other's writes."""
    vault = make_vault(0)
    server = Server("http", vault).start()
    try:
        async with server.session() as a, server.session() as b:
            d = await a.ok("create", {"type": "note", "id": "from-a", "content": "# From A\n"})
            g = await b.ok("get", {"type": "note", "id": "from-a"})
            assert g["content"] == "# From A\n" and g["content_hash"] == d["content_hash"], g
            # b updates over a's hash; a's stale write is then refused
            u = await b.ok("update", {"type": "note", "id": "from-a", "content": "# From B\n", "expected_hash": d["content_hash"]})
            assert u["outcome"] == "updated", u
            await a.error(
                "update",
                {"type": "note", "id": "from-a", "content": "# A again\n", "expected_hash": d["content_hash"]},
                "stale",
            )
            sa, sb = await a.ok("status"), await b.ok("status")
            assert sa["notes"] == sb["notes"] == 1, (sa, sb)
        await eventually(lambda: vault.file("from-a.md").exists() and vault.file("from-a.md").read_text() == "# From B\n", 5, "from-a.md")
    finally:
        rc = server.stop()
    assert rc == 0, f"brain serve exited {rc} after SIGTERM\n{server.describe()}"
