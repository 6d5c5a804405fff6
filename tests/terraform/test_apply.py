"""Apply a rendered workflow (a Batch function feeding a Lambda function) to moto and back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from faas_supervisor import contract

from render.local import emulator
from tests.helpers import EXAMPLE_FILES, render, requires_terraform, terraform

pytestmark = [requires_terraform(), pytest.mark.terraform, pytest.mark.slow]

LITERAL = "${HOME} and %{ if x } stay literal"


def create_network(region: str = "us-east-1") -> tuple[str, str]:
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(VpcId=vpc, GroupName="faas-render-e2e", Description="e2e")["GroupId"]
    return subnet, group


def statements(client: Any, role_name: str) -> list[dict[str, Any]]:
    found = []
    for name in client.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = client.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        found += document["Statement"] if isinstance(document, dict) else json.loads(document)["Statement"]
    for attached in client.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        if attached["PolicyArn"].startswith("arn:aws:iam::aws:"):
            continue  # AWS managed policies (ECS/Batch service roles) are not ours to scope
        policy = client.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = client.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
        found += version["PolicyVersion"]["Document"]["Statement"]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_workflow_applies_replans_clean_and_destroys(aws_env: dict[str, str], tmp_path: Path) -> None:
    emulator.reset(aws_env["AWS_ENDPOINT_URL"])
    subnet, group = create_network()
    config = tmp_path / "network.yaml"
    config.write_text(
        f"aws:\n  batch:\n    compute_resources:\n      subnets: [{subnet}]\n      security_group_ids: [{group}]\n"
    )
    root = tmp_path / "root"
    arguments = ["--config", str(config), "--set", f"lambda.container.environment.Variables.LITERAL={LITERAL}"]
    # --apply goes through python-terraform (init, then apply -auto-approve)
    assert render(EXAMPLE_FILES["video-process"], root, *arguments, "--apply") == 0
    try:
        check_deployment(subnet)
        plan = terraform(root, "plan", "-input=false", "-detailed-exitcode", env=aws_env, check=False)
        assert plan.returncode == 0, "second plan is not empty:\n" + plan.stdout[-4000:] + plan.stderr
    finally:
        destroyed = render(EXAMPLE_FILES["video-process"], root, *arguments, "--destroy")
    assert destroyed == 0
    check_nothing_left()


def check_deployment(subnet: str) -> None:
    lam, batch, s3, iam = (boto3.client(name) for name in ("lambda", "batch", "s3", "iam"))
    functions = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    assert set(functions) == {"video-split", "frame-stats", "video-process-image-builder"}
    builder = functions.pop("video-process-image-builder")
    assert builder["Handler"] == contract.BUILDER_HANDLER
    split = lam.get_function(FunctionName="video-split")["Configuration"]
    assert split["Handler"] == "faas_supervisor.lambda_function.lambda_handler"
    assert split["Runtime"] == "python3.12"
    environment = split["Environment"]["Variables"]
    assert environment["FAAS_JOB_DEFINITION"] == "video-split"
    assert environment["FAAS_JOB_QUEUE"].startswith("arn:aws:batch:")
    stats = lam.get_function(FunctionName="frame-stats")
    assert "FAAS_JOB_QUEUE" not in stats["Configuration"].get("Environment", {}).get("Variables", {})
    # frame-stats runs its own image, pinned by the digest the builder pushed to the emulator's ECR
    assert stats["Configuration"]["PackageType"] == "Image"
    ecr = boto3.client("ecr")
    repositories = {r["repositoryName"]: r for r in ecr.describe_repositories()["repositories"]}
    assert set(repositories) == {"video-process/frame-stats", "video-process/video-split"}
    stats_uri = stats["Code"]["ImageUri"]
    assert stats_uri.startswith(repositories["video-process/frame-stats"]["repositoryUri"] + "@sha256:")
    described = ecr.describe_images(
        repositoryName="video-process/frame-stats", imageIds=[{"imageDigest": stats_uri.split("@")[1]}]
    )["imageDetails"][0]
    assert described["imageTags"][0].startswith("faas-")

    queues = batch.describe_job_queues()["jobQueues"]
    assert [q["jobQueueArn"] for q in queues] == [environment["FAAS_JOB_QUEUE"]]
    environments = batch.describe_compute_environments()["computeEnvironments"]
    assert len(environments) == 1 and environments[0]["computeResources"]["subnets"] == [subnet]
    definition = batch.describe_job_definitions(jobDefinitionName="video-split", status="ACTIVE")["jobDefinitions"][0]
    container = definition["containerProperties"]
    assert container["image"].startswith(repositories["video-process/video-split"]["repositoryUri"] + "@sha256:")
    assert not container.get("command") and not container.get("volumes")  # the image's entry point runs the job
    assert {r["type"]: r["value"] for r in container["resourceRequirements"]} == {"MEMORY": "2048", "VCPU": "1"}
    job_env = {e["name"]: e["value"] for e in container["environment"]}
    assert job_env["LITERAL"] == LITERAL
    assert job_env["FAAS_CONFIG_URI"].startswith("s3://") and job_env["FAAS_CONFIG_URI"].endswith(
        "/functions/video-split/function_config.json"
    )
    assert [e["name"] for e in container["environment"]] == sorted(job_env)
    assert job_env["AWS_REGION"] == job_env["AWS_DEFAULT_REGION"] == "us-east-1"

    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert "video-process-123456789012" in buckets
    artifacts = next(b for b in buckets if b.startswith("video-process-artifacts-"))
    staged = {o["Key"] for o in s3.list_objects_v2(Bucket=artifacts)["Contents"]}
    assert {"functions/video-split/function_config.json", "functions/video-split/split-video.sh"} <= staged
    notification = s3.get_bucket_notification_configuration(Bucket="video-process-123456789012")
    triggers = {c["LambdaFunctionArn"].rsplit(":", 1)[-1]: c for c in notification["LambdaFunctionConfigurations"]}
    assert set(triggers) == {"video-split", "frame-stats"}

    seen_actions: dict[str, set[str]] = {}
    for name, function in functions.items():
        role = function["Role"].rsplit("/", 1)[-1]
        found = statements(iam, role)
        seen_actions[name] = {a for s in found for a in as_list(s["Action"])}
        for statement in found:
            actions = as_list(statement["Action"])
            resources = as_list(statement.get("Resource", []))
            if any(a.startswith("s3:") for a in actions):
                assert "*" not in resources and "arn:aws:s3:::*" not in resources, statement
            if "batch:SubmitJob" in actions:
                assert set(resources) <= {
                    environment["FAAS_JOB_QUEUE"],
                    *[r for r in resources if ":job-definition/video-split" in r],
                }, statement
                assert any(r.endswith(":job-definition/video-split:*") for r in resources), statement
    assert {"batch:SubmitJob", "s3:GetObject"} <= seen_actions["video-split"]
    assert {"s3:GetObject", "s3:PutObject"} <= seen_actions["frame-stats"]
    assert "batch:SubmitJob" not in seen_actions["frame-stats"]


def check_nothing_left() -> None:
    lam, batch, s3, logs, iam = (boto3.client(name) for name in ("lambda", "batch", "s3", "logs", "iam"))
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if not r["Path"].startswith("/aws-service-role/")] == []
    assert lam.list_functions()["Functions"] == []
    assert batch.describe_job_queues()["jobQueues"] == []
    assert batch.describe_compute_environments()["computeEnvironments"] == []
    assert batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"] == []
    assert s3.list_buckets()["Buckets"] == []
    assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == []
    assert boto3.client("ecr").describe_repositories()["repositories"] == []


KITCHEN_SINK = """\
functions:
  aws:
  - lambda:
      name: api-fn
      init_script: run.sh
      role_placeholder: ROLE
      container:
        image: alpine:3.20
      output:
      - storage_provider: s3
        path: existing-bucket/api-results
    iam:
      role: {role}
    api_gateway:
      name: api-fn-api
  - lambda:
      name: gpu-fn
      execution_mode: lambda-batch
      init_script: run.sh
      timeout: 900
      container:
        image: alpine:3.20  # offline: the mirror's stand-in
      input:
      - storage_provider: s3
        path: existing-bucket/gpu-in
      output:
      - storage_provider: s3
        path: sink-created-bucket/gpu-out
    batch:
      vcpus: 4
      memory: 8192
      enable_gpu: true
      retry_attempts: 2
      timeout: 3600
      runnable_timeout: 900
      compute_resources:
        type: SPOT
        max_v_cpus: 8
        instance_types: [g4dn]
  - lambda:
      name: fargate-fn
      execution_mode: batch
      init_script: run.sh
      container:
        image: alpine:3.20
      input:
      - storage_provider: s3
        path: sink-created-bucket/fargate-in
      output:
      - storage_provider: s3
        path: sink-created-bucket/fargate-out
    batch:
      vcpus: 1
      memory: 2048
      compute_resources:
        type: FARGATE
buckets:
  existing-bucket:
    existing: true
"""


def test_every_kind_of_function_applies_and_replans_clean(aws_env: dict[str, str], tmp_path: Path) -> None:
    """API Gateway, lambda-batch on SPOT GPUs, Fargate, an existing bucket and a given role."""
    emulator.reset(aws_env["AWS_ENDPOINT_URL"])
    subnet, group = create_network()
    iam, s3 = boto3.client("iam"), boto3.client("s3")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
        ],
    }
    role = iam.create_role(RoleName="given-lambda-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    s3.create_bucket(Bucket="existing-bucket")
    fdl = tmp_path / "sink.yaml"
    fdl.write_text(KITCHEN_SINK.format(role=role).replace("      role_placeholder: ROLE\n", ""))
    (tmp_path / "run.sh").write_text("#!/bin/sh\necho run\n")
    config = tmp_path / "network.yaml"
    config.write_text(
        f"aws:\n  batch:\n    compute_resources:\n      subnets: [{subnet}]\n      security_group_ids: [{group}]\n"
    )
    root = tmp_path / "root"

    assert render(fdl, root, "--config", str(config), "--apply") == 0
    try:
        batch, lam, apigw = boto3.client("batch"), boto3.client("lambda"), boto3.client("apigateway")
        environments = {
            e["computeResources"]["type"]: e for e in batch.describe_compute_environments()["computeEnvironments"]
        }
        assert set(environments) == {"SPOT", "FARGATE"}
        assert environments["SPOT"]["computeResources"]["instanceTypes"] == ["g4dn"]
        gpu_job = batch.describe_job_definitions(jobDefinitionName="gpu-fn", status="ACTIVE")["jobDefinitions"][0]
        requirements = {r["type"]: r["value"] for r in gpu_job["containerProperties"]["resourceRequirements"]}
        assert requirements == {"GPU": "1", "MEMORY": "8192", "VCPU": "4"}
        fargate_job = batch.describe_job_definitions(jobDefinitionName="fargate-fn", status="ACTIVE")["jobDefinitions"][
            0
        ]
        assert fargate_job["platformCapabilities"] == ["FARGATE"]
        check_batch_limits(batch, iam, environments, {"gpu-fn": gpu_job, "fargate-fn": fargate_job})
        assert lam.get_function(FunctionName="api-fn")["Configuration"]["Role"] == role
        assert [api["name"] for api in apigw.get_rest_apis()["items"]] == ["api-fn-api"]
        notification = s3.get_bucket_notification_configuration(Bucket="existing-bucket")
        assert [
            c["Filter"]["Key"]["FilterRules"][0]["Value"] for c in notification["LambdaFunctionConfigurations"]
        ] == ["gpu-in/"]
        plan = terraform(root, "plan", "-input=false", "-detailed-exitcode", env=aws_env, check=False)
        assert plan.returncode == 0, "second plan is not empty:\n" + plan.stdout[-4000:] + plan.stderr
    finally:
        destroyed = render(fdl, root, "--config", str(config), "--destroy")
    assert destroyed == 0
    assert "existing-bucket" in {b["Name"] for b in s3.list_buckets()["Buckets"]}  # referenced, never destroyed
    assert iam.get_role(RoleName="given-lambda-role")["Role"]["Arn"] == role
    assert batch.describe_compute_environments()["computeEnvironments"] == []
    assert boto3.client("ec2").describe_launch_templates()["LaunchTemplates"] == []


SERVICE_LINKED_ROLE = "arn:aws:iam::123456789012:role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch"
CANCEL_REASONS = {
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
}


def check_batch_limits(batch: Any, iam: Any, environments: dict[str, Any], jobs: dict[str, Any]) -> None:
    """Retries, timeouts, stuck-job cancellation, the service-linked role and the hosts' settings."""
    retries = {name: job["retryStrategy"] for name, job in jobs.items()}
    for strategy in retries.values():
        rules = [(r.get("onStatusReason"), r["action"].upper()) for r in strategy["evaluateOnExit"]]
        assert rules == [("Host EC2*", "RETRY"), ("*", "EXIT")]  # only a lost host is retried
    assert {name: r["attempts"] for name, r in retries.items()} == {"gpu-fn": 2, "fargate-fn": 3}
    assert {name: job["timeout"]["attemptDurationSeconds"] for name, job in jobs.items()} == {
        "gpu-fn": 3600,
        "fargate-fn": 86400,
    }

    by_environment = {e["computeEnvironmentArn"]: kind for kind, e in environments.items()}
    for queue in batch.describe_job_queues()["jobQueues"]:
        kind = by_environment[queue["computeEnvironmentOrder"][0]["computeEnvironment"]]
        actions = queue["jobStateTimeLimitActions"]
        assert {a["reason"] for a in actions} == CANCEL_REASONS
        assert {(a["state"], a["action"], a["maxTimeSeconds"]) for a in actions} == {
            ("RUNNABLE", "CANCEL", 900 if kind == "SPOT" else 3600)
        }

    assert {e["serviceRole"] for e in environments.values()} == {SERVICE_LINKED_ROLE}
    trusting_batch = [
        role["Arn"]
        for role in iam.list_roles()["Roles"]
        if "batch.amazonaws.com" in json.dumps(role["AssumeRolePolicyDocument"])
    ]
    assert trusting_batch == [SERVICE_LINKED_ROLE]  # no custom service role was created
    spot, fargate = environments["SPOT"]["computeResources"], environments["FARGATE"]["computeResources"]
    assert spot["ec2Configuration"] == [{"imageType": "ECS_AL2023_NVIDIA"}]
    template = spot["launchTemplate"]
    version = boto3.client("ec2").describe_launch_template_versions(
        LaunchTemplateId=template["launchTemplateId"], Versions=[template["version"]]
    )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert version["MetadataOptions"] == {
        "HttpEndpoint": "enabled",
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 1,
    }
    assert not version.get("UserData")  # the hosts run no script of ours
    assert "launchTemplate" not in fargate and "ec2Configuration" not in fargate
