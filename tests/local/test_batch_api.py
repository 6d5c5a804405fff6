"""The emulator's Batch answers as AWS does where the batch module relies on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from render.local import emulator
from render.local.moto.batch import set_job_state
from render.local.moto.hooks import HOOKS
from render.local.service import LocalService
from render.local.state import CUT_SHORT, JOB_ENDS, JobEnds

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


def test_a_multi_node_job_describes_its_nodes_with_the_overrides_it_was_submitted_with(batch: Any) -> None:
    environment = fargate_environment(batch, "nodes")
    batch.create_job_queue(
        jobQueueName="n",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )
    container = {
        "image": "alpine",
        "environment": [{"name": "KEPT", "value": "1"}, {"name": "REPLACED", "value": "old"}],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "1024"}],
    }
    batch.register_job_definition(
        jobDefinitionName="mpi",
        type="multinode",
        nodeProperties={
            "numNodes": 3,
            "mainNode": 1,
            "nodeRangeProperties": [{"targetNodes": "0:", "container": container}],
        },
    )
    # The job definition itself describes its nodes (the aws provider reads node_properties back).
    definition = batch.describe_job_definitions(jobDefinitionName="mpi")["jobDefinitions"][0]
    assert definition["nodeProperties"]["numNodes"] == 3
    assert definition["nodeProperties"]["nodeRangeProperties"][0]["container"] == container
    overrides = [{"name": "REPLACED", "value": "new"}, {"name": "ADDED", "value": "2"}]
    job_id = batch.submit_job(
        jobName="mpi-job",
        jobQueue="n",
        jobDefinition="mpi",
        nodeOverrides={
            "nodePropertyOverrides": [{"targetNodes": "0:", "containerOverrides": {"environment": overrides}}]
        },
    )["jobId"]
    plain = batch.submit_job(jobName="plain", jobQueue="n", jobDefinition="mpi")["jobId"]

    described = {job["jobId"]: job for job in batch.describe_jobs(jobs=[job_id, plain])["jobs"]}
    nodes = described[job_id]["nodeProperties"]
    assert (nodes["numNodes"], nodes["mainNode"]) == (3, 1)
    assert nodes["nodeRangeProperties"][0]["container"]["environment"] == [
        {"name": "ADDED", "value": "2"},
        {"name": "KEPT", "value": "1"},
        {"name": "REPLACED", "value": "new"},
    ]
    assert (
        described[plain]["nodeProperties"]["nodeRangeProperties"][0]["container"]["environment"]
        == container["environment"]
    )


def container_job_queue(batch: Any) -> None:
    environment = fargate_environment(batch, "runs")
    batch.create_job_queue(
        jobQueueName="q",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )
    resources = [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "1024"}]
    batch.register_job_definition(
        jobDefinitionName="d",
        type="container",
        containerProperties={"image": "alpine", "resourceRequirements": resources},
    )


def test_a_job_waits_runnable_for_faas_local_then_follows_its_run(batch: Any) -> None:
    container_job_queue(batch)
    job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="d")["jobId"]
    waiting = batch.describe_jobs(jobs=[job_id])["jobs"][0]
    assert waiting["status"] == "RUNNABLE"  # the emulator's service (as `faas local`'s) runs it
    assert not {"startedAt", "stoppedAt", "statusReason"} & set(waiting) and "logStreamName" not in waiting["container"]

    assert set_job_state(job_id, "RUNNING") is None
    running = batch.describe_jobs(jobs=[job_id])["jobs"][0]
    assert (running["status"], running["container"]["logStreamName"]) == ("RUNNING", f"d/default/{job_id}")
    assert running["startedAt"] >= running["createdAt"] and "stoppedAt" not in running

    end = set_job_state(job_id, "FAILED", "Essential container in task exited", 3)
    failed = batch.describe_jobs(jobs=[job_id])["jobs"][0]
    assert (failed["status"], failed["statusReason"], failed["container"]["exitCode"]) == (
        "FAILED",
        "Essential container in task exited",
        3,
    )
    assert failed["stoppedAt"] >= failed["startedAt"] and failed["attempts"][0]["stoppedAt"] == failed["stoppedAt"]
    assert end is not None and (end.status, end.exit_code, end.stopped_at) == ("FAILED", 3, failed["stoppedAt"])
    assert [j["jobId"] for j in batch.list_jobs(jobQueue="q", jobStatus="FAILED")["jobSummaryList"]] == [job_id]


def test_a_replayed_job_ends_as_it_ended_and_one_cut_short_fails(
    batch: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    container_job_queue(batch)
    job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="d")["jobId"]
    set_job_state(job_id, "RUNNING")
    end = set_job_state(job_id, "SUCCEEDED", "Essential container in task exited", 0)
    assert end is not None
    JobEnds(tmp_path / JOB_ENDS).ended(end)
    before = batch.describe_jobs(jobs=[job_id])["jobs"][0]

    replaying = LocalService("http://127.0.0.1:1", job_ends=JobEnds(tmp_path / JOB_ENDS))  # read afresh
    monkeypatch.setattr(HOOKS, "service", replaying)
    with replaying.paused():
        again = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="d")["jobId"]
        cut = batch.submit_job(jobName="cut", jobQueue="q", jobDefinition="d")["jobId"]
    replayed = batch.describe_jobs(jobs=[again])["jobs"][0]
    assert again != job_id  # moto gives it a new id
    for key in ("status", "statusReason", "startedAt", "stoppedAt"):
        assert replayed[key] == before[key], key
    assert replayed["container"]["exitCode"] == 0
    cut_short = batch.describe_jobs(jobs=[cut])["jobs"][0]
    assert (cut_short["status"], cut_short["statusReason"]) == ("FAILED", CUT_SHORT)


def test_without_faas_local_a_job_succeeds_at_once_as_in_moto(batch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    container_job_queue(batch)
    monkeypatch.setattr(HOOKS, "service", None)  # the emulator of Terraform tests runs nothing
    job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="d")["jobId"]
    assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "SUCCEEDED"
