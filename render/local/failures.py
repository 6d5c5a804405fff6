"""Local mode keeps failures where AWS keeps them, in the messages AWS writes.

An asynchronous invocation (an S3 trigger, an Event invoke) that fails is run again up to the
function's MaximumRetryAttempts (its event invoke configuration, read from the emulator; Lambda's
defaults without one) while it is younger than MaximumEventAgeInSeconds; then Lambda's destination
record goes to the OnFailure destination (an SQS queue; other destinations are not emulated).
An invocation that cannot even start here (render/local/cloud.py: throttled, its image refused,
the sandbox or the disk failing) is such a failure too, its errorType saying why.
A Batch job that fails becomes EventBridge's Batch Job State Change event, put on the default
event bus: the emulator's EventBridge routes it to the rules matching it (the deployment's
failures rule sends it to the failures queue), as AWS does. Real AWS retries after a minute, then
two; local mode retries at once.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from faas_supervisor import contract

from render.aws.connection import Aws, AwsError
from render.aws.deployed import DeployedFunction
from render.aws.failures import event_invoke_config, queue_url
from render.local.execution.errors import LocalError
from render.local.execution.lambda_runner import Invocation


@dataclass(frozen=True)
class RetryPolicy:
    """What Lambda does with a failed asynchronous invocation of one function."""

    retries: int = contract.ASYNC_RETRY_ATTEMPTS
    max_age: int = contract.ASYNC_MAX_EVENT_AGE  # seconds
    destination: str | None = None  # the OnFailure destination's ARN

    def condition(self, attempts: int, age: float) -> str | None:
        """Why no more attempts are made (Lambda's condition), or None while one is still due."""
        if age >= self.max_age:
            return "EventAgeExceeded"
        return "RetriesExhausted" if attempts > self.retries else None


def retry_policy(aws: Aws, function: DeployedFunction) -> RetryPolicy:
    config = event_invoke_config(aws, function.name)
    if config is None:
        return RetryPolicy()
    return RetryPolicy(
        int(config.get("MaximumRetryAttempts", contract.ASYNC_RETRY_ATTEMPTS)),
        int(config.get("MaximumEventAgeInSeconds", contract.ASYNC_MAX_EVENT_AGE)),
        config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination") or None,
    )


def destination_record(
    function: DeployedFunction, request_id: str, condition: str, attempts: int, event: Any, last: Invocation
) -> dict[str, Any]:
    """Lambda's record of an asynchronous invocation that failed for good (its on-failure destination's message)."""
    return {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{function.configuration['FunctionArn']}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": last.payload,
    }


def send_to_destination(aws: Aws, destination: str, record: dict[str, Any]) -> str:
    """Deliver the record; what happened, for the progress line."""
    if destination.split(":")[2:3] != ["sqs"]:
        return f"not sent to {destination}: local mode delivers to SQS destinations only"
    try:
        url = queue_url(aws, destination)
        aws.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(record))
    except (ClientError, BotoCoreError, AwsError, LocalError) as error:  # said, and the run goes on, as in Lambda
        return f"could not be kept in {destination}: {error}"
    return f"kept in {destination.rsplit(':', 1)[-1]} (`faas failed`)"


def job_failed(aws: Aws, job_id: str, reason: str, exit_code: int | None) -> None:
    """Put the job's Batch Job State Change event (FAILED) on the default event bus."""
    try:
        jobs = aws.client("batch").describe_jobs(jobs=[job_id])["jobs"]
    except ClientError:
        jobs = []
    job: dict[str, Any] = jobs[0] if jobs else {"jobId": job_id}
    container = dict(job.get("container") or {})
    if exit_code is not None:
        container["exitCode"] = exit_code
    detail = {
        **job,
        "status": "FAILED",
        "statusReason": reason,
        "stoppedAt": int(time.time() * 1000),
        "container": container,
    }
    aws.client("events").put_events(
        Entries=[
            {
                "Source": contract.BATCH_EVENT_SOURCE,
                "DetailType": contract.BATCH_STATE_CHANGE,
                "Detail": json.dumps(detail, default=str),
                "Resources": [str(job.get("jobArn", job_id))],
            }
        ]
    )
