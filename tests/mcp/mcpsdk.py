"""The official MCP Python SDK (`mcp` from PyPI) as the end-to-end tests use it, the same on both
of its lines: 1.x (tests/mcp/requirements-1.txt) and 2.x (requirements-2.txt). scripts/test runs
the whole suite once per line, so a server that only one line's client can talk to fails CI.

The lines differ in names, not in what goes over the wire: 2.x renamed its model attributes to
snake_case (`CallToolResult.isError` became `is_error`, `structuredContent` became
`structured_content`, ...), renamed `McpError` to `MCPError`, moved from httpx to httpx2, and its
streamable HTTP client yields (read, write) where 1.x yields (read, write, get_session_id). So the
tests read every SDK object through `wire()`, its JSON-RPC form with the MCP spec's own field
names, which both lines produce with pydantic's public `model_dump(by_alias=True)`; they use no
private attribute of the SDK (request ids are read off the wire by `WireTap`). Everything that
still differs by line is here, and only here.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator
from importlib.metadata import version
from typing import Any

from mcp import types
from mcp.client.streamable_http import streamable_http_client
from pydantic import BaseModel, TypeAdapter

try:  # 2.x
    from mcp.shared.exceptions import MCPError as McpError
except ImportError:  # 1.x
    from mcp.shared.exceptions import McpError  # type: ignore[attr-defined,no-redef]

__all__ = ["SDK_LINE", "SDK_VERSION", "McpError", "WireTap", "client_notification", "http_streams", "is_error", "wire"]

# The installed SDK, e.g. "2.3.0", and its major version, the line.
SDK_VERSION = version("mcp")
SDK_LINE = int(SDK_VERSION.split(".")[0])

# The HTTP library the SDK's streamable HTTP client takes a client of: httpx on 1.x, httpx2 on 2.x.
http = importlib.import_module("httpx2" if SDK_LINE >= 2 else "httpx")


def wire(obj: Any) -> Any:
    """An SDK object (a result, a notification, a JSON-RPC message) as it is on the wire: a dict
    with the spec's field names (`isError`, `structuredContent`, `protocolVersion`, `progressToken`,
    ...), absent fields left out. Anything else is returned as it is."""
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json", by_alias=True, exclude_none=True)
    return obj


def is_error(r: types.CallToolResult) -> bool:
    """Whether a tool result is a tool error (the spec's `isError`; absent means false)."""
    return bool(wire(r).get("isError", False))


def client_notification(method: str, params: dict[str, Any]) -> Any:
    """A notification the client sends (for `ClientSession.send_notification`), built from its
    wire form: 1.x wraps it in the `ClientNotification` root model, 2.x does not; validating the
    dict with pydantic's `TypeAdapter` gives each line its own shape."""
    return TypeAdapter(types.ClientNotification).validate_python({"method": method, "params": params})


@contextlib.asynccontextmanager
async def http_streams(url: str, headers: dict[str, str]) -> AsyncIterator[tuple[Any, Any]]:
    """The (read, write) streams of a streamable HTTP connection to `url`, every request carrying
    `headers`, through an HTTP client made the way both lines document: the caller builds the
    client (with the MCP transports' timeouts: 30 s, 300 s to read a stream) and passes it in."""
    client = http.AsyncClient(headers=headers, timeout=http.Timeout(30.0, read=300.0))
    async with client:
        async with streamable_http_client(url, http_client=client) as streams:
            yield streams[0], streams[1]


class WireTap:
    """Wraps a transport's write stream to record every JSON-RPC message the client sends, in its
    wire form (`wire()`), and passes each on unchanged. Tests read request ids and progress tokens
    here instead of from SDK internals, and see whether the SDK itself sent a message (2.x sends
    `notifications/cancelled` when the caller of a request gives up on it; 1.x does not)."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.sent: list[dict[str, Any]] = []

    async def send(self, item: Any) -> None:
        self.sent.append(wire(getattr(item, "message", item)))
        await self.inner.send(item)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aenter__(self) -> WireTap:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        return await self.inner.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        # Whatever else a line's session calls on its write stream (close, clone, ...).
        return getattr(self.inner, name)

    def requests(self, method: str) -> list[dict[str, Any]]:
        """The requests of `method` sent so far (each with its `id`)."""
        return [m for m in self.sent if m.get("method") == method and "id" in m]

    def notifications(self, method: str) -> list[dict[str, Any]]:
        """The notifications of `method` sent so far."""
        return [m for m in self.sent if m.get("method") == method and "id" not in m]
