"""Local mode: after an upload or an invocation, do on this machine what AWS would do.

A moto server stores everything but runs nothing, so someone plays the services' part: `faas
local` itself (render/local/service.py, for every S3 client), or else `faas put` and `faas invoke`.
An object written into a bucket fires the Lambda functions whose bucket notification (events,
prefix and suffix filters) matches it, with a real S3 event; a function runs from what was
deployed (render/local/lambda_runner.py); a Batch job it submits runs from its job definition
(render/local/batch_runner.py); whatever they write fires the next functions in turn, until the workflow
settles. Progress goes to stderr, or where the caller says.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote_plus

from botocore.exceptions import ClientError

from render.aws.connection import Aws, CommandError
from render.aws.deployed import DeployedFunction, get_function
from render.local.batch_runner import BatchRunner
from render.local.lambda_runner import Invocation, LambdaRuntime

MAX_RUNS = 1000  # a safety net: validation already refuses workflows that feed themselves
HOST_NOTICE = (
    "notice: local mode has no container runtime: scripts run directly on this host "
    "(with its /bin/sh, python3 and tools), not in the functions' images"
)


@dataclass(frozen=True)
class Trigger:
    """One Lambda function configuration of a bucket notification."""

    function_arn: str
    configuration_id: str
    events: tuple[str, ...]
    prefix: str = ""
    suffix: str = ""

    def matches(self, key: str, event_name: str) -> bool:
        wanted = f"s3:{event_name}"
        event_ok = any(e == wanted or (e.endswith(":*") and wanted.startswith(e[:-1])) for e in self.events)
        return event_ok and key.startswith(self.prefix) and key.endswith(self.suffix)


def triggers(notification: dict[str, Any]) -> list[Trigger]:
    """The Lambda triggers of a GetBucketNotificationConfiguration answer."""
    found = []
    for entry in notification.get("LambdaFunctionConfigurations", []):
        rules = {r["Name"].lower(): r["Value"] for r in entry.get("Filter", {}).get("Key", {}).get("FilterRules", [])}
        found.append(
            Trigger(
                entry["LambdaFunctionArn"],
                entry.get("Id", ""),
                tuple(entry.get("Events", [])),
                rules.get("prefix", ""),
                rules.get("suffix", ""),
            )
        )
    return found


def s3_event(
    region: str,
    bucket: str,
    key: str,
    size: int,
    etag: str,
    configuration_id: str,
    event_name: str = "ObjectCreated:Put",
) -> dict[str, Any]:
    """The notification S3 sends for a new object (the key URL-encoded, as S3 does)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": event_name,
                "userIdentity": {"principalId": "local"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": configuration_id,
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "local"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": size,
                        "eTag": etag.strip('"'),
                        "sequencer": f"{time.time_ns():016X}",
                    },
                },
            }
        ]
    }


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@dataclass
class Summary:
    runs: int = 0
    failed: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)

    def __add__(self, other: Summary) -> Summary:
        return Summary(self.runs + other.runs, self.failed + other.failed, self.written + other.written)

    def __str__(self) -> str:
        failed = f", {len(self.failed)} failed ({', '.join(self.failed)})" if self.failed else ""
        return f"local run: {self.runs} run(s){failed}, {len(self.written)} object(s) written"


def print_progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class LocalCloud:
    """Plays Lambda, Batch and S3 notifications; use it as a context manager.

    `code` gives a function's deployment package. With `chain_outputs` false, what the runs write
    fires nothing here: the emulator fires it (render/local/service.py).
    """

    def __init__(
        self,
        aws: Aws,
        code: Callable[[DeployedFunction], bytes],
        verbose: bool = False,
        chain_outputs: bool = True,
        progress: Callable[[str], None] = print_progress,
    ) -> None:
        self.aws = aws
        self.verbose = verbose
        self.summary = Summary()
        self._chain_outputs = chain_outputs
        self._progress = progress
        self._workdir = tempfile.TemporaryDirectory(prefix="faas-local-")
        workdir = Path(self._workdir.name)
        self._lambda = LambdaRuntime(aws, code, workdir)
        self._batch = BatchRunner(aws, workdir)
        self._pending: deque[Callable[[], object]] = deque()
        self._triggers: dict[str, list[Trigger]] = {}
        self._functions: dict[str, DeployedFunction] = {}
        self._noticed = False

    def __enter__(self) -> LocalCloud:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._workdir.cleanup()

    def objects_written(self, uris: list[str]) -> Summary:
        """Fire the notifications of these new objects and everything that follows."""
        for uri in uris:
            self._pending.append(partial(self._object_written, uri))
        self._settle()
        return self.summary

    def invoke(self, function: DeployedFunction, event: Any) -> Invocation:
        """Invoke a function directly, then let what it started finish."""
        invocation = self._run_lambda(function, event, "a direct invocation")
        self._settle()
        return invocation

    def run(
        self,
        function: DeployedFunction,
        event: Any,
        cause: str,
        answered: Callable[[Invocation], None] | None = None,
    ) -> None:
        """Run a function (an S3 notification or an Invoke request started it), then let what it started finish.

        `answered` gets the invocation's result as soon as the function returns, before the rest.
        """
        invocation = self._run_lambda(function, event, cause)
        if answered:
            answered(invocation)
        self._settle()

    def _settle(self) -> None:
        while self._pending:
            if self.summary.runs >= MAX_RUNS:
                raise CommandError(f"stopped after {MAX_RUNS} runs: do the functions trigger each other in a loop?")
            self._pending.popleft()()

    def _say(self, name: str, message: str) -> None:
        self._progress(f"[{name}] " + message.replace("\n", "\n    "))

    def _echo(self, name: str) -> Callable[[str], None] | None:
        return (lambda line: self._progress(f"[{name}] | {line}")) if self.verbose else None

    def _notice(self) -> None:
        if not self._noticed:
            self._progress(HOST_NOTICE)
            self._noticed = True

    def _object_written(self, uri: str) -> None:
        bucket, key = split_uri(uri)
        if bucket not in self._triggers:
            self._triggers[bucket] = self._bucket_triggers(bucket)
        fired = [t for t in self._triggers[bucket] if t.matches(key, "ObjectCreated:Put")]
        if not fired:
            return
        head = self.aws.client("s3").head_object(Bucket=bucket, Key=key)
        for trigger in fired:
            function = self._function(trigger.function_arn)
            event = s3_event(
                self.aws.region, bucket, key, head["ContentLength"], head["ETag"], trigger.configuration_id
            )
            self._pending.append(partial(self._run_lambda, function, event, uri))

    def _bucket_triggers(self, bucket: str) -> list[Trigger]:
        try:
            notification = self.aws.client("s3").get_bucket_notification_configuration(Bucket=bucket)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("AccessDenied", "NoSuchBucket"):
                return []  # another account's bucket (an output through its keys): it fires none of ours
            raise
        return triggers(notification)

    def _function(self, arn: str) -> DeployedFunction:
        if arn not in self._functions:
            self._functions[arn] = get_function(self.aws, arn)
        return self._functions[arn]

    def _run_lambda(self, function: DeployedFunction, event: Any, cause: str) -> Invocation:
        self._notice()
        self._say(function.name, f"Lambda started by {cause}")
        self.summary.runs += 1
        invocation = self._lambda.invoke(function, event, self._echo(function.name))
        if invocation.failed:
            self.summary.failed.append(function.name)
            took = f"{invocation.seconds:.1f} s (request {invocation.request_id})"
            self._say(function.name, f"FAILED after {took}: {invocation.error_message}")
            return invocation
        result = invocation.payload if isinstance(invocation.payload, dict) else {}
        uploaded = [str(u) for u in result.get("uploaded", [])]
        jobs = [str(j) for j in result.get("job_ids") or ([result["job_id"]] if result.get("job_id") else [])]
        done = [f"submitted Batch job {j}" for j in jobs]
        if uploaded or not jobs:
            done.append(f"{len(uploaded)} object(s) written")
        self._say(function.name, f"finished in {invocation.seconds:.1f} s: {', '.join(done)}")
        self._written(function.name, uploaded)
        for job_id in jobs:
            self._pending.append(partial(self._run_job, function.name, job_id))
        return invocation

    def _run_job(self, name: str, job_id: str) -> None:
        self.summary.runs += 1
        self._say(name, f"Batch job {job_id} running on this host")
        run = self._batch.run(job_id, self._echo(name))
        if run.returncode != 0:
            self.summary.failed.append(f"{name} job {job_id}")
            tail = "\n".join(run.log.tail(10))
            self._say(
                name, f"Batch job {job_id} FAILED (exit status {run.returncode}) after {run.seconds:.1f} s:\n{tail}"
            )
        else:
            self._say(
                name, f"Batch job {job_id} succeeded in {run.seconds:.1f} s: {len(run.uploaded)} object(s) written"
            )
        self._written(name, run.uploaded)

    def _written(self, name: str, uris: list[str]) -> None:
        for uri in uris:
            self._say(name, f"  wrote {uri}")
            self.summary.written.append(uri)
            if self._chain_outputs:
                self._pending.append(partial(self._object_written, uri))
