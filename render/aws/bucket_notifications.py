"""Notifications of existing buckets that applying a deployment would remove, found before it runs.

S3 keeps one notification configuration per bucket, and `aws_s3_bucket_notification` owns all of
it: applying it deletes every notification it does not hold. Before `faas-render --plan/--apply`
runs Terraform, the existing buckets that trigger functions are read with the credentials and
endpoint Terraform uses; what neither this render nor the root's Terraform state holds is
foreign. A notification is this deployment's when its id and function are: ids are
`FUNCTION/INDEX` (render/terraform/root_module.py), and the function is FUNCTION.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from render.aws.connection import Aws
from render.fdl.model import Deployment

# The kinds of target a notification configuration holds, and where each names its target.
KINDS = {
    "LambdaFunctionConfigurations": ("Lambda function", "LambdaFunctionArn"),
    "QueueConfigurations": ("SQS queue", "QueueArn"),
    "TopicConfigurations": ("SNS topic", "TopicArn"),
}
STATE_RESOURCE = "aws_s3_bucket_notification"


@dataclass(frozen=True, order=True)
class Notification:
    bucket: str
    kind: str
    id: str
    target: str

    def __str__(self) -> str:
        return f"{self.bucket}: {self.kind} {self.target}" + (f" (id {self.id!r})" if self.id else "")


class CheckSkipped(Exception):
    """AWS could not be asked (no credentials, no endpoint): nothing was checked."""


class NotificationsUnreadable(Exception):
    """AWS refused to show a bucket's notifications: foreign ones may exist, and applying would remove them."""

    def __init__(self, bucket: str, code: str) -> None:
        super().__init__(f"reading the notifications of bucket {bucket} was refused ({code})")
        self.bucket = bucket


def function_name(arn: str) -> str:
    """The function of a Lambda ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER])."""
    parts = arn.split(":")
    return parts[6] if len(parts) > 6 else arn


def rendered(deployment: Deployment) -> set[tuple[str, str, str]]:
    """(bucket, id, function) of each notification this render writes."""
    return {
        (location.bucket, f"{function.name}/{index}", function.name)
        for function in deployment.functions
        for index, location in enumerate(function.inputs)
    }


def in_state(directory: Path) -> set[tuple[str, str, str]]:
    """(bucket, id, function) of each notification the root's Terraform state holds (none without a state)."""
    shown = subprocess.run(
        ["terraform", "show", "-json", "-no-color"], cwd=directory, capture_output=True, text=True, check=False
    )
    if shown.returncode != 0 or not shown.stdout.strip():
        return set()
    found = set()
    for resource in _resources(json.loads(shown.stdout).get("values", {}).get("root_module", {})):
        if resource.get("type") != STATE_RESOURCE:
            continue
        values = resource.get("values") or {}
        for entry in values.get("lambda_function") or []:
            found.add(
                (values.get("bucket", ""), entry.get("id", ""), function_name(entry.get("lambda_function_arn", "")))
            )
    return found


def _resources(module: dict[str, Any]) -> list[dict[str, Any]]:
    resources = list(module.get("resources", []))
    for child in module.get("child_modules", []):
        resources += _resources(child)
    return resources


def existing_trigger_buckets(deployment: Deployment) -> list[str]:
    """The buckets the deployment does not create whose notification configuration it writes."""
    return sorted(
        {loc.bucket for f in deployment.functions for loc in f.inputs if deployment.buckets[loc.bucket].existing}
    )


def foreign_notifications(aws: Aws, buckets: list[str], ours: set[tuple[str, str, str]]) -> list[Notification]:
    """The notifications of `buckets` that are not `ours`; CheckSkipped when AWS cannot be asked,
    NotificationsUnreadable when it refuses to answer (then nothing says there are none)."""
    s3 = aws.client("s3")
    found = []
    for bucket in buckets:
        try:
            configuration = s3.get_bucket_notification_configuration(Bucket=bucket)
        except NoCredentialsError:
            raise CheckSkipped("no AWS credentials") from None
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "NoSuchBucket":
                continue  # terraform reports it
            if code in ("AccessDenied", "403"):  # "403": botocore's code for a refusal without a body
                raise NotificationsUnreadable(bucket, code) from None
            raise CheckSkipped(f"reading the notifications of bucket {bucket} failed: {code or error}") from None
        except BotoCoreError as error:
            raise CheckSkipped(str(error)) from None
        for key, (kind, target_key) in KINDS.items():
            for entry in configuration.get(key, []):
                target = entry.get(target_key, "")
                if kind == "Lambda function" and (bucket, entry.get("Id", ""), function_name(target)) in ours:
                    continue
                found.append(Notification(bucket, kind, entry.get("Id", ""), target))
        if "EventBridgeConfiguration" in configuration:
            found.append(Notification(bucket, "EventBridge", "", "delivery to Amazon EventBridge"))
    return sorted(found)
