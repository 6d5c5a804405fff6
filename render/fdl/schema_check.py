"""Check settings against the published JSON Schema and turn its errors into located messages."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from render.fdl.errors import Location
from render.fdl.yaml_source import KeyPath

Problem = tuple[Location, str]


@cache
def fdl_schema() -> dict[str, Any]:
    return json.loads(resources.files("render.fdl").joinpath("schema/fdl.schema.json").read_text())


@cache
def _validator(ref: str | None) -> jsonschema.protocols.Validator:
    schema = fdl_schema()
    if ref:
        schema = {"$ref": f"#/$defs/{ref}", "$defs": schema["$defs"]}
    return jsonschema.Draft202012Validator(schema)


def check(values: Any, locate: Callable[[KeyPath], Location], ref: str | None = None) -> list[Problem]:
    """Validate `values` (the whole FDL, or one function with ref="function")."""
    return [problem for error in _validator(ref).iter_errors(values) for problem in _describe(error, locate)]


def _describe(error: jsonschema.ValidationError, locate: Callable[[KeyPath], Location]) -> Iterable[Problem]:
    path: KeyPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance: Any = error.instance  # a validation error always has one (the stubs allow "unset")
    expected: Any = error.validator_value
    if error.validator == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        for key in sorted(set(instance) - set(known)):
            guess = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean '{guess[0]}'?" if guess else f"; expected one of: {', '.join(known)}"
            yield locate(path + (key,)), f"unknown key{hint}"
        return
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        yield locate(path), f"missing required key '{missing}'"
        return
    if error.validator == "propertyNames":
        yield locate(path), f"invalid name {error.instance!r}: {_expected(error.validator_value)}"
        return
    message = error.message
    if error.validator == "pattern":
        message = f"{error.instance!r} is not valid"
    if error.validator == "enum":
        message = f"{error.instance!r} is not one of {', '.join(repr(v) for v in expected if v is not None)}"
    description = schema.get("description")
    if description and error.validator != "enum":
        message += f" (expected: {description})"
    yield locate(path), message


def _expected(subschema: Any) -> str:
    if isinstance(subschema, dict) and "pattern" in subschema:
        return f"must match {subschema['pattern']}"
    return "not allowed"
