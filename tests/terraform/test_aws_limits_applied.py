"""What AWS enforces, applied to the emulator and read back with boto3: the expiry of staged events,
the KMS keys of encrypted buckets, and the check for notifications an apply would remove."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from render.cli import notifications_kept
from render.fdl.load import load_deployment
from render.local import emulator
from tests.helpers import render, requires_terraform
from tests.local.faas_local import faas_local
from tests.terraform.test_apply import as_list, create_network, statements

pytestmark = [requires_terraform(), pytest.mark.terraform, pytest.mark.slow]

BUCKET = "audit-keyed"
FDL = """\
functions:
  aws:
  - lambda:
      name: audit-fn
      execution_mode: batch
      init_script: run.sh
      container:
        image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/prepared:1
        create_image: false
      input:
      - storage_provider: s3
        path: audit-keyed/in
      output:
      - storage_provider: s3
        path: audit-keyed/out
    batch:
      memory: 2048
      staged_events_expiration_days: 3
      compute_resources:
        type: FARGATE
buckets:
  audit-keyed:
    existing: true
    kms_key: {key}
"""


def add_foreign_queue(s3: Any, sqs: Any) -> str:
    """Another team's notification on the bucket, next to whatever it has."""
    queue_url = sqs.create_queue(QueueName="other-team-queue")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    configuration = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    configuration.pop("ResponseMetadata", None)
    configuration.setdefault("QueueConfigurations", []).append(
        {"Id": "other-team", "QueueArn": queue, "Events": ["s3:ObjectCreated:*"]}
    )
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=configuration)
    return str(queue)


def kms_statements(iam: Any, role_arn: str) -> list[dict[str, Any]]:
    return [s for s in statements(iam, role_arn.rsplit("/", 1)[1]) if any("kms:" in a for a in as_list(s["Action"]))]


def test_staged_events_expire_keys_are_granted_and_foreign_notifications_stop_the_plan(
    aws_env: dict[str, str], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    emulator.reset(aws_env["AWS_ENDPOINT_URL"])
    subnet, group = create_network()
    s3, sqs, kms, iam = (boto3.client(name) for name in ("s3", "sqs", "kms", "iam"))
    key = kms.create_key(Description="audit bucket key")["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket=BUCKET)
    queue = add_foreign_queue(s3, sqs)
    fdl = tmp_path / "audit.yaml"
    fdl.write_text(FDL.format(key=key))
    (tmp_path / "run.sh").write_text("#!/bin/sh\necho run\n")
    config = tmp_path / "network.yaml"
    config.write_text(
        f"aws:\n  batch:\n    compute_resources:\n      subnets: [{subnet}]\n      security_group_ids: [{group}]\n"
    )
    root = tmp_path / "root"
    foreign = f"  {BUCKET}: SQS queue {queue} (id 'other-team')"

    # Before the first apply: the bucket's own notification would be removed.
    assert render(fdl, root, "--config", str(config), "--plan") == 1
    err = capfd.readouterr().err
    assert foreign in err and "--replace-notifications" in err, err
    assert "terraform plan" not in err

    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={})
    assert render(fdl, root, "--config", str(config), "--apply") == 0
    try:
        # Staged events expire after the days set, and nothing else in the deployment bucket does.
        artifacts = next(b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("audit-artifacts-"))
        rules = s3.get_bucket_lifecycle_configuration(Bucket=artifacts)["Rules"]
        assert [(r["ID"], r["Filter"], r["Expiration"], r["Status"]) for r in rules] == [
            ("staged-events/audit-fn", {"Prefix": "events/audit-fn/"}, {"Days": 3}, "Enabled")
        ]

        # The Lambda role and the job role may use exactly the bucket's key.
        lambda_role = boto3.client("lambda").get_function(FunctionName="audit-fn")["Configuration"]["Role"]
        job = boto3.client("batch").describe_job_definitions(jobDefinitionName="audit-fn", status="ACTIVE")
        job_role = job["jobDefinitions"][0]["containerProperties"]["jobRoleArn"]
        for role in (lambda_role, job_role):
            assert [(sorted(as_list(s["Action"])), as_list(s["Resource"])) for s in kms_statements(iam, role)] == [
                (["kms:Decrypt", "kms:GenerateDataKey"], [key])
            ], role

        # Only this deployment's notification on the bucket: the plan runs.
        assert render(fdl, root, "--config", str(config), "--plan") == 0
        assert "stopped" not in capfd.readouterr().err

        # A function renamed in the FDL: its deployed notification is in the state, so still ours.
        renamed = tmp_path / "renamed" / "audit.yaml"
        renamed.parent.mkdir()
        renamed.write_text(fdl.read_text().replace("name: audit-fn", "name: audit-renamed"))
        (renamed.parent / "run.sh").write_text("#!/bin/sh\necho run\n")
        assert render(renamed, root, "--config", str(config), "--plan") == 0
        assert "stopped" not in capfd.readouterr().err

        # Another one added next to it: named, and the plan stops; the flag lets it run.
        add_foreign_queue(s3, sqs)
        assert render(fdl, root, "--config", str(config), "--plan") == 1
        err = capfd.readouterr().err
        assert foreign in err and "audit-fn" not in err.split("stopped", 1)[1], err
        assert render(fdl, root, "--config", str(config), "--plan", "--replace-notifications") == 0
    finally:
        destroyed = render(fdl, root, "--config", str(config), "--destroy")
    assert destroyed == 0


def test_the_notification_check_is_skipped_without_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: no emulator either
    fdl = tmp_path / "audit.yaml"
    fdl.write_text(FDL.format(key="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"))
    (tmp_path / "run.sh").write_text("echo run\n")
    config = tmp_path / "network.yaml"
    config.write_text(
        "aws:\n  batch:\n    compute_resources:\n      subnets: [subnet-1]\n      security_group_ids: [sg-1]\n"
    )
    deployment, _ = load_deployment(fdl, configs=[config], use_scar_config=False)

    assert notifications_kept(tmp_path, deployment, [BUCKET])
    err = capsys.readouterr().err
    assert f"note: not checked whether the existing buckets {BUCKET} have notifications of their own" in err, err
    assert "no AWS credentials" in err, err


def reset_auth(endpoint: str, after: str) -> None:
    """moto checks every request's signature and IAM policies after `after` more requests ("inf": never)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=after.encode(), headers={"Content-Type": "text/plain"}
    )
    urllib.request.urlopen(request, timeout=10)


@pytest.mark.parametrize("allowed", [False, True], ids=["refused", "allowed"])
def test_a_refused_notification_check_stops_the_plan(
    allowed: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An identity without s3:GetBucketNotification cannot tell whether the bucket has notifications of
    its own: the plan stops, as it does when there are some. moto evaluates the identity's IAM policy."""
    # AWS's action is s3:GetBucketNotification; moto checks the operation's name, which the wildcard covers too.
    actions = ["s3:ListBucket"] + (["s3:GetBucketNotification*"] if allowed else [])
    fdl = tmp_path / "audit.yaml"
    fdl.write_text(FDL.format(key="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"))
    (tmp_path / "run.sh").write_text("echo run\n")
    config = tmp_path / "network.yaml"
    config.write_text(
        "aws:\n  batch:\n    compute_resources:\n      subnets: [subnet-1]\n      security_group_ids: [sg-1]\n"
    )
    deployment, _ = load_deployment(fdl, configs=[config], use_scar_config=False)
    with faas_local(tmp_path) as local:
        local.client("s3").create_bucket(Bucket=BUCKET)
        iam = local.client("iam")
        iam.create_user(UserName="reviewer")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
        iam.put_user_policy(UserName="reviewer", PolicyName="read", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="reviewer")["AccessKey"]
        monkeypatch.setenv("AWS_ENDPOINT_URL", local.endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        reset_auth(local.endpoint, "0")
        try:
            kept = notifications_kept(tmp_path, deployment, [BUCKET])
        finally:
            reset_auth(local.endpoint, "inf")
    err = capsys.readouterr().err
    if allowed:
        assert kept and err == "", err
    else:
        assert not kept
        assert f"stopped: reading the notifications of bucket {BUCKET} was refused (AccessDenied)" in err, err
        assert "s3:GetBucketNotification" in err and "--replace-notifications" in err, err
