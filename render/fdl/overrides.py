"""`--set SECTION.KEY=VALUE` flags: each value read as YAML within the limits, all of them one mapping."""

from __future__ import annotations

from typing import Any

import yaml

from render.fdl.errors import FdlError, Location, Problem
from render.fdl.yaml_source import KeyPath, dotted, load_value

FUNCTION_SECTIONS = ("lambda", "iam", "api_gateway", "cloudwatch", "batch", "ecr", "s3")


def parse_override(text: str) -> tuple[KeyPath, Any]:
    """`lambda.memory=2048` → (("lambda", "memory"), 2048); the value is read as YAML, within its limits."""
    key, sep, raw = text.partition("=")
    path = tuple(part for part in key.strip().split(".") if part)
    if not sep or not path or path[0] not in FUNCTION_SECTIONS:
        sections = ", ".join(FUNCTION_SECTIONS)
        raise FdlError.single(
            Location("--set", 0, text),
            f"expected SECTION.KEY=VALUE where SECTION is one of {sections}, e.g. lambda.memory=2048",
        )
    try:
        value = load_value(raw, Location("--set", 0, dotted(path))) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw  # not YAML: the text itself
    return path, value


def override_values(overrides: list[str], problems: list[Problem]) -> dict[str, Any]:
    """The values of all `--set` flags, a later flag winning; a malformed flag goes to `problems`."""
    values: dict[Any, Any] = {}
    for text in overrides:
        try:
            path, value = parse_override(text)
        except FdlError as exc:
            problems.extend(exc.problems)
            continue
        node = values
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[path[-1]] = value
    return values
