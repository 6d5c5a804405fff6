"""The failures a deployment kept (modules/failures), read from its queue as AWS wrote them.

Two kinds of message land in the queue: Lambda's on-failure destination record of an asynchronous
invocation (`requestContext`, `requestPayload`, `responseContext`, `responsePayload`) and
EventBridge's Batch Job State Change event of a job that ended FAILED (the job in `detail`). The
queue is found from a deployed function: its event invoke configuration's OnFailure destination.

Listing does not hide messages (they are received with a visibility timeout of 0); a replay takes
its message out of sight while it runs (`hold`), then deletes it or makes it visible again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from faas_supervisor import contract
from faas_supervisor.events import parse_event

from render.aws.connection import Aws, AwsError
from render.aws.deployed import DeployedFunction

SHORT_ID = 8
RECEIVE_ROUNDS = 100  # a safety net: each round returns up to 10 messages
INPUT_WIDTH = 120


@dataclass(frozen=True)
class Failure:
    """One failed invocation or job, as its message in the failures queue says."""

    queue_url: str
    message_id: str
    receipt: str  # of the latest receive
    body: dict[str, Any]

    @property
    def is_batch(self) -> bool:
        return self.body.get("source") == contract.BATCH_EVENT_SOURCE

    @property
    def long_id(self) -> str:
        """The Lambda request's id, or the Batch job's."""
        if self.is_batch:
            return str(self.body.get("detail", {}).get("jobId", self.message_id))
        return str(self.body.get("requestContext", {}).get("requestId", self.message_id))

    @property
    def id(self) -> str:
        return self.long_id[:SHORT_ID]

    @property
    def function(self) -> str:
        if self.is_batch:  # the job definition is named after the function: ...:job-definition/NAME:REVISION
            definition = str(self.body.get("detail", {}).get("jobDefinition", ""))
            return definition.rsplit("/", 1)[-1].split(":", 1)[0] or "-"
        arn = str(self.body.get("requestContext", {}).get("functionArn", ""))
        parts = arn.split(":")
        return parts[6] if len(parts) > 6 else "-"

    @property
    def event(self) -> Any:
        """The event the function or the job was given (a Batch job's: by value, else None)."""
        if not self.is_batch:
            return self.body.get("requestPayload")
        environment = job_environment(self.body.get("detail", {}))
        if contract.EVENT in environment:
            try:
                return json.loads(environment[contract.EVENT])
            except ValueError:
                return environment[contract.EVENT]
        return None

    @property
    def input(self) -> str:
        """The objects the event names (s3://...), else the event itself, shortened."""
        if self.is_batch and self.event is None:
            staged = job_environment(self.body.get("detail", {})).get(contract.EVENT_URI)
            return f"event staged at {staged}" if staged else "-"
        parsed = parse_event(self.event)
        objects = [item.source.uri for item in parsed.items if item.source]
        text = ", ".join(objects) if objects else parsed.raw_json
        return text if len(text) <= INPUT_WIDTH else text[: INPUT_WIDTH - 3] + "..."

    @property
    def when(self) -> str:
        return str(self.body.get("time" if self.is_batch else "timestamp", "-"))

    @property
    def why(self) -> str:
        if self.is_batch:
            detail = self.body.get("detail", {})
            container = detail.get("container", {})
            reasons = [str(r) for r in (detail.get("statusReason"), container.get("reason")) if r]
            if "exitCode" in container:
                reasons.append(f"exit code {container['exitCode']}")
            return "; ".join(reasons) or "FAILED"
        context = self.body.get("requestContext", {})
        response = self.body.get("responsePayload")
        message = str(response.get("errorMessage", "")) if isinstance(response, dict) else ""
        condition = str(context.get("condition", ""))
        if condition and condition != "RetriesExhausted":
            return f"{condition}: {message}" if message else condition
        return message or condition or "-"

    @property
    def attempts(self) -> int:
        if self.is_batch:
            return max(len(self.body.get("detail", {}).get("attempts") or []), 1)
        return int(self.body.get("requestContext", {}).get("approximateInvokeCount", 1))

    def summary(self) -> dict[str, Any]:
        """What `faas failed --json` prints of it."""
        return {
            "id": self.long_id,
            "kind": "batch" if self.is_batch else "lambda",
            "function": self.function,
            "input": self.input,
            "when": self.when,
            "why": self.why,
            "attempts": self.attempts,
            "message": self.body,
        }


def job_environment(job: dict[str, Any]) -> dict[str, str]:
    """A described job's container environment, by name."""
    return {str(e["name"]): str(e["value"]) for e in job.get("container", {}).get("environment") or []}


def event_invoke_config(aws: Aws, name: str) -> dict[str, Any] | None:
    """The function's event invoke configuration (asynchronous invocations), None when it has none."""
    try:
        return dict(aws.client("lambda").get_function_event_invoke_config(FunctionName=name))
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def destination_queue(aws: Aws, function: DeployedFunction) -> str | None:
    """The ARN of the SQS queue the function's failed asynchronous invocations go to, if any."""
    config = event_invoke_config(aws, function.name) or {}
    destination = str(config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination") or "")
    return destination if destination.split(":")[2:3] == ["sqs"] else None


def queue_url(aws: Aws, queue_arn: str) -> str:
    _, _, _, _, account, name = queue_arn.split(":", 5)
    try:
        return str(aws.client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])
    except ClientError as error:
        raise AwsError(f"the failures queue {queue_arn} cannot be read: {error}") from None


def read_failures(aws: Aws, url: str, visibility: int = 0) -> list[Failure]:
    """Every message of the queue, each once; with `visibility` 0 they stay visible to others."""
    sqs = aws.client("sqs")
    found: dict[str, Failure] = {}
    for _ in range(RECEIVE_ROUNDS):
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=visibility,
            WaitTimeSeconds=0 if found else 1,  # a long poll asks every server once
            AttributeNames=["All"],
        ).get("Messages", [])
        new = [m for m in messages if m["MessageId"] not in found]
        for message in messages:  # the latest receipt of each: only that one may change or delete it
            found[message["MessageId"]] = Failure(url, message["MessageId"], message["ReceiptHandle"], _body(message))
        if not new:
            break
    return sorted(found.values(), key=lambda f: (f.when, f.long_id))


def _body(message: dict[str, Any]) -> dict[str, Any]:
    try:
        body = json.loads(message["Body"])
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {"unreadable": message["Body"]}


def hold(aws: Aws, failure: Failure, seconds: int) -> Failure | None:
    """Take the failure's message out of sight for `seconds` (a replay runs); None when it is gone."""
    for current in read_failures(aws, failure.queue_url):
        if current.message_id == failure.message_id:
            aws.client("sqs").change_message_visibility(
                QueueUrl=current.queue_url, ReceiptHandle=current.receipt, VisibilityTimeout=seconds
            )
            return current
    return None


def release(aws: Aws, failure: Failure) -> None:
    """Make the message visible again at once (its replay failed)."""
    aws.client("sqs").change_message_visibility(
        QueueUrl=failure.queue_url, ReceiptHandle=failure.receipt, VisibilityTimeout=0
    )


def delete(aws: Aws, failure: Failure) -> None:
    aws.client("sqs").delete_message(QueueUrl=failure.queue_url, ReceiptHandle=failure.receipt)


def matching(failures: Iterable[Failure], function: str | None, ident: str | None) -> list[Failure]:
    """The failures of `function`, or the one whose id starts with `ident` (every one without either)."""
    chosen = [
        f
        for f in failures
        if (function is None or f.function == function) and (ident is None or f.long_id.startswith(ident))
    ]
    if ident is not None and len({f.long_id for f in chosen}) > 1:
        raise AwsError(f"--id {ident} matches {len(chosen)} failures: give more of it", invalid_input=True)
    return chosen
