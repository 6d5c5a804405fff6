"""AWS Lambda entry point: ``faas_supervisor.lambda_function.lambda_handler``.

Modes (function_config.json ``execution_mode``):
- ``lambda``: run the script for each work item within the remaining time minus the threshold;
- ``lambda-batch``: the same, but at the deadline kill the script, upload nothing and submit the
  unfinished items to Batch; the response says ``"status": "delegated"`` with the job id(s);
- ``batch``: submit the event to Batch at once and answer with the job id.
A failing script makes the invocation fail (ScriptFailed, with the exit status and stderr tail);
a failure of the supervisor itself on one item (input object missing, S3 refusing an upload)
fails it with that error's class (StorageError, ...) once the other items have run.

The same handler serves the Lambda zip (the Python runtime calls it) and the container image whose
entry point is the supervisor (runtime_api.py calls it after ``enter_image``).
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import launch, logs
from .batch_submit import BatchSettings, Submission, submit_event
from .config import CONFIG_FILE_NAME, FunctionConfig, load_lambda_config, task_root
from .credentials import StorageClients
from .environment import base_environment
from .errors import ConfigError, ScriptFailed, SupervisorError
from .events import ParsedEvent, parse_event
from .execute import Launcher, Outcome, run_item

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _cached_config(root: str, mtime_ns: int) -> FunctionConfig:
    return load_lambda_config(Path(root))


def current_config(root: Path) -> FunctionConfig:
    """function_config.json of this deployment, read once per Lambda instance."""
    try:
        mtime = (root / CONFIG_FILE_NAME).stat().st_mtime_ns
    except OSError:
        mtime = 0  # load_lambda_config reports the error
    return _cached_config(str(root), mtime)


# The image's own command when the supervisor is the image's entry point (see enter_image);
# None in a Lambda zip (a function without an image, or a batch function's submitter).
_image_command: tuple[str, ...] | None = None


def enter_image(command: Sequence[str]) -> None:
    """Once per instance, before the first invocation, when the supervisor is the image's entry point.

    Reads and checks the function config and finds what to run: the script, else `command`
    (the image's own command). Invocations then run it directly, since we are inside the image.
    """
    global _image_command
    root = task_root()
    config = current_config(root)
    nothing_to_run = _script(config, root) is None and not command
    if nothing_to_run and config.execution_mode != "batch":  # batch mode only submits jobs
        raise ConfigError("the function has no script and the image entry point was given no command: nothing to run")
    _image_command = tuple(command)


def _script(config: FunctionConfig, root: Path) -> Path | None:
    script = root / config.script if config.script else None
    if script is not None and not script.is_file():
        raise ConfigError(f"the function's script {script} is missing from the deployment package")
    return script


def _launcher(config: FunctionConfig, root: Path) -> Launcher:
    script = _script(config, root)
    base = base_environment(os.environ)
    if _image_command is not None:
        command = _image_command
        return lambda workdir, env: launch.direct(script, command, base, env)
    if script is None:
        raise ConfigError("the function has no script: nothing to run")
    return lambda workdir, env: launch.direct(script, (), base, env)


def _respond(parsed: ParsedEvent, result: dict[str, Any]) -> Any:
    """API Gateway proxy integrations need {statusCode, body}; others get the result itself."""
    if parsed.kind != "apigateway":
        return result
    code = 202 if result["status"] in ("submitted", "delegated") else 200
    return {
        "statusCode": code,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(result),
    }


def _remaining_seconds(context: Any) -> float | None:
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return getter() / 1000.0 if callable(getter) else None


def _delegate(
    parsed: ParsedEvent, first_pending: int, config: FunctionConfig, request_id: str, settings: BatchSettings
) -> list[Submission]:
    pending = parsed.items[first_pending:]
    subs = []
    for n, item in enumerate(pending):
        rid = request_id if len(pending) == 1 else f"{request_id}-{first_pending + n}"
        subs.append(submit_event(item.own_event, function_name=config.name, request_id=rid, settings=settings))
    return subs


def _failure(failed: list[Outcome], config: FunctionConfig, note: str = "") -> Exception:
    """The exception that fails the invocation: the first failure's class and message."""
    first = failed[0]
    message = first.failure_message(config.name) + note
    if first.error is not None:
        error: Exception = type(first.error)(message)
        return error if isinstance(error, SupervisorError) else SupervisorError(message)
    return ScriptFailed(message)


def lambda_handler(event: Any, context: Any) -> Any:
    root = task_root()
    config = current_config(root)
    logs.configure(config.effective_log_level())
    request_id = str(getattr(context, "aws_request_id", "") or f"local-{uuid.uuid4()}")
    parsed = parse_event(event)
    log.info("request %s: function %s (%s): %s", request_id, config.name, config.execution_mode, parsed.describe())
    if log.isEnabledFor(logging.DEBUG):
        log.debug("request %s: event %s", request_id, json.dumps(logs.redact(event), default=str))
    for reason in parsed.skipped:
        log.info("request %s: skipped %s", request_id, reason)

    if config.execution_mode == "batch":
        sub = submit_event(event, function_name=config.name, request_id=request_id, settings=BatchSettings.from_env())
        return _respond(parsed, {"status": "submitted", "request_id": request_id, **sub.as_dict()})
    if not parsed.items:
        return _respond(
            parsed,
            {
                "status": "ignored",
                "request_id": request_id,
                "reason": f"{parsed.kind} event with nothing to process",
            },
        )

    settings = BatchSettings.from_env() if config.execution_mode == "lambda-batch" else None
    remaining = _remaining_seconds(context)
    threshold = config.effective_timeout_threshold()
    deadline = None if remaining is None else time.monotonic() + remaining - threshold
    if remaining is not None:
        log.debug(
            "request %s: deadline in %.1f s (remaining %.1f s minus threshold %.1f s)",
            request_id,
            remaining - threshold,
            remaining,
            threshold,
        )
    launcher = _launcher(config, root)

    def time_left() -> float | None:
        return None if deadline is None else deadline - time.monotonic()

    outcomes: list[Outcome] = []
    # Other accounts' keys: read when first needed, forgotten when the invocation ends.
    with StorageClients(config.storage_providers) as storage:
        for index, item in enumerate(parsed.items):
            outcome = run_item(
                item, parsed, config, request_id=request_id, launcher=launcher, timeout=time_left, storage=storage
            )
            outcomes.append(outcome)
            if outcome.timed_out:
                if settings is not None:
                    log.info(
                        "request %s: deadline reached: script killed, nothing uploaded, delegating to Batch",
                        request_id,
                    )
                    subs = _delegate(parsed, index, config, request_id, settings)
                    failed = [o for o in outcomes[:-1] if not o.ok]
                    if failed:
                        jobs = ", ".join(s.job_id for s in subs)
                        raise _failure(failed, config, f"\n(unfinished items delegated to Batch job(s) {jobs})")
                    result = {
                        "status": "delegated",
                        "request_id": request_id,
                        **subs[0].as_dict(),
                        "job_ids": [s.job_id for s in subs],
                        "uploaded": [u for o in outcomes for u in o.uploaded],
                    }
                    return _respond(parsed, result)
                break  # lambda mode: no time left for the other items
    failed = [o for o in outcomes if not o.ok]
    if failed:  # (a run cut short by the deadline is among them)
        note = ""
        skipped = len(parsed.items) - len(outcomes)
        if skipped:
            note += f"\n({skipped} more item(s) not processed: no time left)"
        if len(outcomes) > 1:
            note += f"\n({len(failed)} of {len(outcomes)} runs failed)"
        error = _failure(failed, config, note)
        log.error("request %s: %s", request_id, error)
        raise error
    uploaded = [u for o in outcomes for u in o.uploaded]
    log.info("request %s: done, %d run(s), %d object(s) uploaded", request_id, len(outcomes), len(uploaded))
    result = {"status": "succeeded", "request_id": request_id, "runs": len(outcomes), "uploaded": uploaded}
    # What the script or the image's command printed, as SCAR answers it (e.g. cowsay's cow).
    result["output"] = "".join(o.result.stdout for o in outcomes if o.result)
    return _respond(parsed, result)
