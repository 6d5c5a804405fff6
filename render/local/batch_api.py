"""What the emulator's Batch (moto) lacks of AWS's API that the batch module uses.

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

SERVICE_LINKED_ROLE = "AWSServiceRoleForBatch"
BATCH_SERVICE = "batch.amazonaws.com"
# AWS's limits of a JobStateTimeLimitAction (API reference, JobStateTimeLimitAction).
MAX_TIME_SECONDS = range(600, 86400 + 1)
STATES = ("RUNNABLE",)
ACTIONS = ("CANCEL",)
ACTIONS_ATTRIBUTE = "faas_time_limit_actions"  # where a moto JobQueue keeps them


def install() -> Callable[[], None]:
    """Patch moto's Batch; the returned callable undoes it."""
    from moto.batch.models import BatchBackend, JobQueue
    from moto.batch.responses import BatchResponse

    originals: list[tuple[Any, str, Any]] = [
        (BatchBackend, "create_compute_environment", BatchBackend.create_compute_environment),
        (BatchResponse, "createjobqueue", BatchResponse.createjobqueue),
        (BatchResponse, "updatejobqueue", BatchResponse.updatejobqueue),
        (JobQueue, "describe", JobQueue.describe),
    ]
    create_environment, create_queue, update_queue, describe_queue = (o[2] for o in originals)

    def create_compute_environment(self: BatchBackend, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("service_role"):
            kwargs["service_role"] = service_linked_role(self.iam_backend)
        return create_environment(self, *args, **kwargs)

    def createjobqueue(self: BatchResponse) -> str:
        actions = time_limit_actions(self._get_param("jobStateTimeLimitActions"))
        answer: str = create_queue(self)
        setattr(self.batch_backend.get_job_queue(json.loads(answer)["jobQueueArn"]), ACTIONS_ATTRIBUTE, actions)
        return answer

    def updatejobqueue(self: BatchResponse) -> str:
        actions = self._get_param("jobStateTimeLimitActions")
        checked = time_limit_actions(actions)
        answer: str = update_queue(self)
        if actions is not None:
            setattr(self.batch_backend.get_job_queue(json.loads(answer)["jobQueueArn"]), ACTIONS_ATTRIBUTE, checked)
        return answer

    def describe(self: JobQueue) -> dict[str, Any]:
        description: dict[str, Any] = describe_queue(self)
        actions = getattr(self, ACTIONS_ATTRIBUTE, [])
        if actions:
            description["jobStateTimeLimitActions"] = actions
        return description

    BatchBackend.create_compute_environment = create_compute_environment  # type: ignore[method-assign]
    BatchResponse.createjobqueue = createjobqueue  # type: ignore[method-assign]
    BatchResponse.updatejobqueue = updatejobqueue  # type: ignore[method-assign]
    JobQueue.describe = describe  # type: ignore[method-assign]

    def restore() -> None:
        for owner, name, original in originals:
            setattr(owner, name, original)

    return restore


def service_linked_role(iam: Any) -> str:
    """The ARN of AWSServiceRoleForBatch, created as Batch creates it when the account lacks it."""
    from moto.iam.exceptions import NotFoundException

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
    from moto.batch.exceptions import ClientException

    for action in actions or []:
        if action.get("maxTimeSeconds") not in MAX_TIME_SECONDS:
            raise ClientException("jobStateTimeLimitActions.maxTimeSeconds must be between 600 and 86400")
        if action.get("state") not in STATES or action.get("action") not in ACTIONS or not action.get("reason"):
            raise ClientException("jobStateTimeLimitActions need state RUNNABLE, action CANCEL and a reason")
    return list(actions or [])
