"""Property-based fuzzing of the FDL loader: any input gives a render or a clear error, never a crash."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from render.fdl.errors import FdlError
from render.fdl.resolve import resolve
from render.fdl.settings import load_settings
from render.terraform.root_module import render_root
from tests.helpers import EXAMPLES, NETWORK_CONFIG

SEEDS = [
    yaml.safe_load((EXAMPLES / "hello" / "hello.yaml").read_text()),
    yaml.safe_load((EXAMPLES / "video-process" / "video-process.yaml").read_text()),
]
SCRIPTS = {"hello.sh", "split-video.sh", "frame-stats.sh"}
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(["", "s3", "batch", "lambda-batch", "${X}", "%{ if }", "../x", "a/b/c"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=12), inner, max_size=3)),
    max_leaves=8,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, prefix + (index,))
    return found


@st.composite
def mutated_fdl(draw: st.DrawFn) -> Any:
    document = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        targets = paths(document)
        target = draw(st.sampled_from(targets))
        if not target:
            continue
        parent: Any = document
        for part in target[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[target[-1]] = draw(values)
        elif action == "delete":
            del parent[target[-1]]
        elif isinstance(parent[target[-1]], dict):
            parent[target[-1]][draw(st.text(max_size=12))] = draw(values)
    return document


def attempt(source: Path, folder: Path, supervisor: Path) -> None:
    """Load, validate and render in memory; only FdlError may escape."""
    for script in SCRIPTS:
        (folder / script).write_text("echo hi\n")
    try:
        deployment = resolve(load_settings(source, [NETWORK_CONFIG], []))
    except FdlError as error:
        assert error.problems and all(location.file for location, _ in error.problems)
        return
    render_root(
        deployment, module_source=lambda name: f"./modules/{name}", supervisor_bundle=lambda architecture: supervisor
    )


@FUZZ
@given(text=st.text(max_size=400))
def test_random_text_never_crashes(text: str, tmp_path: Path, stand_in_supervisor: Path) -> None:
    source = tmp_path / "fdl.yaml"
    source.write_text(text)
    attempt(source, tmp_path, stand_in_supervisor)


@FUZZ
@given(document=mutated_fdl())
def test_mutated_fdl_renders_or_fails_clearly(document: Any, tmp_path: Path, stand_in_supervisor: Path) -> None:
    source = tmp_path / "fdl.yaml"
    source.write_text(yaml.safe_dump(document, allow_unicode=True))
    attempt(source, tmp_path, stand_in_supervisor)
