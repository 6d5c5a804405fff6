"""Messages as AWS writes them into the failures queue, read as `faas failed` shows them.

The Lambda record follows the shape AWS documents for on-failure destinations; the Batch event is
EventBridge's Batch Job State Change of a failed job (fields as `DescribeJobs` gives them).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from render.aws.connection import AwsError
from render.aws.failures import Failure, matching
from render.commands.failed import cell

S3_EVENT = {
    "Records": [
        {
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "media"}, "object": {"key": "input/my+clip%281%29.y4m", "size": 3}},
        }
    ]
}
LAMBDA_RECORD: dict[str, Any] = {
    "version": "1.0",
    "timestamp": "2026-11-14T18:16:05.568Z",
    "requestContext": {
        "requestId": "e4b46cbf-b738-4ee4-8880-a18cdf61200e",
        "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:video-split:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    },
    "requestPayload": S3_EVENT,
    "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
    "responsePayload": {"errorMessage": "the script exited with status 3", "errorType": "ScriptFailed"},
}
BATCH_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "c8f9c4b5-76e5-d76a-f980-7011e206042b",
    "detail-type": "Batch Job State Change",
    "source": "aws.batch",
    "account": "123456789012",
    "time": "2026-11-14T18:20:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:batch:us-east-1:123456789012:job/4c7599ae-0a82-49aa-ba5a-4727fcce14a8"],
    "detail": {
        "jobArn": "arn:aws:batch:us-east-1:123456789012:job/4c7599ae-0a82-49aa-ba5a-4727fcce14a8",
        "jobName": "video-split-1",
        "jobId": "4c7599ae-0a82-49aa-ba5a-4727fcce14a8",
        "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/video-process-video-split",
        "status": "FAILED",
        "attempts": [{"container": {"exitCode": 3}}],
        "statusReason": "Essential container in task exited",
        "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/video-split:4",
        "container": {
            "exitCode": 3,
            "environment": [
                {"name": "FAAS_EVENT", "value": json.dumps(S3_EVENT)},
                {"name": "AWS_BATCH_JOB_ID", "value": "4c7599ae-0a82-49aa-ba5a-4727fcce14a8"},
            ],
        },
    },
}


def failure(body: dict[str, Any], message_id: str = "m-1") -> Failure:
    return Failure("https://sqs.us-east-1.amazonaws.com/123456789012/q", message_id, "r", body)


def test_a_lambda_destination_record() -> None:
    found = failure(LAMBDA_RECORD)
    assert not found.is_batch and found.id == "e4b46cbf"
    assert (found.function, found.input) == ("video-split", "s3://media/input/my clip(1).y4m")
    assert (found.when, found.why, found.attempts) == ("2026-11-14T18:16:05.568Z", "the script exited with status 3", 3)
    assert found.event == S3_EVENT


def test_an_event_too_old_says_so() -> None:
    body = {**LAMBDA_RECORD, "requestContext": {**LAMBDA_RECORD["requestContext"], "condition": "EventAgeExceeded"}}
    body.pop("responsePayload")
    assert failure(body).why == "EventAgeExceeded"


def test_a_direct_payload_is_shown_as_json() -> None:
    body = {**LAMBDA_RECORD, "requestPayload": {"name": "x" * 200}}
    shown = failure(body).input
    assert shown.startswith('{"name":"xxx') and shown.endswith("...") and len(shown) == 120


def test_a_batch_job_state_change() -> None:
    found = failure(BATCH_EVENT)
    assert found.is_batch and found.id == "4c7599ae" and found.function == "video-split"
    assert found.input == "s3://media/input/my clip(1).y4m" and found.event == S3_EVENT
    assert (found.when, found.why, found.attempts) == (
        "2026-11-14T18:20:00Z",
        "Essential container in task exited; exit code 3",
        1,
    )


def test_a_staged_batch_event_is_named_by_its_uri() -> None:
    detail = {**BATCH_EVENT["detail"], "container": {"environment": [{"name": "FAAS_EVENT_URI", "value": "s3://a/e"}]}}
    found = failure({**BATCH_EVENT, "detail": detail})
    assert (
        found.event is None
        and found.input == "event staged at s3://a/e"
        and found.why == "Essential container in task exited"
    )


def test_choosing_by_function_or_id() -> None:
    both = [failure(LAMBDA_RECORD, "m-1"), failure(BATCH_EVENT, "m-2")]
    assert [f.message_id for f in matching(both, "video-split", None)] == ["m-1", "m-2"]
    assert [f.message_id for f in matching(both, None, "4c75")] == ["m-2"]
    assert matching(both, "other", None) == []
    twins = [
        failure(LAMBDA_RECORD, "m-1"),
        failure({**LAMBDA_RECORD, "requestContext": {"requestId": "e4b4-2"}}, "m-3"),
    ]
    with pytest.raises(AwsError, match="matches 2 failures") as ambiguous:
        matching(twins, None, "e4b4")
    assert ambiguous.value.invalid_input


def test_the_table_shows_one_line_of_why() -> None:
    shown = cell("Traceback:\n  line 1\n" + "x" * 200)
    assert "\n" not in shown and len(shown) == 100 and shown.startswith("Traceback: line 1 xxx")
