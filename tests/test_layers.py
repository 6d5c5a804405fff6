"""The package's layers: each subsystem imports only those below it, and the runtime imports none.

commands -> local / aws / review -> terraform -> fdl; `faas_supervisor` (the runtime contract)
may be imported by every layer and imports nothing of the renderer. Inside local, its AWS side
(the emulator, the service) may use its two rooms, not the other way round: `local.moto` (every
change to moto, which nothing else imports) and `local.execution` (running functions and jobs,
which knows nothing of the emulator).
"""

from __future__ import annotations

import ast
import configparser
from pathlib import Path

import pytest

from tests.helpers import REPO

# What each part of `render` may import, besides itself, `render.__version__` and faas_supervisor.
ALLOWED = {
    "fdl": set(),
    "terraform": {"fdl"},
    "aws": {"fdl", "terraform"},
    "local": {"local.moto", "local.execution", "aws", "terraform", "fdl"},
    "local.moto": {"local"},  # the ECR blob store its ECR keeps pushed bytes in
    "local.execution": {"aws", "terraform", "fdl"},
    "review": {"terraform", "fdl"},
    "main": {"terraform", "fdl"},
    "commands": {"main", "local", "local.execution", "aws", "review", "terraform", "fdl"},
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


ROOMS = ("local.moto", "local.execution")  # subpackages that are layers of their own


def part_of(module: str) -> str | None:
    """`render.fdl.model` -> "fdl"; `render.local.moto.ecr` -> "local.moto"; `render.cli` -> "cli";
    None outside the renderer's parts."""
    parts = module.split(".")
    if parts[0] != "render" or len(parts) < 2 or parts[1] == "__version__":
        return None
    room = ".".join(parts[1:3])
    return room if room in ROOMS else parts[1]


RENDER_FILES = sorted((REPO / "render").rglob("*.py"))


@pytest.mark.parametrize("path", RENDER_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_render_imports_point_one_way(path: Path) -> None:
    parts = [p for p in path.relative_to(REPO / "render").with_suffix("").parts if p != "__init__"]
    own = part_of(".".join(["render", *parts]))
    if own is None:  # render/__init__.py
        return
    used = {part for m in imported_modules(path) if (part := part_of(m)) is not None} - {own}
    assert used <= ALLOWED[own], f"{path.name} ({own}) imports {sorted(used - ALLOWED[own])}"


def test_only_the_moto_room_and_the_emulator_import_moto() -> None:
    """moto's internals change between releases: what the emulator relies on is in one place."""
    allowed = {REPO / "render" / "local" / "emulator.py", *(REPO / "render" / "local" / "moto").glob("*.py")}
    for path in RENDER_FILES:
        if path not in allowed:
            moto = {m for m in imported_modules(path) if m.split(".")[0] == "moto"}
            assert not moto, f"{path.relative_to(REPO)} imports {sorted(moto)}"


def test_the_runtime_never_imports_the_renderer() -> None:
    for path in sorted((REPO / "supervisor" / "faas_supervisor").rglob("*.py")):
        renderer = {m for m in imported_modules(path) if m.split(".")[0] == "render"}
        assert not renderer, f"{path.name} imports {sorted(renderer)}"


MAX_LINES = 300  # a module that grows past this holds two things: split it


LOCAL_FILES = [p for p in RENDER_FILES if p.is_relative_to(REPO / "render" / "local")]


@pytest.mark.parametrize("path", LOCAL_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_local_modules_stay_small(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_setup_cfg_ships_every_package() -> None:
    """A package on disk that setup.cfg's `packages` leaves out is missing from the wheel."""
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    listed = {line.strip() for line in config["options"]["packages"].splitlines() if line.strip()}
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "render").rglob("__init__.py")}
    assert {p for p in listed if p.split(".")[0] == "render"} == on_disk
