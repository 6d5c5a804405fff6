"""The AWS Batch job (``python -m faas_supervisor`` and the frozen supervisor, see __main__.py).

Reads the function config from FAAS_CONFIG_URI, fetches the script (the config's sibling
object), takes the event from FAAS_EVENT or FAAS_EVENT_URI, then runs the same staging / run /
upload code as Lambda, without a deadline (Batch's own job timeout applies). Exit status: 0 when
every run succeeded, else the first failure's: the script's status (128+N for signal N), or 125
when the supervisor itself failed (configuration, S3). The command, if any, runs when the config
has no script (the image's own command). Every node of a multi-node parallel job runs all of it:
the script tells the nodes apart by Batch's AWS_BATCH_JOB_NODE_INDEX and its siblings.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from . import contract, launch, logs, staging
from .config import FunctionConfig, load_config_bytes
from .credentials import StorageClients
from .environment import base_environment
from .errors import SUPERVISOR_FAILURE, ConfigError, SupervisorError
from .events import S3Object, parse_event
from .execute import run_item

log = logging.getLogger(__name__)


def _event_from_env() -> Any:
    if contract.EVENT in os.environ:
        text = os.environ[contract.EVENT]
    elif os.environ.get(contract.EVENT_URI):
        text = staging.read_bytes(staging.parse_s3_uri(os.environ[contract.EVENT_URI])).decode("utf-8")
    else:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # not ours (we always send JSON): treat it as raw input


def _load_config() -> tuple[FunctionConfig, S3Object]:
    uri = os.environ.get(contract.CONFIG_URI)
    if not uri:
        raise ConfigError(f"{contract.CONFIG_URI} is not set (the job definition sets it)")
    obj = staging.parse_s3_uri(uri)
    return load_config_bytes(staging.read_bytes(obj), uri), obj


def _exit_status(returncode: int | None) -> int:
    if returncode is None:
        return SUPERVISOR_FAILURE
    return 128 - returncode if returncode < 0 else returncode


def run_job(command: Sequence[str]) -> int:
    job_id = os.environ.get("AWS_BATCH_JOB_ID") or f"local-{uuid.uuid4()}"
    config, config_obj = _load_config()
    logs.configure(config.effective_log_level())
    event = _event_from_env()
    parsed = parse_event(event)
    origin = os.environ.get(contract.SOURCE_REQUEST_ID)
    log.info(
        "job %s: function %s%s: %s",
        job_id,
        config.name,
        f" (from request {origin})" if origin else "",
        parsed.describe(),
    )
    if log.isEnabledFor(logging.DEBUG):
        log.debug("job %s: event %s", job_id, json.dumps(logs.redact(event), default=str))
    if contract.NODE_INDEX in os.environ:  # a multi-node parallel job: every node runs the whole job
        log.info(
            "job %s: node %s of %s (main node %s)",
            job_id,
            os.environ[contract.NODE_INDEX],
            os.environ.get(contract.NUM_NODES, "?"),
            os.environ.get(contract.MAIN_NODE_INDEX, "?"),
        )
    for reason in parsed.skipped:
        log.info("job %s: skipped %s", job_id, reason)

    scratch = Path(tempfile.mkdtemp(prefix="faas-script-"))
    try:
        script = None
        if config.script:
            parent = str(PurePosixPath(config_obj.key).parent)
            key = config.script if parent in ("", ".") else f"{parent}/{config.script}"
            script = staging.download(S3Object(config_obj.bucket, key), scratch / config.script)
        elif not command:
            raise ConfigError("the function has no script and the job was given no command to run")
        base = base_environment(os.environ)
        status, uploaded = 0, 0
        with StorageClients(config.storage_providers) as storage:  # other accounts' keys, for this job
            for item in parsed.items:
                outcome = run_item(
                    item,
                    parsed,
                    config,
                    request_id=job_id,
                    launcher=lambda workdir, env: launch.direct(script, command, base, env),
                    timeout=lambda: None,
                    storage=storage,
                )
                uploaded += len(outcome.uploaded)
                if not outcome.ok:
                    log.error("job %s: %s", job_id, outcome.failure_message(config.name))
                    result = outcome.result
                    own = _exit_status(result.returncode) if outcome.error is None and result else SUPERVISOR_FAILURE
                    status = status or own
        if status == 0:
            log.info("job %s: done, %d run(s), %d object(s) uploaded", job_id, len(parsed.items), uploaded)
        return status
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(command: Sequence[str]) -> int:
    logs.configure(os.environ.get(contract.LOG_LEVEL, "INFO"))
    try:
        return run_job(command)
    except SupervisorError as exc:
        log.error("job %s: %s", os.environ.get("AWS_BATCH_JOB_ID", "(local)"), exc)
        return SUPERVISOR_FAILURE
