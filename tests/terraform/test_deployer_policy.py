"""The deployer policy (render/terraform/deployer-policy.json) against what deploying really calls.

`faas local` records every request it answers (moto's recorder). A root using every module is
planned, applied, changed, re-planned and destroyed with the deployer's own access key; each
request signed with that key is matched to its operation by the emulator's own router and turned
into the IAM action AWS checks. Every action must be allowed by the policy, and every action the
policy allows must have been called or be one AWS checks without an API call of its own.

This checks actions, not the policy's resources and conditions: moto can evaluate a caller's IAM
policies, but it names S3's actions after their operations (GetBucketNotificationConfiguration
where AWS checks s3:GetBucketNotification), so the policy AWS needs would not pass it.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from moto.core.request import Request
from moto.core.routing import get_service_router

from tests.helpers import Mirror, aws_variables, render, requires_terraform
from tests.local.faas_local import faas_local

pytestmark = [requires_terraform(), pytest.mark.terraform, pytest.mark.slow]

DEPLOYER_KEY = "AKIADEPLOYERPOLICY01"  # the emulator puts unknown keys in its default account
FDL = """\
functions:
  aws:
  - lambda:
      name: policy-api
      memory: {memory}
      init_script: run.sh
      container: {{image: alpine:3.20}}
      input: [{{storage_provider: s3, path: policy-existing/api-in}}]
      output:
      - {{storage_provider: s3, path: policy-created/api-out}}
      - {{storage_provider: s3.partner, path: partner-results/out}}
    api_gateway: {{name: policy-api-gateway}}
  - lambda:
      name: policy-job
      execution_mode: lambda-batch
      init_script: run.sh
      container: {{image: alpine:3.20}}
      input: [{{storage_provider: s3, path: policy-created/job-in}}]
      output: [{{storage_provider: s3, path: policy-created/job-out}}]
    batch:
      memory: {memory}
      compute_resources:
        type: EC2
        max_v_cpus: {vcpus}
        subnets: [{subnet}]
        security_group_ids: [{group}]
storage_providers:
  s3:
    partner: {{access_key: AKIAPARTNER000000000, secret_key: partner-secret, region: us-east-1}}
buckets:
  policy-existing: {{existing: true, kms_key: "{key}"}}
  policy-created: {{force_destroy: true}}
"""

# Where an operation's IAM action is not SERVICE:OPERATION (the Service Authorization Reference).
ACTIONS = {
    "lambda:Invoke": "lambda:InvokeFunction",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "s3:PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "s3:GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "s3:PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "s3:DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "s3:DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "s3:PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "s3:GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "s3:GetBucketCors": "s3:GetBucketCORS",
    "s3:GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "s3:PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "s3:GetBucketReplication": "s3:GetReplicationConfiguration",
    "s3:GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
}

# Actions the policy allows that AWS checks inside another call, so the recording cannot show them.
CHECKED_WITHIN = {
    "iam:PassRole": "CreateFunction, CreateComputeEnvironment and RegisterJobDefinition name roles",
    "iam:CreateServiceLinkedRole": "Batch creates AWSServiceRoleForBatch at an account's first compute environment",
    "apigateway:PATCH": "updates of an API's stage or resources",
    **{
        action: "a create call that carries tags (every resource has the deployment's tags)"
        for action in (
            "batch:TagResource",
            "ec2:CreateTags",
            "ecr:TagResource",
            "events:TagResource",
            "iam:TagInstanceProfile",
            "iam:TagRole",
            "lambda:TagResource",
            "logs:TagResource",
            "sqs:TagQueue",
            "ssm:AddTagsToResource",
        )
    },
}


def iam_action(service: str, operation: str, method: str) -> str:
    if service == "apigateway":  # API Gateway's management actions are its HTTP methods
        return f"apigateway:{method}"
    return ACTIONS.get(f"{service}:{operation}", f"{service}:{operation}")


def called(recording: Path, access_key: str) -> Iterator[tuple[str, str]]:
    """(IAM action, SERVICE:OPERATION) of each recorded request signed with `access_key`."""
    for line in recording.read_text().splitlines():
        entry = json.loads(line)
        headers = entry["headers"]
        signed = re.search(r"Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/aws4_request", headers.get("Authorization", ""))
        if not signed or signed[1] != access_key:
            continue
        service = signed[2]
        body = base64.b64decode(entry["body"]) if entry.get("body_encoded") else (entry.get("body") or "").encode()
        request = Request.from_primitives(entry["method"], entry["url"], headers, body)
        operation, _ = get_service_router(service).match(request)
        yield iam_action(service, operation.name, entry["method"]), f"{service}:{operation.name}"


def deployer_policy() -> dict[str, Any]:
    return dict(json.loads(resources.files("render.terraform").joinpath("deployer-policy.json").read_text()))


def allows(policy: dict[str, Any], action: str) -> bool:
    return any(
        statement["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in as_list(statement["Action"]))
        for statement in policy["Statement"]
    )


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_deploying_calls_only_what_the_deployer_policy_allows(
    mirror: Mirror, frozen_supervisor: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording = tmp_path / "recording.jsonl"
    monkeypatch.setenv("MOTO_ENABLE_RECORDING", "true")
    monkeypatch.setenv("MOTO_RECORDER_FILEPATH", str(recording))
    with faas_local(tmp_path, "--registry-mirror", mirror.url) as local:
        for name, value in aws_variables(local.endpoint).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("FAAS_RENDER_SUPERVISOR_BUNDLE", str(frozen_supervisor))
        ec2, s3, kms = (local.client(name) for name in ("ec2", "s3", "kms"))
        vpc = ec2.create_vpc(CidrBlock="10.43.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.43.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(VpcId=vpc, GroupName="policy", Description="policy")["GroupId"]
        key = kms.create_key(Description="policy bucket key")["KeyMetadata"]["Arn"]
        s3.create_bucket(Bucket="policy-existing")
        (tmp_path / "run.sh").write_text("#!/bin/sh\necho run\n")
        fdl, root = tmp_path / "policy.yaml", tmp_path / "root"
        settings = {"subnet": subnet, "group": group, "key": key}

        monkeypatch.setenv("AWS_ACCESS_KEY_ID", DEPLOYER_KEY)
        fdl.write_text(FDL.format(memory=512, vcpus=2, **settings))
        assert render(fdl, root, "--apply") == 0
        try:
            (tmp_path / "run.sh").write_text("#!/bin/sh\necho changed\n")
            fdl.write_text(FDL.format(memory=1024, vcpus=4, **settings))
            assert render(fdl, root, "--apply") == 0
            assert render(fdl, root, "--plan") == 0
        finally:
            destroyed = render(fdl, root, "--destroy")
        assert destroyed == 0

    calls = set(called(recording, DEPLOYER_KEY))
    policy = deployer_policy()
    assert sorted(f"{action} ({operation})" for action, operation in calls if not allows(policy, action)) == []
    granted = {action for statement in policy["Statement"] for action in as_list(statement["Action"])}
    assert "*" not in "".join(granted), "the policy names each action"
    assert sorted(granted - {action for action, _ in calls} - CHECKED_WITHIN.keys()) == [], "allowed, never needed"
    assert sorted(CHECKED_WITHIN.keys() - granted) == []
