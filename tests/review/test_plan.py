"""`faas review` on hand-written plans: grouping, each warning, formats, and bad input."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from render.faas_cli import main as faas
from render.review.changes import PlanError
from render.review.plan import load_plan, review
from render.review.report import format_text

ADDRESS = re.compile(r"(?P<module>(?:module\.[^.]+\.)*)(?P<type>\w+)\.(?P<name>\w+)(?:\[(?P<index>.+)\])?")


def change(
    address: str,
    actions: list[str],
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    *,
    after_unknown: dict[str, Any] | None = None,
    replace_paths: list[list[Any]] | None = None,
    action_reason: str | None = None,
) -> dict[str, Any]:
    """A resource_changes entry as `terraform show -json` writes it."""
    match = ADDRESS.fullmatch(address)
    assert match, address
    entry: dict[str, Any] = {
        "address": address,
        "mode": "managed",
        "type": match["type"],
        "name": match["name"],
        "change": {"actions": actions, "before": before, "after": after, "after_unknown": after_unknown or {}},
    }
    if match["module"]:
        entry["module_address"] = match["module"].rstrip(".")
    if match["index"]:
        entry["index"] = json.loads(match["index"])
    if replace_paths:
        entry["change"]["replace_paths"] = replace_paths
    if action_reason:
        entry["action_reason"] = action_reason
    return entry


def plan(*changes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"format_version": "1.2", "planned_values": {}, "resource_changes": list(changes), **extra}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


READ_IN = allow("s3:GetObject", "arn:aws:s3:::data/in/*")


def iam_update(before: str, after: str) -> dict[str, Any]:
    return change(
        "module.iam_fn.aws_iam_role_policy.lambda[0]",
        ["update"],
        {"policy": before, "role": "fn-lambda-1"},
        {"policy": after, "role": "fn-lambda-1"},
    )


def test_changes_are_grouped_by_function_profile_storage_and_other() -> None:
    result = review(
        plan(
            change("module.lambda_fn.aws_lambda_function.this", ["update"]),
            change("module.iam_fn.aws_iam_role.lambda[0]", ["no-op"]),
            change('module.batch_ec2_12345678.aws_batch_job_definition.this["fn"]', ["delete", "create"]),
            change("module.batch_ec2_12345678.aws_batch_job_queue.this", ["update"]),
            change('module.storage.aws_lambda_permission.this["fn/data"]', ["create"]),
            change('module.storage.aws_s3_object.this["fn/config"]', ["update"]),
            change('module.storage.aws_s3_object.this["supervisor"]', ["create", "delete"]),
            change("module.lambda_new.aws_lambda_function.this", ["create"]),
            change("aws_sns_topic.alerts", ["create"]),
            change('module.storage.aws_s3_bucket_notification.this["data"]', ["forget"]),
        )
    )
    titles = [(g.title, g.counts()) for g in result.groups]
    assert titles == [
        ("function fn", {"create": 1, "update": 2, "replace": 1}),
        ("function new (new)", {"create": 1}),
        ("Batch compute profile ec2_12345678", {"update": 1}),
        ("storage (shared)", {"replace": 1, "forget": 1}),
        ("other: root module", {"create": 1}),
    ]
    text = format_text(result)
    assert text.startswith("Plan: 3 to create, 3 to change, 2 to replace, 0 to destroy, 1 to forget.\n")
    assert '  -/+ module.batch_ec2_12345678.aws_batch_job_definition.this["fn"]\n' in text
    assert '  +/- module.storage.aws_s3_object.this["supervisor"]\n' in text
    assert "Warnings" not in text


def test_image_changes_are_named_under_their_function() -> None:
    result = review(
        plan(
            change("module.image_fn.aws_lambda_invocation.build", ["update"]),
            change('module.storage.aws_s3_object.this["layer/fn"]', ["delete", "create"]),
            change("module.lambda_fn.aws_lambda_function.this", ["update"]),
            change("module.image_two_arm64.aws_ecr_repository.this", ["create"]),
            change('module.storage.aws_s3_object.this["layer/supervisor-x86_64"]', ["update"]),
            change("module.image_builder.aws_lambda_function.this", ["update"]),
        )
    )
    titles = [(g.title, g.counts()) for g in result.groups]
    assert titles == [
        ("function fn", {"update": 2, "replace": 1}),
        ("function two", {"create": 1}),
        ("storage (shared)", {"update": 1}),
        ("other: module.image_builder", {"update": 1}),
    ]


def test_no_changes() -> None:
    result = review(plan(change("module.lambda_fn.aws_lambda_function.this", ["no-op"])))
    assert format_text(result) == "No changes.\n"


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (
            policy(READ_IN),
            policy(READ_IN, allow(["s3:PutObject"], "arn:aws:s3:::data/out/*")),
            "IAM permission widened: allows s3:PutObject on arn:aws:s3:::data/out/*.",
        ),
        (
            policy(READ_IN),
            policy(allow("s3:*", "arn:aws:s3:::data/in/*")),
            "allows s3:* on arn:aws:s3:::data/in/* (wildcard) (and no longer allows s3:GetObject",
        ),
        (policy(READ_IN), policy(allow("s3:GetObject", "*")), "allows s3:GetObject on * (wildcard)"),
        (
            policy(allow("s3:ListBucket", "arn:aws:s3:::data", Condition={"StringLike": {"s3:prefix": ["in/*"]}})),
            policy(allow("s3:ListBucket", "arn:aws:s3:::data")),
            "changes the conditions of s3:ListBucket on arn:aws:s3:::data",
        ),
        (
            policy(READ_IN, {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}),
            policy(READ_IN),
            "no longer denies s3:DeleteObject on *",
        ),
        (
            policy(READ_IN),
            policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
            "allows not iam:* on * (wildcard)",
        ),
    ],
)
def test_widened_policies(before: str, after: str, expected: str) -> None:
    warnings = review(plan(iam_update(before, after))).warnings
    assert len(warnings) == 1 and warnings[0].startswith(
        "module.iam_fn.aws_iam_role_policy.lambda[0]: IAM permission widened"
    )
    assert expected in warnings[0]


def test_narrowed_or_reordered_policies_are_not_warned() -> None:
    wide = policy(allow(["s3:PutObject", "s3:GetObject"], ["arn:aws:s3:::data/in/*", "arn:aws:s3:::data/out/*"]))
    narrow = policy(allow("s3:GetObject", "arn:aws:s3:::data/in/*"))
    reordered = policy(allow(["s3:GetObject", "s3:PutObject"], ["arn:aws:s3:::data/out/*", "arn:aws:s3:::data/in/*"]))
    assert review(plan(iam_update(wide, narrow))).warnings == []
    assert review(plan(iam_update(wide, reordered))).warnings == []


def test_trust_policy_with_a_new_principal() -> None:
    lambda_trust = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
    anyone = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "*"}}
    result = review(
        plan(
            change(
                "module.iam_fn.aws_iam_role.lambda[0]",
                ["update"],
                {"assume_role_policy": policy(lambda_trust)},
                {"assume_role_policy": policy(lambda_trust, anyone)},
            )
        )
    )
    assert result.warnings == [
        "module.iam_fn.aws_iam_role.lambda[0]: IAM permission widened: allows sts:AssumeRole on AWS=* (wildcard)."
    ]


def test_new_roles_are_not_widening_but_attaching_to_existing_roles_is() -> None:
    result = review(
        plan(
            change("module.iam_new.aws_iam_role.lambda[0]", ["create"], None, {"assume_role_policy": policy(READ_IN)}),
            change(
                "module.iam_new.aws_iam_role_policy.lambda[0]",
                ["create"],
                None,
                {"policy": policy(READ_IN), "role": None},
                after_unknown={"role": True},
            ),
            change(
                "module.iam_fn.aws_iam_role_policy_attachment.lambda_vpc_access[0]",
                ["create"],
                None,
                {"role": "fn-lambda-1", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"},
            ),
            change(
                "aws_iam_role_policy.extra",
                ["create"],
                None,
                {"role": "existing-role", "policy": policy(READ_IN)},
            ),
        )
    )
    assert result.warnings == [
        "module.iam_fn.aws_iam_role_policy_attachment.lambda_vpc_access[0]: IAM permission widened: "
        "attaches arn:aws:iam::aws:policy/AdministratorAccess.",
        "aws_iam_role_policy.extra: IAM permission widened: allows s3:GetObject on arn:aws:s3:::data/in/*.",
    ]


def deferred_document(after: dict[str, Any]) -> dict[str, Any]:
    unknown = {"id": True, "json": True, "minified_json": True}
    return {
        "address": "module.iam_fn.data.aws_iam_policy_document.lambda[0]",
        "module_address": "module.iam_fn",
        "mode": "data",
        "type": "aws_iam_policy_document",
        "name": "lambda",
        "index": 0,
        "action_reason": "read_because_dependency_pending",
        "change": {"actions": ["read"], "before": None, "after": after, "after_unknown": unknown},
    }


CONFIGURATION = {
    "root_module": {
        "module_calls": {
            "iam_fn": {
                "module": {
                    "resources": [
                        {
                            "address": "aws_iam_role_policy.lambda",
                            "expressions": {
                                "policy": {
                                    "references": [
                                        "data.aws_iam_policy_document.lambda[0].json",
                                        "data.aws_iam_policy_document.lambda[0]",
                                    ]
                                }
                            },
                        }
                    ]
                }
            }
        }
    }
}


def test_policy_known_only_after_apply_is_rebuilt_from_its_document() -> None:
    """A document read deferred to apply: its statements and source documents are in the plan."""
    source = policy({"Sid": "WriteOutputs", **allow("s3:PutObject", "arn:aws:s3:::data/out/*")}, READ_IN)
    document = deferred_document(
        {
            "source_policy_documents": [source],
            "statement": [
                {
                    "sid": "WriteOutputs",  # replaces the source statement with the same Sid
                    "effect": None,
                    "actions": ["s3:PutObject"],
                    "resources": ["arn:aws:s3:::data/out/*", "arn:aws:s3:::data/new/*"],
                    "condition": [{"test": "StringEquals", "variable": "aws:RequestedRegion", "values": ["us-east-1"]}],
                    "principals": [],
                    "not_principals": [],
                }
            ],
        }
    )
    policy_change = change(
        "module.iam_fn.aws_iam_role_policy.lambda[0]",
        ["update"],
        {"policy": source},
        {"policy": None},
        after_unknown={"policy": True},
    )
    warnings = review(plan(document, policy_change, configuration=CONFIGURATION)).warnings
    assert warnings == [
        "module.iam_fn.aws_iam_role_policy.lambda[0]: IAM permission widened: allows s3:PutObject on "
        "arn:aws:s3:::data/new/*; changes the conditions of s3:PutObject on arn:aws:s3:::data/out/*."
    ]


def test_policy_that_cannot_be_rebuilt_is_flagged() -> None:
    policy_change = change(
        "module.iam_fn.aws_iam_role_policy.lambda[0]",
        ["update"],
        {"policy": policy(READ_IN)},
        {"policy": None},
        after_unknown={"policy": True},
    )
    document = deferred_document({"statement": [{"actions": ["s3:GetObject"], "resources": [None]}]})
    document["change"]["after_unknown"]["statement"] = [{"resources": [True]}]
    for given in (plan(policy_change), plan(document, policy_change, configuration=CONFIGURATION)):
        assert review(given).warnings == [
            "module.iam_fn.aws_iam_role_policy.lambda[0]: IAM policy known only after apply; "
            "check that it does not widen permissions."
        ]


def test_compute_environment_job_queue_and_bucket_warnings() -> None:
    result = review(
        plan(
            change(
                "module.batch_ec2_1.aws_batch_compute_environment.this[0]",
                ["create", "delete"],
                action_reason="replace_because_cannot_update",
                replace_paths=[["compute_resources", 0, "instance_type"]],
            ),
            change("module.batch_ec2_2.aws_batch_compute_environment.this[0]", ["delete"]),
            change("module.batch_ec2_2.aws_batch_job_queue.this", ["delete"]),
            change('module.storage.aws_s3_bucket.this["keep"]', ["delete"], {"bucket": "keep", "force_destroy": False}),
            change(
                'module.storage.aws_s3_bucket.this["_artifacts"]',
                ["delete"],
                {"bucket": "x-artifacts-1", "force_destroy": True},
            ),
        )
    )
    assert result.warnings == [
        "module.batch_ec2_1.aws_batch_compute_environment.this[0]: Batch compute environment replaced "
        "(compute_resources[0].instance_type). The new one is created first and the job queue moves to it; "
        "jobs still running on the old one are stopped when it is deleted.",
        "module.batch_ec2_2.aws_batch_compute_environment.this[0]: Batch compute environment destroyed; "
        "jobs still running on it are stopped.",
        "module.batch_ec2_2.aws_batch_job_queue.this: Batch job queue destroyed; jobs waiting or running in it "
        "are terminated.",
        "bucket keep is destroyed: with force_destroy = false the apply fails if it still holds objects; "
        "otherwise its data is lost. Copy what you need first.",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04binary", "is a binary plan file: convert it with `terraform show -json"),
        (b"{not json", "is not JSON"),
        (b"[1, 2]", "is not Terraform JSON output"),
        (b'{"format_version": "1.0", "values": {}}', "describes a state, not a plan"),
    ],
)
def test_bad_input_is_refused(content: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(PlanError):
        load_plan(content, "plan.json")
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    assert faas(["review", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"faas review: {path}: {message}" in err and "Traceback" not in err


def test_malformed_plan_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan({"address": "aws_s3_bucket.x", "mode": "managed"})))
    assert faas(["review", str(path)]) == 2
    err = capsys.readouterr().err
    assert "has an unexpected structure (KeyError: 'change')" in err and "Traceback" not in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert faas(["review", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.dumps(plan(change("module.lambda_fn.aws_lambda_function.this", ["delete"]))).encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert faas(["review", "-", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "| function fn (removed) |  |  |  | 1 |" in out


def test_incomplete_plan_is_flagged() -> None:
    result = review(plan(errored=True))
    assert result.warnings[0].startswith("the plan is incomplete")


def test_a_multi_node_job_definition_names_its_node_count() -> None:
    nodes = json.dumps({"numNodes": 3, "mainNode": 0, "nodeRangeProperties": []})
    result = review(
        plan(
            change(
                'module.batch_ec2_12345678.aws_batch_job_definition.this["mpi"]',
                ["create"],
                None,
                {"type": "multinode", "node_properties": nodes},
            ),
            change("module.lambda_mpi.aws_lambda_function.this", ["create"]),
            change(
                'module.batch_ec2_12345678.aws_batch_job_definition.this["single"]',
                ["update"],
                {"type": "container", "node_properties": ""},
                {"type": "container", "node_properties": ""},
            ),
        )
    )
    assert [g.title for g in result.groups] == ["function mpi (new) (3-node parallel Batch jobs)", "function single"]
    assert "function mpi (new) (3-node parallel Batch jobs): 2 created" in format_text(result)
