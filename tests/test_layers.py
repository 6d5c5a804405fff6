"""The package's layers: each subsystem imports only those below it, and the runtime imports none.

commands -> local / aws / review -> terraform -> fdl; `faas_supervisor` (the runtime contract)
may be imported by every layer and imports nothing of the renderer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import REPO

# What each part of `render` may import, besides itself, `render.__version__` and faas_supervisor.
ALLOWED = {
    "fdl": set(),
    "terraform": {"fdl"},
    "aws": {"fdl", "terraform"},
    "local": {"aws", "terraform", "fdl"},
    "review": {"terraform", "fdl"},
    "main": {"terraform", "fdl"},
    "commands": {"main", "local", "aws", "review", "terraform", "fdl"},
    "cli": {"commands", "main", "aws", "terraform", "fdl"},  # aws: what --plan checks first
    "faas_cli": {"commands"},
}


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def part_of(module: str) -> str | None:
    """`render.fdl.model` -> "fdl"; `render.cli` -> "cli"; None outside the renderer's parts."""
    parts = module.split(".")
    return parts[1] if parts[0] == "render" and len(parts) > 1 and parts[1] != "__version__" else None


RENDER_FILES = sorted((REPO / "render").rglob("*.py"))


@pytest.mark.parametrize("path", RENDER_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_render_imports_point_one_way(path: Path) -> None:
    parts = [p for p in path.relative_to(REPO / "render").with_suffix("").parts if p != "__init__"]
    own = part_of(".".join(["render", *parts]))
    if own is None:  # render/__init__.py
        return
    used = {part for m in imported_modules(path) if (part := part_of(m)) is not None} - {own}
    assert used <= ALLOWED[own], f"{path.name} ({own}) imports {sorted(used - ALLOWED[own])}"


def test_the_runtime_never_imports_the_renderer() -> None:
    for path in sorted((REPO / "supervisor" / "faas_supervisor").rglob("*.py")):
        renderer = {m for m in imported_modules(path) if m.split(".")[0] == "render"}
        assert not renderer, f"{path.name} imports {sorted(renderer)}"
