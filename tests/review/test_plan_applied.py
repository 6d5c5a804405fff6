"""`faas review` on a real plan: apply a workflow to moto, change it, plan, review the plan's JSON.

One apply is shared by the module (a Batch job queue takes about 30 s to create on moto); the
emulator is reset afterwards instead of destroying (a queue takes about 60 s to delete).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from render.faas_cli import main as faas
from render.local import emulator
from render.review.changes import Group, Review
from render.review.plan import load_plan, review
from render.review.report import format_markdown, format_text
from tests.helpers import render, requires_terraform, terraform, write_bundle

pytestmark = [requires_terraform(), pytest.mark.terraform, pytest.mark.slow]

WORKFLOW = """\
functions:
  aws:
  - lambda:
      name: video-split
      execution_mode: batch
      init_script: split.sh
      container: {{image: python:3.12-alpine}}
      input:
      - {{storage_provider: s3, path: video-review/input}}
      output:
      - {{storage_provider: s3, path: video-review/frames, suffix: [.ppm]}}
{extra_output}    batch:
      compute_resources:
        subnets: [{subnet}]
        security_group_ids: [{group}]
{second_function}"""
FRAME_STATS = """\
  - lambda:
      name: frame-stats
      init_script: stats.sh
      input:
      - {storage_provider: s3, path: video-review/frames}
      output:
      - {storage_provider: s3, path: video-review-results/stats}
buckets:
  video-review-results: {force_destroy: true}
"""
THUMBNAILS = "      - {storage_provider: s3, path: video-review/thumbnails}\n"


@dataclass(frozen=True)
class Applied:
    """The workflow (video-split on Batch feeding frame-stats) applied to moto."""

    root: Path
    fdl: Path
    network: dict[str, str]
    supervisor: Path


@pytest.fixture(scope="module")
def applied(
    moto_endpoint: str, stand_in_supervisor: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Applied]:
    folder = tmp_path_factory.mktemp("review")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "HOME": str(folder),
        }.items():
            patch.setenv(key, value)
        emulator.reset(moto_endpoint)
        ec2 = boto3.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.43.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.43.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(VpcId=vpc, GroupName="review", Description="review")["GroupId"]
        for script in ("split.sh", "stats.sh"):
            (folder / script).write_text("#!/bin/sh\necho done\n")
        state = Applied(
            folder / "root", folder / "video-review.yaml", {"subnet": subnet, "group": group}, stand_in_supervisor
        )
        render_workflow(state, extra_output="", second_function=FRAME_STATS, supervisor=stand_in_supervisor)
        terraform(state.root, "init", "-input=false")
        terraform(state.root, "apply", "-input=false", "-auto-approve")
        yield state
        emulator.reset(moto_endpoint)


def render_workflow(state: Applied, extra_output: str, second_function: str, supervisor: Path) -> None:
    state.fdl.write_text(WORKFLOW.format(extra_output=extra_output, second_function=second_function, **state.network))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FAAS_RENDER_SUPERVISOR_BUNDLE", str(supervisor))
        assert render(state.fdl, state.root) == 0


def saved_plan(state: Applied, name: str) -> Path:
    """`terraform plan -out` of the rendered root, as `terraform show -json` prints it."""
    terraform(state.root, "plan", "-input=false", "-out=tfplan")
    path = state.root.parent / f"{name}.json"
    path.write_text(terraform(state.root, "show", "-json", "tfplan").stdout)
    return path


@pytest.fixture(scope="module")
def supervisor_upgrade(applied: Applied) -> Review:
    """A new supervisor: a new supervisor layer, so every image is rebuilt."""
    new_supervisor = write_bundle(applied.root.parent / "faas-supervisor-2.tar", b"#!/bin/sh\necho a new release\n")
    render_workflow(applied, extra_output="", second_function=FRAME_STATS, supervisor=new_supervisor)
    return review(load_plan(saved_plan(applied, "supervisor-upgrade").read_bytes(), "supervisor-upgrade.json"))


@pytest.fixture(scope="module")
def workflow_change(applied: Applied) -> Path:
    """video-split gains an output folder; frame-stats and its results bucket go away."""
    render_workflow(applied, extra_output=THUMBNAILS, second_function="", supervisor=applied.supervisor)
    return saved_plan(applied, "workflow-change")


def groups_of(result: Review) -> dict[str, Group]:
    return {group.title: group for group in result.groups}


def test_supervisor_upgrade_rebuilds_the_images_and_keeps_the_compute_environment(supervisor_upgrade: Review) -> None:
    groups = groups_of(supervisor_upgrade)
    # frame-stats has no image (a zip on the Python runtime): a new supervisor does not touch it
    assert set(groups) == {"storage (shared)", "function video-split"}
    changes = {(c.type, c.action) for c in groups["function video-split"].changes}
    assert ("aws_lambda_invocation", "update") in changes or ("aws_lambda_invocation", "replace") in changes
    assert {("aws_batch_job_definition", "update"), ("aws_batch_job_definition", "replace")} & changes  # the new image
    # The Lambda of a batch function is the zip that submits jobs: the image does not change it.
    assert "aws_lambda_function" not in {c.type for c in groups["function video-split"].changes}
    assert not [c for g in supervisor_upgrade.groups if g.kind == "Batch compute profile" for c in g.changes]
    assert supervisor_upgrade.warnings == []


def test_removed_function_widened_role_and_destroyed_bucket(workflow_change: Path) -> None:
    result = review(load_plan(workflow_change.read_bytes(), workflow_change.name))
    groups = groups_of(result)
    assert list(groups)[:2] == ["function frame-stats (removed)", "function video-split"]
    removed = groups["function frame-stats (removed)"]
    assert set(removed.counts()) == {"delete"}
    assert {c.type for c in removed.changes} >= {
        "aws_lambda_function",
        "aws_cloudwatch_log_group",
        "aws_iam_role",
        "aws_lambda_permission",
    }
    assert {c.address for c in groups["function video-split"].changes if c.action == "update"} >= {
        "module.iam_video-split.aws_iam_role_policy.lambda[0]",
        "module.iam_video-split.aws_iam_role_policy.job[0]",
        'module.storage.aws_s3_object.this["video-split/config"]',
    }
    assert 'module.storage.aws_s3_bucket.this["video-review-results"]' in {
        c.address for c in groups["storage (shared)"].changes if c.action == "delete"
    }
    # The instance role's policy is re-read at apply (the bucket map changes) but stays the same.
    profile_changes = [c for g in result.groups if g.kind == "Batch compute profile" for c in g.changes]
    assert {(c.type, c.action) for c in profile_changes} <= {("aws_iam_role_policy", "update")}

    text = "\n".join(result.warnings)
    thumbnails = (
        "IAM permission widened: allows s3:AbortMultipartUpload, s3:PutObject on arn:aws:s3:::video-review/thumbnails/*"
    )
    assert f"module.iam_video-split.aws_iam_role_policy.lambda[0]: {thumbnails}" in text
    assert f"module.iam_video-split.aws_iam_role_policy.job[0]: {thumbnails}" in text
    assert "bucket video-review-results is destroyed with force_destroy = true" in text and "data may be lost" in text
    assert "compute environment" not in text and "artifacts" not in text


def test_text_and_markdown_outputs(workflow_change: Path) -> None:
    result = review(load_plan(workflow_change.read_bytes(), workflow_change.name))
    text = format_text(result)
    assert text.startswith("Plan: 0 to create, ") and "\nfunction frame-stats (removed): " in text
    assert "  - module.lambda_frame-stats.aws_lambda_function.this\n" in text
    assert f"Warnings ({len(result.warnings)}):\n  ! " in text
    markdown = format_markdown(result)
    assert markdown.startswith("### Terraform plan review\n")
    assert "| function frame-stats (removed) |  |  |  | " in markdown
    assert "- :warning: `module.iam_video-split.aws_iam_role_policy.lambda[0]`: IAM permission widened" in markdown
    assert "```diff\n# function frame-stats (removed)\n- module." in markdown


def test_command_exit_status(workflow_change: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert faas(["review", str(workflow_change)]) == 0
    assert "function video-split:" in capsys.readouterr().out
    assert faas(["review", str(workflow_change), "--fail-on-warning", "--format", "markdown"]) == 1
    assert capsys.readouterr().out.startswith("### Terraform plan review")
