"""moto's S3: what an object's bucket notification triggers goes to the emulator's service.

moto's S3 notifications run Lambda functions through Docker whatever `lambda.use_docker` says
(with a Docker daemon every function would run twice; without one, "error running docker" lands in
its log group), and no setting turns that off: the hook is replaced, and runs nothing when the
emulator has no service (`faas put` and `faas invoke` run the functions then).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.s3 import notifications

from render.local.moto.hooks import HOOKS
from render.local.moto.patch import Patches

PATCHES = Patches()


@PATCHES.patch(notifications, "_invoke_awslambda", ("account_id", "event_body", "fn_arn", "region_name"))
def invoke_awslambda(
    original: Callable[..., None], account_id: str, event_body: dict[str, Any], fn_arn: str, region_name: str
) -> None:
    if HOOKS.service is not None:
        HOOKS.service.triggered(account_id, event_body, fn_arn, region_name)
