"""moto's Batch: what it lacks of AWS's API that the batch module uses.

- A compute environment without `serviceRole` uses Batch's service-linked role, as on AWS (moto
  refuses it: "ServiceRole is required"); the role is created when the account lacks it.
- Job queues keep the `jobStateTimeLimitActions` they are given, within AWS's limits, and
  describe them (moto drops them, and the aws provider would then plan to add them after every
  apply). Nothing cancels a stuck job here: moto's jobs never wait for capacity.
- A multi-node parallel job definition describes its `nodeProperties` (moto leaves them out).
- A multi-node parallel job keeps the `nodeOverrides` it is submitted with (moto drops them), and
  describes its `nodeProperties` with them applied: each node range's environment overridden by
  the overrides targeting the same range, as a container job's `containerOverrides` are.
- While `faas local` runs functions (a service is bound), a submitted job waits RUNNABLE for the
  local runner, which sets it RUNNING, then SUCCEEDED or FAILED with its statusReason and its
  container's exitCode (`set_job_state`), as DescribeJobs shows on AWS; moto's simple backend
  would mark it SUCCEEDED at once, which it still does for the emulator of Terraform tests. A job
  replayed by `faas local --state` takes the end it had (the service says which).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.batch.exceptions import ClientException
from moto.batch.models import BatchBackend, Job, JobDefinition, JobQueue, batch_backends
from moto.batch.responses import BatchResponse
from moto.batch.utils import JobStatus
from moto.batch_simple.models import BatchSimpleBackend
from moto.iam.exceptions import NotFoundException

from render.local.moto.hooks import HOOKS
from render.local.moto.patch import Patches
from render.local.state import JobEnd

PATCHES = Patches()
SERVICE_LINKED_ROLE = "AWSServiceRoleForBatch"
BATCH_SERVICE = "batch.amazonaws.com"
# AWS's limits of a JobStateTimeLimitAction (API reference, JobStateTimeLimitAction).
MAX_TIME_SECONDS = range(600, 86400 + 1)
STATES = ("RUNNABLE",)
ACTIONS = ("CANCEL",)
ACTIONS_ATTRIBUTE = "faas_time_limit_actions"  # where a moto JobQueue keeps them
NODE_OVERRIDES_ATTRIBUTE = "faas_node_overrides"  # where a moto Job keeps its nodeOverrides
FINGERPRINT_ATTRIBUTE = "faas_fingerprint"  # where a moto Job keeps what identifies its submission


@PATCHES.patch(
    BatchBackend,
    "create_compute_environment",
    ("self", "compute_environment_name", "_type", "state", "compute_resources", "service_role", "tags"),
)
def create_compute_environment(original: Callable[..., Any], self: BatchBackend, *args: Any, **kwargs: Any) -> Any:
    if not kwargs.get("service_role"):
        kwargs["service_role"] = service_linked_role(self.iam_backend)
    return original(self, *args, **kwargs)


@PATCHES.patch(BatchResponse, "create_job_queue", ("self",))
def create_job_queue(original: Callable[[BatchResponse], str], self: BatchResponse) -> str:
    actions = time_limit_actions(self._get_param("jobStateTimeLimitActions"))
    answer = original(self)
    setattr(self.batch_backend.get_job_queue(json.loads(answer)["jobQueueArn"]), ACTIONS_ATTRIBUTE, actions)
    return answer


@PATCHES.patch(BatchResponse, "update_job_queue", ("self",))
def update_job_queue(original: Callable[[BatchResponse], str], self: BatchResponse) -> str:
    actions = self._get_param("jobStateTimeLimitActions")
    checked = time_limit_actions(actions)
    answer = original(self)
    if actions is not None:
        setattr(self.batch_backend.get_job_queue(json.loads(answer)["jobQueueArn"]), ACTIONS_ATTRIBUTE, checked)
    return answer


@PATCHES.patch(JobQueue, "describe", ("self",))
def describe(original: Callable[[JobQueue], dict[str, Any]], self: JobQueue) -> dict[str, Any]:
    description = original(self)
    if actions := getattr(self, ACTIONS_ATTRIBUTE, []):
        description["jobStateTimeLimitActions"] = actions
    return description


@PATCHES.patch(BatchResponse, "submit_job", ("self",))
def submit_job(original: Callable[[BatchResponse], str], self: BatchResponse) -> str:
    overrides = self._get_param("nodeOverrides")
    answer = original(self)
    if overrides:
        job = self.batch_backend.get_job_by_id(json.loads(answer)["jobId"])
        setattr(job, NODE_OVERRIDES_ATTRIBUTE, overrides)
    return answer


@PATCHES.patch(JobDefinition, "describe", ("self",))
def describe_job_definition(original: Callable[[JobDefinition], dict[str, Any]], self: JobDefinition) -> dict[str, Any]:
    """A multi-node parallel job definition describes its nodeProperties (moto leaves them out)."""
    description = original(self)
    if self.node_properties is not None:
        description["nodeProperties"] = self.node_properties
    return description


@PATCHES.patch(Job, "describe", ("self",))
def describe_job(original: Callable[[Job], dict[str, Any]], self: Job) -> dict[str, Any]:
    description = original(self)
    overrides = getattr(self, NODE_OVERRIDES_ATTRIBUTE, None)
    if overrides and description.get("nodeProperties"):
        description["nodeProperties"] = with_node_overrides(description["nodeProperties"], overrides)
    if self.job_stopped and self.exit_code is not None:  # moto's describe drops it
        description["container"] = {**description.get("container", {}), "exitCode": self.exit_code}
    return description


@PATCHES.patch(BatchSimpleBackend, "_mark_job_as_finished", ("self", "include_start_attempt", "job"))
def queue_job(original: Callable[..., None], self: BatchSimpleBackend, include_start_attempt: bool, job: Job) -> None:
    service = HOOKS.service
    if service is None:  # nothing runs jobs: moto's simple backend marks them SUCCEEDED at once
        original(self, include_start_attempt, job)
        return
    self.backend._jobs[job.job_id] = job
    job.status = JobStatus.RUNNABLE
    # Taken now: moto's describe appends to the job's environment overrides.
    submitted = [job.job_name, job.job_definition.arn, job.job_queue.arn, job.container_overrides]
    setattr(job, FINGERPRINT_ATTRIBUTE, hashlib.sha256(json.dumps(submitted, sort_keys=True).encode()).hexdigest())
    if (end := service.replayed_job(fingerprint(job))) is not None:
        apply_end(job, end)


def fingerprint(job: Job) -> str:
    """What identifies a submission across a replay (moto gives the replayed job a new id)."""
    return str(getattr(job, FINGERPRINT_ATTRIBUTE))


def set_job_state(job_id: str, status: str, reason: str | None = None, exit_code: int | None = None) -> JobEnd | None:
    """Set a job RUNNING (its start) or SUCCEEDED / FAILED (its end, with the reason and its
    container's exit code), as Batch does; a job's end, to be kept for a replay (None while it runs).
    LookupError when no account or region holds the job."""
    job = find_job(job_id)
    now = datetime.now()
    if status == JobStatus.RUNNING:
        job.job_started_at = now
        job.log_stream_name = job._stream_name
        job._start_attempt()
        job.status = status
        return None
    if job.log_stream_name is None:  # it never started
        job.job_started_at = now
    job.exit_code = exit_code
    job.job_stopped_reason = reason
    job._mark_stopped(success=status == JobStatus.SUCCEEDED)
    return JobEnd(fingerprint(job), status, reason, exit_code, millis(job.job_started_at), millis(job.job_stopped_at))


def apply_end(job: Job, end: JobEnd) -> None:
    """A replayed job ends as it ended before."""
    job.job_started_at = datetime.fromtimestamp(end.started_at / 1000)
    job.log_stream_name = job._stream_name
    job._start_attempt()
    job.exit_code = end.exit_code
    job.job_stopped_reason = end.reason
    job._mark_stopped(success=end.status == JobStatus.SUCCEEDED)
    job.job_stopped_at = datetime.fromtimestamp(end.stopped_at / 1000)
    job._stop_attempt()


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def find_job(job_id: str) -> Job:
    for regions in list(batch_backends.values()):
        for backend in list(regions.values()):
            if (job := backend.get_job_by_id(job_id)) is not None:
                return job
    raise LookupError(f"no Batch job {job_id} in the emulator")


def with_node_overrides(properties: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The job definition's nodeProperties with a job's nodeOverrides applied (environment, numNodes)."""
    by_range = {o["targetNodes"]: o.get("containerOverrides") or {} for o in overrides.get("nodePropertyOverrides", [])}
    ranges = []
    for node_range in properties.get("nodeRangeProperties", []):
        container = dict(node_range.get("container") or {})
        override = by_range.get(node_range["targetNodes"], {})
        if "environment" in override:
            environment = {e["name"]: e["value"] for e in container.get("environment", [])}
            environment.update({e["name"]: e["value"] for e in override["environment"]})
            container["environment"] = [{"name": k, "value": v} for k, v in sorted(environment.items())]
        ranges.append({**node_range, "container": container})
    return {**properties, "numNodes": overrides.get("numNodes", properties["numNodes"]), "nodeRangeProperties": ranges}


def service_linked_role(iam: Any) -> str:
    """The ARN of AWSServiceRoleForBatch, created as Batch creates it when the account lacks it."""
    try:
        arn: str = iam.get_role(SERVICE_LINKED_ROLE).arn
        return arn
    except NotFoundException:
        pass
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": BATCH_SERVICE}}],
    }
    role = iam.create_role(
        SERVICE_LINKED_ROLE,
        json.dumps(trust),
        f"/aws-service-role/{BATCH_SERVICE}/",
        permissions_boundary=None,
        description="Allows Batch to create and manage AWS resources on your behalf.",
        tags=[],
        max_session_duration="3600",
        linked_service=BATCH_SERVICE,
    )
    created: str = role.arn
    return created


def time_limit_actions(actions: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The actions as given, or ClientException where AWS refuses them."""
    for action in actions or []:
        if action.get("maxTimeSeconds") not in MAX_TIME_SECONDS:
            raise ClientException("jobStateTimeLimitActions.maxTimeSeconds must be between 600 and 86400")
        if action.get("state") not in STATES or action.get("action") not in ACTIONS or not action.get("reason"):
            raise ClientException("jobStateTimeLimitActions need state RUNNABLE, action CANCEL and a reason")
    return list(actions or [])
