"""The emulator's IAM policy evaluation: what moto's own evaluator lets through is refused here."""

from __future__ import annotations

import json
from typing import Any

import pytest

from render.local.iam_policy import allowed

OBJECTS = "arn:aws:s3:::data/in/*"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any, **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


@pytest.mark.parametrize(
    ("statement", "action", "resource", "expected"),
    [
        (allow("s3:GetObject", OBJECTS), "s3:GetObject", "arn:aws:s3:::data/in/a.txt", True),
        (allow("s3:GetObject", OBJECTS), "s3:getobject", "arn:aws:s3:::data/in/a.txt", True),  # actions: any case
        (allow("s3:GetObject", OBJECTS), "s3:GetObject", "arn:aws:s3:::data/IN/a.txt", False),  # resources: exact case
        (allow("s3:GetObject", OBJECTS), "s3:PutObject", "arn:aws:s3:::data/in/a.txt", False),
        (allow("s3:GetObject", OBJECTS), "s3:GetObject", "arn:aws:s3:::data/out/a.txt", False),
        (allow("s3:GetObject", "arn:aws:s3:::a.b/*"), "s3:GetObject", "arn:aws:s3:::axb/k", False),  # `.` is a dot
        (allow("s3:GetObject", "arn:aws:s3:::a?c/*"), "s3:GetObject", "arn:aws:s3:::abc/k", True),  # `?`: one char
        (allow("s3:Get*", "*"), "s3:GetObject", "arn:aws:s3:::any/k", True),
        (allow("s3:*", "*"), "sqs:PurgeQueue", "arn:aws:sqs:us-east-1:1:q", False),
        ({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}, "sqs:PurgeQueue", "*", True),
        ({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}, "s3:ListBucket", "*", False),
        # moto takes a statement without Resource as an Allow, a Deny one included.
        (
            {"Effect": "Allow", "Action": "s3:*", "NotResource": OBJECTS},
            "s3:GetObject",
            "arn:aws:s3:::data/in/a",
            False,
        ),
        ({"Effect": "Allow", "Action": "s3:*", "NotResource": OBJECTS}, "s3:GetObject", "arn:aws:s3:::other/a", True),
        ({"Effect": "Allow", "Action": "s3:*"}, "s3:GetObject", "arn:aws:s3:::other/a", False),
        # moto ignores every condition operator but StringEquals, and passes StringEquals without a value.
        (allow("s3:ListBucket", "*", Condition={"StringLike": {"s3:prefix": ["in/*"]}}), "s3:ListBucket", "*", False),
        (allow("s3:ListBucket", "*", Condition={"StringEquals": {"s3:prefix": "in"}}), "s3:ListBucket", "*", False),
        (
            allow("s3:ListBucket", "*", Condition={"NumericLessThan": {"s3:max-keys": "10"}}),
            "s3:ListBucket",
            "*",
            False,
        ),
    ],
)
def test_one_statement(statement: dict[str, Any], action: str, resource: str, expected: bool) -> None:
    assert allowed([policy(statement)], action, resource, {}) is expected


def test_conditions_are_evaluated_with_the_requests_values() -> None:
    listing = policy(
        allow("s3:ListBucket", "arn:aws:s3:::data", Condition={"StringLike": {"s3:prefix": ["in", "in/*"]}})
    )
    assert allowed([listing], "s3:ListBucket", "arn:aws:s3:::data", {"s3:prefix": "in/x"})
    assert not allowed([listing], "s3:ListBucket", "arn:aws:s3:::data", {"s3:prefix": "out/x"})
    assert not allowed([listing], "s3:ListBucket", "arn:aws:s3:::data", {})
    negated = policy(allow("s3:ListBucket", "*", Condition={"StringNotLike": {"s3:prefix": ["secret/*"]}}))
    assert allowed([negated], "s3:ListBucket", "*", {"s3:prefix": "in/"})
    assert not allowed([negated], "s3:ListBucket", "*", {"s3:prefix": "secret/a"})


def test_an_explicit_deny_wins_and_a_deny_with_an_unknown_condition_applies() -> None:
    grant = policy(allow("s3:*", "*"))
    deny = policy({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"})
    assert allowed([grant, deny], "s3:GetObject", "arn:aws:s3:::d/k", {})
    assert not allowed([grant, deny], "s3:DeleteObject", "arn:aws:s3:::d/k", {})
    unknown = policy(
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    )
    assert not allowed([grant, unknown], "s3:GetObject", "arn:aws:s3:::d/k", {})
    assert not allowed([], "s3:GetObject", "arn:aws:s3:::d/k", {})  # nothing allows: denied
