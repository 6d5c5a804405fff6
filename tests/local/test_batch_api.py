"""The emulator's Batch answers as AWS does where the batch module relies on it."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from render.local import emulator

SERVICE_LINKED_ROLE = "arn:aws:iam::123456789012:role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch"
STUCK = {"state": "RUNNABLE", "action": "CANCEL", "reason": "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"}


@pytest.fixture
def batch(aws_env: dict[str, str]) -> Any:
    emulator.reset(aws_env["AWS_ENDPOINT_URL"])
    return boto3.client("batch")


def fargate_environment(batch: Any, name: str, **role: str) -> str:
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(VpcId=vpc, GroupName=name, Description=name)["GroupId"]
    resources = {"type": "FARGATE", "maxvCpus": 4, "subnets": [subnet], "securityGroupIds": [group]}
    arn: str = batch.create_compute_environment(
        computeEnvironmentName=name, type="MANAGED", computeResources=resources, **role
    )["computeEnvironmentArn"]
    return arn


def test_an_environment_without_a_service_role_uses_the_service_linked_role(batch: Any) -> None:
    fargate_environment(batch, "first")
    fargate_environment(batch, "second")
    roles = {e["serviceRole"] for e in batch.describe_compute_environments()["computeEnvironments"]}
    assert roles == {SERVICE_LINKED_ROLE}
    assert boto3.client("iam").get_role(RoleName="AWSServiceRoleForBatch")["Role"]["Arn"] == SERVICE_LINKED_ROLE


def test_job_queues_keep_their_time_limit_actions(batch: Any) -> None:
    environment = fargate_environment(batch, "queued")
    order = [{"order": 1, "computeEnvironment": environment}]
    batch.create_job_queue(
        jobQueueName="q",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=order,
        jobStateTimeLimitActions=[STUCK | {"maxTimeSeconds": 600}],
    )
    described = batch.describe_job_queues(jobQueues=["q"])["jobQueues"][0]
    assert described["jobStateTimeLimitActions"] == [STUCK | {"maxTimeSeconds": 600}]

    batch.update_job_queue(jobQueue="q", priority=2)  # what is not given stays
    assert (
        batch.describe_job_queues(jobQueues=["q"])["jobQueues"][0]["jobStateTimeLimitActions"][0]["maxTimeSeconds"]
        == 600
    )
    batch.update_job_queue(jobQueue="q", jobStateTimeLimitActions=[STUCK | {"maxTimeSeconds": 86400}])
    assert (
        batch.describe_job_queues(jobQueues=["q"])["jobQueues"][0]["jobStateTimeLimitActions"][0]["maxTimeSeconds"]
        == 86400
    )


@pytest.mark.parametrize(
    "action",
    [
        STUCK | {"maxTimeSeconds": 599},
        STUCK | {"maxTimeSeconds": 86401},
        STUCK | {"maxTimeSeconds": 600, "state": "STARTING"},
    ],
)
def test_job_queues_refuse_what_aws_refuses(batch: Any, action: dict[str, Any]) -> None:
    environment = fargate_environment(batch, "refusing")
    order = [{"order": 1, "computeEnvironment": environment}]
    with pytest.raises(ClientError, match="jobStateTimeLimitActions"):
        batch.create_job_queue(
            jobQueueName="r",
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=order,
            jobStateTimeLimitActions=[action],
        )
    assert batch.describe_job_queues()["jobQueues"] == []
