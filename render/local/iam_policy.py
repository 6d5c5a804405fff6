"""Whether IAM identity policies allow one action on one resource, as AWS decides it.

The emulator evaluates the policies of the roles it issued credentials to (render/local/moto/access.py)
with this, not with moto's own evaluator, which allows more than AWS does: it ignores every
condition operator but StringEquals (and StringEquals passes when the request has no value for
the key), takes a statement without `Resource` (a `NotResource` one, even a Deny) as an Allow,
and matches ARNs as regular expressions (`.` matches any character).

What is decided here, as in AWS's evaluation logic for one account: an explicit Deny wins, then
an Allow, else the request is denied; `Action`/`NotAction` match case-insensitively,
`Resource`/`NotResource` case-sensitively, with `*` and `?` as the only wildcards. Conditions are
met only when the operator is one of CONDITION_OPERATORS and the request gives every key named:
an Allow with any other condition does not apply, a Deny with one does (so an unknown condition
never lets more through).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


CONDITION_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda actual, expected: actual == expected,
    "StringNotEquals": lambda actual, expected: actual != expected,
    "StringLike": lambda actual, expected: _glob(expected, False).fullmatch(actual) is not None,
    "StringNotLike": lambda actual, expected: _glob(expected, False).fullmatch(actual) is None,
}
NEGATED = ("StringNotEquals", "StringNotLike")  # met when no expected value matches


def _values(element: Any) -> list[str]:
    return [element] if isinstance(element, str) else [str(v) for v in element or []]


def _matches(patterns: Any, value: str, ignore_case: bool) -> bool:
    return any(_glob(p, ignore_case).fullmatch(value) for p in _values(patterns))


def _conditions_met(conditions: Mapping[str, Any], context: Mapping[str, str], deny: bool) -> bool:
    for operator, keys in conditions.items():
        test = CONDITION_OPERATORS.get(operator)
        for key, expected in keys.items():
            actual = context.get(key)
            if test is None or actual is None:
                if not deny:
                    return False  # unknown to the emulator: an Allow does not apply
                continue  # ... and a Deny does
            hits = [test(actual, value) for value in _values(expected)]
            if not (all(hits) if operator in NEGATED else any(hits)):
                return False
    return True


def _applies(statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]) -> bool:
    if "Action" in statement:
        concerned = _matches(statement["Action"], action, True)
    else:
        concerned = "NotAction" in statement and not _matches(statement["NotAction"], action, True)
    if "Resource" in statement:
        concerned = concerned and _matches(statement["Resource"], resource, False)
    else:
        concerned = concerned and "NotResource" in statement and not _matches(statement["NotResource"], resource, False)
    deny = statement.get("Effect") == "Deny"
    return concerned and _conditions_met(statement.get("Condition") or {}, context, deny)


def statements(document: str | Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A policy document's statements (the JSON text or the parsed document)."""
    parsed = json.loads(document) if isinstance(document, str) else document
    found = parsed.get("Statement", [])
    return [found] if isinstance(found, Mapping) else list(found)


def allowed(
    documents: Iterable[str | Mapping[str, Any]], action: str, resource: str, context: Mapping[str, str]
) -> bool:
    """Whether `documents` (one principal's identity policies) allow `action` on `resource`."""
    permitted = False
    for document in documents:
        for statement in statements(document):
            if _applies(statement, action, resource, context):
                if statement.get("Effect") == "Deny":
                    return False
                permitted = permitted or statement.get("Effect") == "Allow"
    return permitted
