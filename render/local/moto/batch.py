"""moto's Batch: what it lacks of AWS's API that the batch module uses.

- A compute environment without `serviceRole` uses Batch's service-linked role, as on AWS (moto
  refuses it: "ServiceRole is required"); the role is created when the account lacks it.
- Job queues keep the `jobStateTimeLimitActions` they are given, within AWS's limits, and
  describe them (moto drops them, and the aws provider would then plan to add them after every
  apply). Nothing cancels a stuck job here: moto's jobs never wait for capacity.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.batch.exceptions import ClientException
from moto.batch.models import BatchBackend, JobQueue
from moto.batch.responses import BatchResponse
from moto.iam.exceptions import NotFoundException

from render.local.moto.patch import Patches

PATCHES = Patches()
SERVICE_LINKED_ROLE = "AWSServiceRoleForBatch"
BATCH_SERVICE = "batch.amazonaws.com"
# AWS's limits of a JobStateTimeLimitAction (API reference, JobStateTimeLimitAction).
MAX_TIME_SECONDS = range(600, 86400 + 1)
STATES = ("RUNNABLE",)
ACTIONS = ("CANCEL",)
ACTIONS_ATTRIBUTE = "faas_time_limit_actions"  # where a moto JobQueue keeps them


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
