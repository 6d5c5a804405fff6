"""What local mode reads of a deployment once and keeps: buckets' triggers, functions' descriptions."""

from __future__ import annotations

import threading

from botocore.exceptions import ClientError

from render.aws.connection import Aws
from render.aws.deployed import DeployedFunction, get_function
from render.local.s3_events import Trigger, triggers


class DeployedCache:
    """Thread-safe: the runs of one LocalCloud share it."""

    def __init__(self, aws: Aws) -> None:
        self.aws = aws
        self._lock = threading.Lock()
        self._triggers: dict[str, list[Trigger]] = {}
        self._functions: dict[str, DeployedFunction] = {}

    def triggers(self, bucket: str) -> list[Trigger]:
        """The Lambda functions the bucket's notification configuration fires."""
        with self._lock:
            if bucket in self._triggers:
                return self._triggers[bucket]
        try:
            notification = self.aws.client("s3").get_bucket_notification_configuration(Bucket=bucket)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("AccessDenied", "NoSuchBucket"):
                raise
            notification = {}  # another account's bucket (an output through its keys): it fires none of ours
        with self._lock:
            return self._triggers.setdefault(bucket, triggers(notification))

    def function(self, arn: str) -> DeployedFunction:
        with self._lock:
            if arn in self._functions:
                return self._functions[arn]
        function = get_function(self.aws, arn)
        with self._lock:
            return self._functions.setdefault(arn, function)
