"""Submit an event to AWS Batch (`batch` mode, and `lambda-batch` delegation).

The event goes by value in ``containerOverrides.environment`` (for a multi-node parallel job, in
the ``nodeOverrides`` of every node: Batch takes no containerOverrides there) as FAAS_EVENT while the whole
SubmitJob request (as botocore serializes it) stays within 30 KiB minus a margin; otherwise it is
written to ``s3://$FAAS_ARTIFACTS_BUCKET/events/<function>/<uuid>.json`` and passed as
FAAS_EVENT_URI.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from dataclasses import dataclass
from typing import Any

from . import aws, contract, staging
from .errors import ConfigError, SupervisorError
from .events import S3Object

log = logging.getLogger(__name__)

SUBMIT_JOB_LIMIT = 30 * 1024  # bytes, AWS Batch SubmitJob request
SUBMIT_JOB_MARGIN = 1024  # headroom for anything we do not count exactly
JOB_NAME_MAX = 128
_JOB_NAME_BAD = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class BatchSettings:
    job_queue: str
    job_definition: str
    artifacts_bucket: str | None
    nodes: int = 1  # more than 1: the job definition is a multi-node parallel one

    @classmethod
    def from_env(cls) -> BatchSettings:
        missing = [v for v in (contract.JOB_QUEUE, contract.JOB_DEFINITION) if not os.environ.get(v)]
        if missing:
            raise ConfigError(
                f"{' and '.join(missing)} not set: a batch or lambda-batch function needs the "
                "job queue and job definition (set by the faas-render Terraform module)"
            )
        return cls(
            os.environ[contract.JOB_QUEUE],
            os.environ[contract.JOB_DEFINITION],
            os.environ.get(contract.ARTIFACTS_BUCKET) or None,
            int(os.environ.get(contract.JOB_NODES) or 1),
        )


@dataclass(frozen=True)
class Submission:
    job_id: str
    job_name: str
    event_uri: str | None  # set when the event went through S3

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"job_id": self.job_id, "job_name": self.job_name}
        if self.event_uri:
            d["event_uri"] = self.event_uri
        return d


def job_name(function_name: str, request_id: str) -> str:
    """Batch job names: 1-128 letters, digits, hyphens, underscores, starting alphanumeric."""
    name = _JOB_NAME_BAD.sub("-", f"{function_name}-{request_id}".strip("-_"))
    if not name or not name[0].isalnum():
        name = "job-" + name
    return name[:JOB_NAME_MAX]


def build_request(name: str, settings: BatchSettings, env: dict[str, str]) -> dict[str, Any]:
    return {
        "jobName": name,
        "jobQueue": settings.job_queue,
        "jobDefinition": settings.job_definition,
        **overrides([{"name": k, "value": v} for k, v in sorted(env.items())], settings.nodes),
    }


def overrides(environment: list[dict[str, str]], nodes: int) -> dict[str, Any]:
    """SubmitJob's overrides of the job's environment: of its container, or of all its nodes."""
    if nodes > 1:
        node = {"targetNodes": contract.ALL_NODES, "containerOverrides": {"environment": environment}}
        return {"nodeOverrides": {"nodePropertyOverrides": [node]}}
    return {"containerOverrides": {"environment": environment}}


def request_size(request: dict[str, Any]) -> int:
    """Bytes of the request body as botocore's rest-json serializer writes it."""
    return len(json.dumps(request).encode("utf-8"))


def submit_event(
    event: Any,
    *,
    function_name: str,
    request_id: str,
    settings: BatchSettings,
    batch: Any | None = None,
    s3: Any | None = None,
) -> Submission:
    name = job_name(function_name, request_id)
    event_json = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    base_env = {contract.SOURCE_REQUEST_ID: request_id}
    request = build_request(name, settings, {**base_env, contract.EVENT: event_json})
    event_uri = None
    if request_size(request) > SUBMIT_JOB_LIMIT - SUBMIT_JOB_MARGIN:
        if not settings.artifacts_bucket:
            raise ConfigError(
                f"the event ({len(event_json)} bytes) is too large to pass to Batch by value "
                "and FAAS_ARTIFACTS_BUCKET is not set"
            )
        obj = S3Object(settings.artifacts_bucket, f"{contract.staged_events_prefix(function_name)}{uuid.uuid4()}.json")
        staging.write_bytes(obj, event_json.encode("utf-8"), s3)
        event_uri = obj.uri
        request = build_request(name, settings, {**base_env, contract.EVENT_URI: event_uri})
        log.info("event of %d bytes staged at %s", len(event_json), event_uri)
    batch = batch or aws.client("batch")
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = batch.submit_job(**request)
    except (BotoCoreError, ClientError) as exc:
        raise SupervisorError(
            f"cannot submit job {name} to queue {settings.job_queue} (job definition {settings.job_definition}): {exc}"
        ) from exc
    log.info("submitted Batch job %s (%s) to %s", response["jobId"], name, settings.job_queue)
    return Submission(response["jobId"], name, event_uri)
