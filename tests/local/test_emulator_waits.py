"""The emulator ends the aws provider's waiters at their first read, as AWS does once a change has settled.

What an apply or destroy still waits for on these resources is the provider's own fixed pacing, not
the emulator: an SQS attribute change is read 6 times in a row, 5 s apart (25 s), and a Batch job
queue is first read 30 s after each change (create 30 s; destroy disables, then deletes: 60 s). These
tests pin the answers that end those waits at once, so a moto release that changed them shows here
instead of as a slower (or timed-out) Terraform run.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from render.local import emulator
from tests.local.test_batch_api import fargate_environment

RETENTION = "1209600"


@pytest.fixture
def fresh(aws_env: dict[str, str]) -> None:
    emulator.reset(aws_env["AWS_ENDPOINT_URL"])


def test_queue_attributes_read_back_as_set(fresh: None) -> None:
    # GetQueueAttributes returns the values SetQueueAttributes/CreateQueue set, as strings; an
    # empty Policy removes the policy (SQS API reference, SetQueueAttributes and GetQueueAttributes).
    # The provider's propagation waiter compares exactly these, so every one of its reads matches.
    sqs = boto3.client("sqs")
    url = sqs.create_queue(
        QueueName="failures", Attributes={"MessageRetentionPeriod": RETENTION, "SqsManagedSseEnabled": "true"}
    )["QueueUrl"]
    read = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (read["MessageRetentionPeriod"], read["SqsManagedSseEnabled"]) == (RETENTION, "true")

    statement = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage"}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement | {"Resource": read["QueueArn"]}]})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    read = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(read["Policy"]) == json.loads(policy)

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    read = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert read.get("Policy", "") == ""


def test_a_disabled_then_deleted_job_queue_settles_at_once(fresh: None) -> None:
    # AWS answers UPDATING, then VALID, after UpdateJobQueue, and DELETING, then DELETED (or
    # nothing), after DeleteJobQueue (Batch API reference, JobQueueDetail.status); the provider
    # reads once after a fixed 30 s delay and stops at VALID, and at DELETED or no queue.
    batch: Any = boto3.client("batch")
    environment = fargate_environment(batch, "settling")
    order = [{"order": 1, "computeEnvironment": environment}]
    batch.create_job_queue(jobQueueName="q", state="ENABLED", priority=1, computeEnvironmentOrder=order)
    assert batch.describe_job_queues(jobQueues=["q"])["jobQueues"][0]["status"] == "VALID"

    batch.update_job_queue(jobQueue="q", state="DISABLED")
    queue = batch.describe_job_queues(jobQueues=["q"])["jobQueues"][0]
    assert (queue["state"], queue["status"]) == ("DISABLED", "VALID")

    batch.delete_job_queue(jobQueue="q")
    left = batch.describe_job_queues(jobQueues=["q"])["jobQueues"]
    assert [q["status"] for q in left] in ([], ["DELETED"])


def test_a_deleted_bucket_is_gone_at_once(fresh: None) -> None:
    # HeadBucket answers 404 Not Found for a bucket that does not exist (S3 API reference,
    # HeadBucket); the provider's delete polls it until then.
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.delete_bucket(Bucket="artifacts")
    with pytest.raises(ClientError) as missing:
        s3.head_bucket(Bucket="artifacts")
    assert missing.value.response["Error"]["Code"] == "404"
