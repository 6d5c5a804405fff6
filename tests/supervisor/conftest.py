"""Fixtures for the supervisor tests: a real moto server and real registries on loopback, no mocking.

The server is the session's shared one (tests/conftest.py); its autouse fixtures (isolated
HOME, a stand-in FAAS_RENDER_SUPERVISOR_BUNDLE, botocore's data parsed once) apply here too and
are undone where a test needs the real thing. The tests' own clients (Aws.client) are made once
per process; the supervisor's are reset for every test, as before.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import LocalRegistry, start_registry
from tests.supervisor.image_builders import BaseImages, push_base_images

REGION = "us-east-1"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": REGION,
}


@pytest.fixture(scope="session")
def sup_moto_endpoint(moto_endpoint: str) -> str:
    return moto_endpoint


@cache
def _client(service: str, endpoint: str) -> Any:
    """The tests' own client for `service` at `endpoint`, made once per process (clients are thread-safe).

    Its credentials and region are given here, so the environment of the test that first asks for it
    does not matter; the supervisor's own clients are not these (faas_supervisor.aws.client).
    """
    import boto3

    return boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION).client(
        service, endpoint_url=endpoint
    )


@dataclass
class Aws:
    endpoint: str

    def client(self, service: str) -> Any:
        return _client(service, self.endpoint)

    def bucket(self, stem: str = "b") -> str:
        name = f"{stem}-{uuid.uuid4().hex[:12]}"
        self.client("s3").create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        resp = self.client("s3").list_objects_v2(Bucket=bucket)
        return sorted(o["Key"] for o in resp.get("Contents", []))

    def read(self, bucket: str, key: str) -> bytes:
        return self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


@pytest.fixture
def aws(sup_moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """Environment pointing boto3 at the moto server; the supervisor's client cache reset."""
    from faas_supervisor import aws as sup_aws

    for name in list(os.environ):
        if name.startswith(("AWS_", "FAAS_")) or name in (
            "TIMEOUT_THRESHOLD",
            "LOG_LEVEL",
            "LAMBDA_TASK_ROOT",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", sup_moto_endpoint)
    for k, v in CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    sup_aws.reset_clients()
    yield Aws(sup_moto_endpoint)
    sup_aws.reset_clients()


@dataclass(frozen=True)
class BatchInfra:
    job_queue: str  # ARN
    job_definition: str  # name
    artifacts_bucket: str


_batch_infra: dict[str, BatchInfra] = {}


@pytest.fixture
def batch_infra(sup_moto_endpoint: str) -> BatchInfra:
    """A real (moto) Batch queue and job definition: VPC, subnet, SG, roles, instance profile.

    Made once per emulator, and made again when it is gone: tests elsewhere reset the shared
    emulator (emulator.reset), and may run between two supervisor tests (pytest-xdist, -k, any
    order). Checking costs two requests.
    """
    infra = _batch_infra.get(sup_moto_endpoint)
    if infra is None or not _batch_infra_exists(sup_moto_endpoint, infra):
        infra = _batch_infra[sup_moto_endpoint] = _create_batch_infra(sup_moto_endpoint)
    return infra


def _batch_infra_exists(endpoint: str, infra: BatchInfra) -> bool:
    batch = _client("batch", endpoint)
    queues = batch.describe_job_queues(jobQueues=[infra.job_queue])["jobQueues"]
    definitions = batch.describe_job_definitions(jobDefinitionName=infra.job_definition, status="ACTIVE")
    return bool(queues and definitions["jobDefinitions"])


def _create_batch_infra(endpoint: str) -> BatchInfra:
    ec2 = _client("ec2", endpoint)
    iam = _client("iam", endpoint)
    batch = _client("batch", endpoint)
    s3 = _client("s3", endpoint)
    tag = uuid.uuid4().hex[:8]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=f"faas-{tag}", Description="faas test", VpcId=vpc)["GroupId"]

    def role(name: str, principal: str) -> str:
        doc = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}],
        }
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"]

    service_role = role(f"faas-batch-service-{tag}", "batch.amazonaws.com")
    instance_role = f"faas-batch-instance-{tag}"
    role(instance_role, "ec2.amazonaws.com")
    profile = iam.create_instance_profile(InstanceProfileName=instance_role)["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName=instance_role, RoleName=instance_role)
    ce = batch.create_compute_environment(
        computeEnvironmentName=f"faas-ce-{tag}",
        type="MANAGED",
        state="ENABLED",
        computeResources={
            "type": "EC2",
            "minvCpus": 0,
            "maxvCpus": 4,
            "desiredvCpus": 0,
            "instanceTypes": ["m6i.large"],
            "subnets": [subnet],
            "securityGroupIds": [sg],
            "instanceRole": profile,
        },
        serviceRole=service_role,
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName=f"faas-q-{tag}",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}],
    )["jobQueueArn"]
    artifacts = f"faas-artifacts-{tag}"
    s3.create_bucket(Bucket=artifacts)
    jobdef = f"faas-jd-{tag}"
    batch.register_job_definition(
        jobDefinitionName=jobdef,
        type="container",
        containerProperties={
            "image": "busybox",
            "command": ["/opt/faas/faas-supervisor"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
            "environment": [
                {"name": "FAAS_CONFIG_URI", "value": f"s3://{artifacts}/functions/fn/function_config.json"}
            ],
        },
    )
    return BatchInfra(queue, jobdef, artifacts)


class FakeContext:
    """The parts of the Lambda context object the supervisor uses."""

    def __init__(self, remaining_ms: int = 60_000, request_id: str | None = None) -> None:
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.function_name = "fn"
        self._deadline_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._deadline_ms


LambdaTask = Callable[..., Path]
"""lambda_task(config, script=None, script_name="script.sh") -> the task root."""
S3Event = Callable[..., dict[str, Any]]
"""s3_event(bucket, *url_encoded_keys, event_name="ObjectCreated:Put") -> an S3 notification."""
ContextFactory = type[FakeContext]


@pytest.fixture
def lambda_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LambdaTask:
    """Write function_config.json + script into a fake task root (LAMBDA_TASK_ROOT)."""

    def make(config: dict[str, Any], script: str | None = None, script_name: str = "script.sh") -> Path:
        root = tmp_path / "task"
        root.mkdir(exist_ok=True)
        if script is not None:
            (root / script_name).write_text(script)
            config = {**config, "script": script_name}
        (root / "function_config.json").write_text(json.dumps(config))
        monkeypatch.setenv("LAMBDA_TASK_ROOT", str(root))
        return root

    return make


def _s3_event(bucket: str, *keys: str, event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
    """An S3 notification as S3 sends it (keys URL-encoded by the caller)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": "2024-05-01T12:00:00.000Z",
                "eventName": event_name,
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key, "size": 1},
                },
            }
            for key in keys
        ]
    }


@pytest.fixture
def s3_event() -> S3Event:
    """s3_event(bucket, *url_encoded_keys) -> an S3 notification event."""
    return _s3_event


@pytest.fixture
def context() -> ContextFactory:
    """context(remaining_ms=60000) -> a fake Lambda context."""
    return FakeContext


@pytest.fixture(scope="session")
def other_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A second registry: copies to it cannot be cross-repository mounts."""
    running = start_registry(tmp_path_factory.mktemp("other-registry"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def base_images(registry: LocalRegistry) -> BaseImages:
    """Busybox base images in `registry`: Docker and OCI, single-platform and behind indexes."""
    return push_base_images(registry)
