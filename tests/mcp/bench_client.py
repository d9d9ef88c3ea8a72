#!/usr/bin/env python3
"""The client side of `brain bench mcp`: latency of the MCP tools `search` and `get` as the
official Python SDK sees them, over stdio or streamable HTTP.

    python bench_client.py --transport stdio --brain BIN --vault DIR [--n 500]
    python bench_client.py --transport http --url URL [--token T] [--n 500]

Connects, collects note ids (`list`) and query words (the words of a few notes read with `get`,
or one per line from --words), warms up (--warmup calls, default 20), then times --n calls of
`search` and --n calls of `get`, each as the wall-clock of one `call_tool`
(time.perf_counter_ns). Queries and ids are drawn deterministically (--seed).

Prints exactly one JSON line on stdout:
    {"transport": "stdio", "search": {"n": 500, "p50_ms": .., "p99_ms": .., "mean_ms": ..}, "get": {..}}
Any tool error, protocol error or lost connection ends it with a message on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import random
import re
import sys
import time
from collections.abc import AsyncIterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

# It runs on either line of the SDK, 1.x or 2.x (`brain bench mcp` copies this one file, so the
# little that differs is here rather than in tests/mcp/mcpsdk.py): the HTTP client library the
# streamable HTTP transport takes (httpx, httpx2), and a tool error read by its wire name.
_SDK_LINE = int(version("mcp").split(".")[0])
http = importlib.import_module("httpx2" if _SDK_LINE >= 2 else "httpx")


def is_error(r: types.CallToolResult) -> bool:
    """The spec's `isError` of a tool result (1.x: `r.isError`, 2.x: `r.is_error`)."""
    return bool(r.model_dump(by_alias=True).get("isError", False))


class BenchError(Exception):
    pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--transport", choices=["stdio", "http"], required=True)
    ap.add_argument("--brain", help="the brain binary (stdio)")
    ap.add_argument("--vault", help="the vault folder (stdio)")
    ap.add_argument("--url", help="the MCP endpoint, e.g. http://127.0.0.1:PORT/mcp (http)")
    ap.add_argument("--token", help="bearer token (http)")
    ap.add_argument("--n", type=int, default=500, help="timed calls of each tool (default 500)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed calls first (default 20)")
    ap.add_argument("--words", type=Path, help="query words, one per line (default: from the vault)")
    ap.add_argument("--ids", type=int, default=1000, help="at most this many note ids to draw from (default 1000)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--writes", type=int, default=0,
                    help="also time this many `update` calls until the note's file on disk (under --vault) holds the new text")
    a = ap.parse_args(argv)
    if a.transport == "stdio" and not (a.brain and a.vault):
        ap.error("--transport stdio needs --brain and --vault")
    if a.transport == "http" and not a.url:
        ap.error("--transport http needs --url")
    if a.writes and not a.vault:
        ap.error("--writes needs --vault, to watch the files")
    if a.n < 1:
        ap.error("--n must be at least 1")
    return a


@contextlib.asynccontextmanager
async def connect(a: argparse.Namespace) -> AsyncIterator[ClientSession]:
    if a.transport == "stdio":
        params = StdioServerParameters(
            command=a.brain,
            args=["--vault", a.vault, "mcp"],
            env=dict(os.environ),  # BRAIN_* settings of the caller apply to the server
        )
        async with stdio_client(params, errlog=sys.stderr) as (read, write):
            async with ClientSession(read, write) as s:
                await s.initialize()
                yield s
    else:
        headers = {"Authorization": f"Bearer {a.token}"} if a.token else {}
        async with http.AsyncClient(headers=headers, timeout=http.Timeout(30.0, read=300.0)) as client:
            async with streamable_http_client(a.url, http_client=client) as streams:
                read, write = streams[0], streams[1]  # 1.x adds a third, the session id getter
                async with ClientSession(read, write) as s:
                    await s.initialize()
                    yield s


async def call(s: ClientSession, name: str, args: dict[str, Any]) -> Any:
    """One tool call; its JSON document, or BenchError on a tool error."""
    r = await s.call_tool(name, args)
    text = "\n".join(c.text for c in r.content if isinstance(c, types.TextContent))
    if is_error(r):
        raise BenchError(f"{name}({json.dumps(args)[:200]}) returned a tool error: {text[:1000]}")
    return json.loads(text)


async def collect(s: ClientSession, a: argparse.Namespace) -> tuple[list[str], list[str]]:
    """Note ids from `list`, query words from --words or from notes read with `get`."""
    ids: list[str] = []
    offset: int | None = 0
    while offset is not None and len(ids) < a.ids:
        page = await call(s, "list", {"type": "note", "limit": min(500, a.ids - len(ids)), "offset": offset})
        ids += [it["id"] for it in page["items"]]
        offset = page["next_offset"]
    if not ids:
        raise BenchError("the vault has no notes: nothing to get or search")
    ids.sort()

    if a.words:
        words = [w.strip() for w in a.words.read_text().splitlines() if w.strip()]
    else:
        seen: set[str] = set()
        rng = random.Random(a.seed)
        for id_ in rng.sample(ids, min(20, len(ids))):
            doc = await call(s, "get", {"type": "note", "id": id_})
            text = doc["content"]
            if text.startswith("---\n") and "\n---\n" in text:  # the body, without the front matter
                text = text.split("\n---\n", 1)[1]
            seen.update(w.lower() for w in re.findall(r"[A-Za-z]{4,}", text))
        words = sorted(seen)
    if not words:
        raise BenchError("no query words")
    return ids, words


def summary(ns: list[int]) -> dict[str, Any]:
    xs = sorted(ns)

    def pct(p: float) -> float:
        return xs[max(0, math.ceil(p * len(xs)) - 1)] / 1e6

    return {
        "n": len(xs),
        "p50_ms": round(pct(0.50), 4),
        "p99_ms": round(pct(0.99), 4),
        "mean_ms": round(sum(xs) / len(xs) / 1e6, 4),
    }


async def timed(s: ClientSession, name: str, args: dict[str, Any]) -> int:
    t0 = time.perf_counter_ns()
    r = await s.call_tool(name, args)
    dt = time.perf_counter_ns() - t0
    if is_error(r):
        text = "\n".join(c.text for c in r.content if isinstance(c, types.TextContent))
        raise BenchError(f"{name}({json.dumps(args)[:200]}) returned a tool error: {text[:1000]}")
    return dt


async def run(a: argparse.Namespace) -> dict[str, Any]:
    async with connect(a) as s:
        ids, words = await collect(s, a)
        rng = random.Random(a.seed)
        queries = [{"query": rng.choice(words)} for _ in range(a.n)]
        gets = [{"type": "note", "id": rng.choice(ids)} for _ in range(a.n)]

        for i in range(a.warmup):
            if i % 2 == 0:
                await timed(s, "search", {"query": words[i % len(words)]})
            else:
                await timed(s, "get", {"type": "note", "id": ids[i % len(ids)]})

        search_ns = [await timed(s, "search", q) for q in queries]
        get_ns = [await timed(s, "get", g) for g in gets]
        out = {"transport": a.transport, "search": summary(search_ns), "get": summary(get_ns)}
        if a.writes:
            out["write_to_file"] = summary(await writes_to_file(s, a, ids))
    return out


async def writes_to_file(s: ClientSession, a: argparse.Namespace, ids: list[str]) -> list[int]:
    """`update` with the hash from `get`, then the time until the file holds the new text: the
    export job's debounce included, polled every millisecond, 30 s at most per write."""
    rng = random.Random(a.seed + 1)
    out: list[int] = []
    for i in range(a.writes):
        doc = await call(s, "get", {"type": "note", "id": rng.choice(ids)})
        new = doc["content"] + f"\nmcpbenchwrite{i}x\n"
        path = Path(a.vault) / doc["path"]
        t0 = time.perf_counter_ns()
        await call(s, "update", {"type": "note", "id": doc["id"], "content": new,
                                 "expected_hash": doc["content_hash"]})
        while True:
            try:
                if path.read_bytes() == new.encode():
                    break
            except OSError:
                pass
            if time.perf_counter_ns() - t0 > 30e9:
                raise BenchError(f"{path} did not get the update within 30 s")
            await anyio.sleep(0.001)
        out.append(time.perf_counter_ns() - t0)
    return out


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    try:
        out = anyio.run(run, a)
    except BaseException as e:  # noqa: BLE001 - any failure is a failed benchmark
        if isinstance(e, KeyboardInterrupt):
            raise
        leaf = e
        while isinstance(leaf, BaseExceptionGroup) and len(leaf.exceptions) == 1:
            leaf = leaf.exceptions[0]
        print(f"bench_client: {type(leaf).__name__}: {leaf}", file=sys.stderr)
        return 1
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
