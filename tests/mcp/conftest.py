"""Fixtures of the MCP end-to-end tests: generated vaults (generated once per run, copied per test)
and the server under test, parametrized over the two transports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from brainmcp import NOTES, Server, Vault, brain_bin, copy_tree, generator
from mcpsdk import SDK_VERSION


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_report_header(config: pytest.Config) -> str:
    """Which SDK line this run tests against (scripts/test runs the suite once per line)."""
    return f"mcp SDK {SDK_VERSION} (the client under test); brain: {brain_bin()}"


def pytest_configure(config: pytest.Config) -> None:
    b = brain_bin()
    if not b.is_file():
        raise pytest.UsageError(f"{b} not found: build it with `cargo build -p brain` (or set BRAIN_BIN)")


class Templates:
    """Generated vaults (files only, no .brain/), one per size, made once per test run."""

    def __init__(self, base: Path):
        self.base = base
        self.made: dict[int, tuple[Path, dict[str, Any]]] = {}

    def get(self, notes: int) -> tuple[Path, dict[str, Any]]:
        if notes not in self.made:
            out = self.base / f"gen-{notes}"
            manifest = self.base / f"gen-{notes}.json"
            r = subprocess.run(
                [sys.executable, str(generator()), str(out), "--notes", str(notes), "--manifest", str(manifest)],
                capture_output=True,
                text=True,
            )
            assert r.returncode == 0, f"gen_vault.py failed: {r.stderr}"
            self.made[notes] = (out, json.loads(manifest.read_text()))
        return self.made[notes]


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return Templates(tmp_path_factory.mktemp("templates"))


MakeVault = Callable[..., Vault]


@pytest.fixture
def make_vault(tmp_path: Path, templates: Templates) -> MakeVault:
    """make_vault(notes=2000, synced=True, name="vault"): a generated vault, `brain init` run,
    and `brain sync` too unless synced=False. Its manifest is `vault.manifest`."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)

    def make(notes: int = NOTES, synced: bool = True, name: str = "vault") -> Vault:
        root = tmp_path / name
        if notes:
            src, manifest = templates.get(notes)
            copy_tree(src, root)
        else:
            root.mkdir()
            manifest = {"notes": 0, "paths": [], "queries": {}}
        v = Vault(root, home)
        v.manifest = manifest  # type: ignore[attr-defined]
        v.brain("init")
        if synced and notes:
            v.brain("sync")
        return v

    return make


@pytest.fixture(params=["stdio", "http"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


MakeServer = Callable[..., Server]


@pytest.fixture
def make_server(transport: str, tmp_path: Path) -> Iterator[MakeServer]:
    """make_server(vault, env={...}, token=None): the server under test on `transport`, started
    (http) and stopped with SIGTERM at the end of the test, which checks it exited 0.

    It takes `tmp_path` so that it is torn down first: the daemon stops before pytest may remove
    the test's folder (`tmp_path_retention_policy`), which it would rightly report as its vault
    folder deleted under it, exiting 1."""
    servers: list[Server] = []

    def make(vault: Vault, env: dict[str, str] | None = None, token: str | None = None) -> Server:
        s = Server(transport, vault, env=env, token=token)
        servers.append(s)
        return s.start()

    yield make
    problems = []
    for s in servers:
        if s.proc is None:
            continue
        try:
            rc = s.stop()
        except AssertionError as e:
            problems.append(f"{e}\n{s.describe()}")
            continue
        if rc != 0:
            problems.append(f"brain serve exited {rc} after SIGTERM\n{s.describe()}")
    assert not problems, "\n".join(problems)


@pytest.fixture
def vault(make_vault: MakeVault) -> Vault:
    """A synced 2,000-note vault."""
    return make_vault()


@pytest.fixture
def server(make_server: MakeServer, vault: Vault) -> Server:
    return make_server(vault)
