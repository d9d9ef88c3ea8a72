"""a. The handshake and what the server offers: tools with descriptions and schemas, resources and
resource templates, read through the official SDK."""

from __future__ import annotations

import json

import pytest
from mcp import types

from brainmcp import TOOLS, Server, note_id
from mcpsdk import wire

pytestmark = pytest.mark.anyio

# What each tool requires; every other argument of the spec is optional.
REQUIRED = {
    "search": {"query"},
    "get": {"type", "id"},
    "list": set(),
    "create": {"type", "id", "content"},
    "update": {"type", "id", "content"},
    "delete": {"type", "id"},
    "sync": set(),
    "git_sync": set(),
    "status": set(),
    "job_status": {"id"},
    "cancel_job": {"id"},
    "history": {"type", "id"},
    "revert": {"type", "id", "version"},
    "edit": {"type", "id", "op"},
    "move": {"type", "id", "new_id"},
    "batch": {"op", "where"},
    "batch_status": {"id"},
    "batch_rollback": {"id"},
    "batch_cancel": {"id"},
}
# Every argument of the spec, required or not.
PROPERTIES = {
    "search": {"query", "types", "tags", "limit", "offset"},
    "get": {"type", "id"},
    "list": {"type", "folder", "tag", "limit", "offset"},
    "create": {"type", "id", "content"},
    "update": {"type", "id", "content", "expected_hash"},
    "delete": {"type", "id"},
    "sync": {"mode", "allow_mass_delete", "wait"},
    "git_sync": {"op", "wait"},
    "status": set(),
    "job_status": {"id"},
    "cancel_job": {"id"},
    "history": {"type", "id", "version"},
    "revert": {"type", "id", "version", "message"},
    "edit": {"type", "id", "op", "text", "heading", "find", "replace", "count", "key", "value", "expected_hash", "message"},
    "move": {"type", "id", "new_type", "new_id", "message"},
    "batch": {"op", "where", "key", "value", "tag", "to", "old", "new", "dry_run"},
    "batch_status": {"id", "wait"},
    "batch_rollback": {"id"},
    "batch_cancel": {"id"},
}


async def test_initialize_and_list(server: Server) -> None:
    async with server.session() as sess:
        init = sess.init  # in wire form, as both SDK lines give it
        assert init.get("protocolVersion"), init
        assert init.get("serverInfo", {}).get("name"), init
        caps = init.get("capabilities", {})
        assert caps.get("tools") is not None, f"no tools capability: {caps}"
        assert caps.get("resources") is not None, f"no resources capability: {caps}"

        tools = wire(await sess.s.list_tools())["tools"]
        by_name = {t["name"]: t for t in tools}
        missing = [n for n in TOOLS if n not in by_name]
        assert not missing, f"tools missing: {missing}; listed: {sorted(by_name)}"
        for name in TOOLS:
            t = by_name[name]
            desc = t.get("description")
            assert desc and len(desc.strip()) > 10, f"{name}: no real description: {desc!r}"
            schema = t["inputSchema"]
            assert schema.get("type") == "object", f"{name}: inputSchema is not an object schema: {schema}"
            props = set((schema.get("properties") or {}).keys())
            assert PROPERTIES[name] <= props, f"{name}: inputSchema lacks {PROPERTIES[name] - props}: {schema}"
            # An argument a tool does not list is refused, and the schema says so (issue 14.7).
            assert schema.get("additionalProperties") is False, f"{name}: unknown arguments are not refused: {schema}"
            required = set(schema.get("required") or [])
            assert required == REQUIRED[name], f"{name}: required {sorted(required)}, want {sorted(REQUIRED[name])}"

        resources = wire(await sess.s.list_resources())["resources"]
        uris = [r["uri"] for r in resources]
        assert "brain://types" in uris, f"resources: {uris}"

        templates = wire(await sess.s.list_resource_templates())["resourceTemplates"]
        tmpl = [t["uriTemplate"] for t in templates]
        assert "entity://{type}/{id}" in tmpl, f"resource templates: {tmpl}"


async def test_read_resources(server: Server) -> None:
    vault = server.vault
    async with server.session() as sess:
        r = await sess.s.read_resource("brain://types")
        assert len(r.contents) >= 1
        c = r.contents[0]
        assert isinstance(c, types.TextResourceContents), c
        doc = json.loads(c.text)
        assert "note" in json.dumps(doc), f"brain://types does not mention the note type: {c.text[:500]}"

        for rel in [p for p in vault.manifest["paths"] if p.isascii()][:3]:
            uri = f"entity://note/{note_id(rel)}"
            r = await sess.s.read_resource(uri)
            assert len(r.contents) >= 1, f"{uri}: no contents"
            c = r.contents[0]
            assert isinstance(c, types.TextResourceContents), f"{uri}: {c}"
            assert c.text.encode() == vault.file(rel).read_bytes(), f"{uri} differs from {rel} on disk"
