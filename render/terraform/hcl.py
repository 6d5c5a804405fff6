"""HCL output helpers: one escaping rule for user strings, value formatting, `terraform fmt` alignment."""

from __future__ import annotations

import json
import re
from typing import Any


class Raw(str):
    """An HCL expression written by the template itself (a reference), emitted without quoting."""


def hcl_string(value: str) -> str:
    """Quote a user string so that Terraform reads it back byte for byte.

    JSON string escapes are valid HCL escapes; on top of them `${` and `%{` would start a
    template interpolation or directive, so they are doubled (`$${`, `%%{`) to stay literal.
    """
    quoted = json.dumps(value, ensure_ascii=False)
    return quoted.replace("${", "$${").replace("%{", "%%{")


def hcl(value: Any, indent: int = 0) -> str:
    """Format a Python value as an HCL expression; maps and lists of maps span several lines."""
    if isinstance(value, Raw):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return hcl_string(value)
    pad = "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = [f"{pad}{_key(key)} = {hcl(item, indent + 1)}" for key, item in value.items()]
        return "{\n" + "\n".join(lines) + "\n" + "  " * indent + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        if all(not isinstance(item, (dict, list, tuple)) for item in value):
            return "[" + ", ".join(hcl(item) for item in value) + "]"
        lines = [f"{pad}{hcl(item, indent + 1)}," for item in value]
        return "[\n" + "\n".join(lines) + "\n" + "  " * indent + "]"
    raise TypeError(f"cannot write {type(value).__name__} as HCL")


def _key(key: str) -> str:
    """Attribute-style keys stay bare; data keys (bucket, variable names) and keywords are quoted."""
    bare = re.fullmatch(r"[a-z_][a-z0-9_]*", key) and key not in ("true", "false", "null")
    return key if bare else hcl_string(key)


_ATTRIBUTE = re.compile(r'^(?P<indent>\s*)(?P<key>[A-Za-z_][\w-]*|"(?:[^"\\]|\\.)*")\s*=\s*(?P<value>.*)$')


def align(text: str) -> str:
    """Align `=` the way `terraform fmt` does.

    A run of consecutive single-line attributes at one indentation is aligned; a blank line, a
    line at another indentation, a block header or an attribute whose value spans several lines
    ends the run (that attribute itself keeps a single space before `=`).
    """
    lines = text.split("\n")
    out: list[str] = []
    run: list[tuple[str, str, str]] = []

    def flush() -> None:
        width = max((len(key) for _, key, _ in run), default=0)
        out.extend(f"{indent}{key.ljust(width)} = {value}" for indent, key, value in run)
        run.clear()

    for line in lines:
        match = _ATTRIBUTE.match(line)
        opens_block = match is not None and match.group("value").rstrip().endswith(("{", "[", "("))
        if match and not opens_block:
            if run and run[-1][0] != match.group("indent"):
                flush()
            run.append((match.group("indent"), match.group("key"), match.group("value")))
            continue
        flush()
        if match:
            line = f"{match.group('indent')}{match.group('key')} = {match.group('value')}"
        out.append(line)
    flush()
    return "\n".join(out)
