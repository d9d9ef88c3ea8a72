"""What the MCP end-to-end tests and the benchmark client share: where the binary and the vault
generator are, temp vaults made with the real `brain`, the MCP server under test over stdio
(`brain mcp`) or streamable HTTP (`brain serve`), and small helpers around the official SDK's
`ClientSession` that turn a tool result into its JSON document or fail saying what came back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

from mcpsdk import McpError, WireTap, http_streams, is_error, wire

REPO = Path(__file__).resolve().parents[2]

# The tool names of the spec, exactly.
TOOLS = (
    "search",
    "get",
    "list",
    "create",
    "update",
    "delete",
    "sync",
    "git_sync",
    "status",
    "job_status",
    "cancel_job",
    "history",
    "revert",
    "edit",
    "move",
    "batch",
    "batch_status",
    "batch_rollback",
    "batch_cancel",
)

# The size of the vault most scenarios run on.
NOTES = 2000

# Finished job states.
TERMINAL = ("succeeded", "failed", "cancelled")


def brain_bin() -> Path:
    """`BRAIN_BIN`, else target/debug/brain of this repo."""
    p = Path(os.environ.get("BRAIN_BIN") or REPO / "target/debug/brain")
    if not p.is_absolute():
        p = (REPO / p).resolve()
    return p


def generator() -> Path:
    """shared/bench/gen_vault.py, found in the folders above the repo (as the Rust tests do)."""
    for d in [REPO, *REPO.parents]:
        p = d / "shared/bench/gen_vault.py"
        if p.is_file():
            return p
    raise FileNotFoundError(f"shared/bench/gen_vault.py not found above {REPO}")


def base_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment for a `brain` process (no BRAIN_* of the caller's shell leaks in),
    with HOME in a temp folder so the user's git config is not read."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LC_ALL": "C.UTF-8"}
    for k in ("BRAIN_LOG", "TMPDIR"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(extra or {})
    return env


def tail(path: Path, n: int = 4000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-n:].decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# Vaults


class Vault:
    """A vault folder in a test's temp dir, driven by the real binary."""

    def __init__(self, root: Path, home: Path):
        self.root = root
        self.home = home
        self.bin = brain_bin()

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return base_env(self.home, extra)

    def brain(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin), "--vault", str(self.root), *args]
        r = subprocess.run(cmd, env=self.env(env), capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd[1:])} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
            )
        return r

    def brain_json(self, *args: str, env: dict[str, str] | None = None) -> Any:
        r = self.brain("--json", *args, env=env)
        return json.loads(r.stdout)

    def file(self, rel: str) -> Path:
        return self.root / rel

    def rel(self, path: str) -> str:
        """A path as the server reports it, made vault-relative (relative or absolute)."""
        root = str(self.root).rstrip("/") + "/"
        return path[len(root) :] if path.startswith(root) else path

    def md_files(self) -> dict[str, bytes]:
        """Every note file of the vault (not under dot folders such as .brain/ or .git/).

        The server may move a file to the trash between the walk and the read (a soft delete
        being exported while a test polls); such a file is gone, so it is left out.
        """
        out = {}
        for p in self.root.rglob("*.md"):
            rel = p.relative_to(self.root)
            if any(part.startswith(".") for part in rel.parts):
                continue
            try:
                out[rel.as_posix()] = p.read_bytes()
            except FileNotFoundError:
                continue
        return out

    def snapshot(self) -> dict[str, str]:
        """rel path → sha256 of every note file."""
        return {k: hashlib.sha256(v).hexdigest() for k, v in self.md_files().items()}

    def all_files(self) -> list[str]:
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())

    def trash_files(self) -> list[Path]:
        t = self.root / ".brain/trash"
        return [p for p in t.rglob("*") if p.is_file()] if t.is_dir() else []


def note_id(rel_path: str) -> str:
    """The id of the note at a vault-relative path: the path without `.md`."""
    assert rel_path.endswith(".md"), rel_path
    return rel_path[: -len(".md")]


# ---------------------------------------------------------------------------------------------
# Servers


class Server:
    """The MCP server under test for one vault: `brain mcp` per session over stdio, or one
    `brain serve` daemon with its HTTP endpoint (started by `start()`, stopped by `stop()`)."""

    def __init__(self, transport: str, vault: Vault, env: dict[str, str] | None = None, token: str | None = None):
        assert transport in ("stdio", "http"), transport
        self.transport = transport
        self.vault = vault
        self.extra_env = dict(env or {})
        self.token = token
        self.proc: subprocess.Popen[bytes] | None = None
        self.url: str | None = None
        self.ready: dict[str, Any] | None = None
        n = len(list(vault.home.glob("server-*.log")))
        self.log = vault.home / f"server-{n}-{transport}.log"
        self.stopped_rc: int | None = None

    # -- http daemon -------------------------------------------------------------------------

    def start(self, timeout: float = 30) -> Server:
        if self.transport == "stdio":
            return self
        env = {
            "BRAIN_SERVE_HTTP": "127.0.0.1:0",
            # The tests ask for every sync themselves: no whole-vault sync of the daemon's own
            # racing them (the progress and cancel tests need the sync to be theirs).
            "BRAIN_SERVE_INITIAL_SYNC": "false",
            **self.extra_env,
        }
        if self.token is not None:
            env["BRAIN_SERVE_HTTP_TOKEN"] = self.token
        self.ready = start_daemon(self.vault, env, self.log, timeout)
        self.proc = self.ready.pop("_proc")
        # What serve prints after its ready line (with --json, an error that stops it is a JSON
        # document on stdout), for describe().
        self.stdout_lines = self.ready.pop("_stdout")
        addr = self.ready.get("http")
        assert isinstance(addr, str) and addr, f"serve's ready line has no \"http\" address: {self.ready}"
        if addr.startswith("http://") or addr.startswith("https://"):
            base = addr.rstrip("/")
            self.url = base if base.endswith("/mcp") else base + "/mcp"
        else:
            self.url = f"http://{addr}/mcp"
        return self

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM the daemon and wait for it; returns its exit code."""
        if self.proc is None or self.stopped_rc is not None:
            return self.stopped_rc
        self.stopped_rc = stop_daemon(self.proc, timeout)
        return self.stopped_rc

    def describe(self) -> str:
        out = []
        lines = getattr(self, "stdout_lines", None)
        while lines is not None and not lines.empty():
            line = lines.get_nowait()
            if line:
                out.append(line.decode("utf-8", "replace"))
        stdout = f"[its stdout after the ready line]\n{''.join(out)}" if out else ""
        return f"[{self.transport} server log {self.log}]\n{tail(self.log)}{stdout}"

    # -- sessions ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def session(self, headers: dict[str, str] | None = None) -> AsyncIterator[Session]:
        """An initialized MCP session (over stdio: a fresh `brain mcp` process). A failure inside
        comes out as itself, not wrapped in the exception groups of the SDK's task groups."""
        try:
            async with self._session(headers) as sess:
                yield sess
        except BaseExceptionGroup as eg:
            leaf = single_leaf(eg)
            if leaf is None:
                raise
            if isinstance(leaf, AssertionError):
                raise leaf from None
            raise AssertionError(f"the MCP session failed: {leaf!r}\n{self.describe()}") from leaf

    async def _initialize(self, s: ClientSession) -> types.InitializeResult:
        try:
            with anyio.fail_after(30):
                return await s.initialize()
        except (McpError, TimeoutError) as e:
            raise AssertionError(f"initialize failed ({e!r})\n{self.describe()}") from None

    @contextlib.asynccontextmanager
    async def _session(self, headers: dict[str, str] | None) -> AsyncIterator[Session]:
        incoming: list[Any] = []

        async def on_message(msg: Any) -> None:
            incoming.append(msg)

        if self.transport == "stdio":
            params = StdioServerParameters(
                command=str(self.vault.bin),
                args=["--vault", str(self.vault.root), "mcp"],
                env=self.vault.env(self.extra_env),
            )
            with open(self.log, "ab") as errlog:
                async with stdio_client(params, errlog=errlog) as (read, write):
                    tap = WireTap(write)
                    async with ClientSession(read, tap, message_handler=on_message) as s:
                        init = await self._initialize(s)
                        yield Session(s, self, init, incoming, tap)
        else:
            assert self.url, "start() the http server first"
            hdrs = dict(headers or {})
            if self.token is not None and headers is None:
                hdrs["Authorization"] = f"Bearer {self.token}"
            async with http_streams(self.url, hdrs) as (read, write):
                tap = WireTap(write)
                async with ClientSession(read, tap, message_handler=on_message) as s:
                    init = await self._initialize(s)
                    yield Session(s, self, init, incoming, tap)


def single_leaf(eg: BaseExceptionGroup) -> BaseException | None:
    """The one exception in a group (nested groups, cancellations aside), if there is one."""
    leaves: list[BaseException] = []

    def walk(e: BaseException) -> None:
        if isinstance(e, BaseExceptionGroup):
            for x in e.exceptions:
                walk(x)
        elif not isinstance(e, anyio.get_cancelled_exc_class()):
            leaves.append(e)

    walk(eg)
    return leaves[0] if len(leaves) == 1 else None


def start_daemon(vault: Vault, env: dict[str, str], log: Path, timeout: float = 30) -> dict[str, Any]:
    """`brain --json serve`; waits for its one ready line on stdout and returns it parsed, the
    process under the key `_proc`."""
    errlog = open(log, "ab")
    proc = subprocess.Popen(
        [str(vault.bin), "--vault", str(vault.root), "--json", "serve"],
        env=vault.env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=errlog,
    )
    errlog.close()
    lines: queue.Queue[bytes] = queue.Queue()

    def reader() -> None:
        assert proc.stdout
        for line in proc.stdout:
            lines.put(line)
        lines.put(b"")

    threading.Thread(target=reader, daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        stop_daemon(proc, 5)
        raise AssertionError(f"brain serve printed no ready line within {timeout} s\n{tail(log)}") from None
    if not line:
        rc = proc.wait(5)
        raise AssertionError(f"brain serve exited {rc} before it was ready\n{tail(log)}")
    try:
        doc = json.loads(line)
    except ValueError:
        stop_daemon(proc, 5)
        raise AssertionError(f"brain serve's first stdout line is not JSON: {line!r}") from None
    assert doc.get("ready") is True, f"brain serve's ready line: {doc}"
    doc["_proc"] = proc
    doc["_stdout"] = lines
    return doc


def stop_daemon(proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"brain serve did not exit within {timeout} s of SIGTERM (killed)") from None


# ---------------------------------------------------------------------------------------------
# Calls


class ToolCallFailed(AssertionError):
    pass


def result_text(r: types.CallToolResult) -> str:
    texts = [c.text for c in r.content if isinstance(c, types.TextContent)]
    return "\n".join(texts)


class Session:
    """A `ClientSession` with the server it talks to, and checked tool calls. `init` is the
    initialize result in its wire form (`mcpsdk.wire`), the same on both SDK lines."""

    def __init__(
        self, s: ClientSession, server: Server, init: types.InitializeResult, incoming: list[Any], tap: WireTap
    ):
        self.s = s
        self.server = server
        self.init = wire(init)
        self.incoming = incoming  # everything the SDK handed to message_handler
        self.tap = tap  # every message the client sent, in wire form

    def exceptions(self) -> list[Exception]:
        """What the SDK could not handle (unknown response ids, unparseable messages)."""
        return [m for m in self.incoming if isinstance(m, Exception)]

    async def call(self, name: str, args: dict[str, Any] | None = None, **kw: Any) -> types.CallToolResult:
        try:
            return await self.s.call_tool(name, args or {}, **kw)
        except McpError as e:
            raise ToolCallFailed(
                f"{name}({_short(args)}) was answered with a protocol error "
                f"(code {e.error.code}: {e.error.message}) instead of a tool result"
            ) from e

    async def ok(self, name: str, args: dict[str, Any] | None = None, **kw: Any) -> Any:
        """Calls a tool that must succeed; returns the JSON document of its text content."""
        r = await self.call(name, args, **kw)
        text = result_text(r)
        if is_error(r):
            raise ToolCallFailed(f"{name}({_short(args)}) returned a tool error: {text}")
        try:
            doc = json.loads(text)
        except ValueError:
            raise ToolCallFailed(f"{name}({_short(args)}): the text content is not one JSON document: {text[:500]!r}") from None
        structured = wire(r).get("structuredContent")
        if structured is not None:
            assert structured == doc, f"{name}: structuredContent differs from the JSON text: {structured!r} vs {doc!r}"
        return doc

    async def error(self, name: str, args: dict[str, Any] | None, kind: str, **kw: Any) -> str:
        """Calls a tool that must fail as a tool result (isError) of this `kind`; returns its
        message. A tool error's structured content (and text) is {"error": {"kind", "message"}}:
        the kind is the stable name of the reason, so tests assert it and not the wording."""
        r = await self.call(name, args, **kw)
        text = result_text(r)
        if not is_error(r):
            raise ToolCallFailed(f"{name}({_short(args)}) should be a tool error, got: {text[:500]}")
        try:
            doc = json.loads(text)
        except ValueError:
            raise ToolCallFailed(f"{name}({_short(args)}): the error's text is not one JSON document: {text[:500]!r}") from None
        structured = wire(r).get("structuredContent")
        assert structured == doc, f"{name}: structuredContent differs from the JSON text: {structured!r} vs {doc!r}"
        err = doc.get("error") if isinstance(doc, dict) else None
        assert isinstance(err, dict), f"{name}({_short(args)}): no {{error: {{kind, message}}}} in {doc}"
        message = err.get("message")
        assert isinstance(message, str) and message.strip(), f"{name}({_short(args)}): a tool error without a message: {doc}"
        if err.get("kind") != kind:
            raise ToolCallFailed(f"{name}({_short(args)}): expected a {kind!r} error, got {err.get('kind')!r}: {message}")
        return message


def _short(args: Any) -> str:
    s = json.dumps(args, ensure_ascii=False) if args is not None else ""
    return s if len(s) < 200 else s[:200] + f"…({len(s)} chars)"


async def eventually(
    check: Callable[[], Any] | Callable[[], Awaitable[Any]],
    timeout: float,
    what: str,
    interval: float = 0.01,
) -> Any:
    """Polls `check` (sync or async) until it returns something truthy; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        v = check()
        if hasattr(v, "__await__"):
            v = await v
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await anyio.sleep(interval)


async def wait_job(sess: Session, job: int, timeout: float = 30) -> dict[str, Any]:
    """Polls job_status until the job is finished; returns its last status."""
    last: dict[str, Any] = {}

    async def done() -> bool:
        nonlocal last
        last = await sess.ok("job_status", {"id": job})
        return last.get("state") in TERMINAL

    try:
        await eventually(done, timeout, f"job {job} to finish", interval=0.05)
    except AssertionError as e:
        raise AssertionError(f"{e}; last status: {last}") from None
    return last


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, copy_function=shutil.copy2)
