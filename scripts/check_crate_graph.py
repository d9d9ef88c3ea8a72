#!/usr/bin/env python3
"""The crate graph of DESIGN.md, checked from `cargo metadata`.

Each workspace crate may depend (as a normal or build dependency) only on the workspace
crates its layer allows: brain-api on no plugin, no plugin on another, interfaces on brain-api
and brain-core only. Dev-dependencies are not checked: a crate's tests may put the whole stack
together (brain-api's tests run the real sync and git plugins). A new workspace crate must be
given a layer here before it builds in CI, so the graph is a decision, not an accident.
"""

import json
import subprocess
import sys

CORE = {"brain-core"}
STORE = CORE | {"brain-store"}
JOBS = STORE | {"brain-jobs"}
API = JOBS | {"brain-api"}
ALLOWED = {
    "brain-core": set(),
    "brain-store": CORE,
    "brain-store-sqlite": STORE,
    "brain-store-postgres": STORE,
    "brain-jobs": STORE,
    "brain-api": JOBS,
    # Plugins: one capability each, side by side; they name each other's job types and reach
    # each other's code through capabilities, never through a dependency.
    "brain-sync": API,
    "brain-git": API,
    "brain-embed": API,
    # Interfaces: thin, over the facade.
    "brain-mcp": {"brain-api", "brain-core"},
    "brain-web": {"brain-api", "brain-core"},
    "brain-matrix": {"brain-api", "brain-core"},
    # The edges: they put everything together.
    "brain": None,
    "brain-bench": None,
}


def main() -> int:
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    packages = json.loads(out)["packages"]
    ours = {p["name"] for p in packages}
    errors = []
    for p in packages:
        name = p["name"]
        if name not in ALLOWED:
            errors.append(
                f"{name} is a new workspace crate: give it a layer in scripts/check_crate_graph.py "
                "(see DESIGN.md, Crates)"
            )
            continue
        allowed = ALLOWED[name]
        if allowed is None:
            continue
        for dep in p["dependencies"]:
            if dep["name"] not in ours or dep.get("kind") == "dev":
                continue
            if dep["name"] not in allowed:
                errors.append(
                    f"{name} depends on {dep['name']}, which DESIGN.md's crate graph forbids "
                    f"(it may depend on {', '.join(sorted(allowed)) or 'no workspace crate'}); "
                    "reach it through brain-api (a capability, the facade, a re-export) instead"
                )
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
