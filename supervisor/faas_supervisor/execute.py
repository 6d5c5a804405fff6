"""Run one work item: stage its input, run the script, upload the outputs (Lambda and Batch).

Outputs are uploaded only when the script exits 0: a failed or killed run uploads nothing, so a
downstream function in a workflow never sees partial results (SCAR uploaded them). A failure of
the supervisor itself (input missing, S3 refusing an upload) ends the item, not the event: the
Outcome carries the error and the caller goes on with the next item.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import launch, runner, staging
from .config import FunctionConfig
from .credentials import StorageClients
from .environment import script_environment
from .errors import SupervisorError
from .events import ParsedEvent, WorkItem

log = logging.getLogger(__name__)

# Given the work dir and the variables we add, return what to execute.
Launcher = Callable[[Path, Mapping[str, str]], launch.Launch]

# $EVENT holds the event only up to this size: one environment string may not exceed 128 KiB
# (MAX_ARG_STRLEN) and all of them together about 2 MiB. The whole event is always in
# $EVENT_FILE_PATH.
EVENT_ENV_LIMIT = 64 * 1024
EVENT_FILE_NAME = "event.json"


@dataclass
class Outcome:
    item: WorkItem
    result: runner.RunResult | None  # None when the script did not run to its end (see error)
    uploaded: list[str] = field(default_factory=list)
    error: SupervisorError | None = None  # the supervisor's own failure (S3, start-up)

    @property
    def ok(self) -> bool:
        return self.error is None and self.result is not None and self.result.ok

    @property
    def timed_out(self) -> bool:
        return self.result is not None and self.result.timed_out

    def failure_message(self, function: str) -> str:
        what = f"function {function}"
        if self.error is not None or self.result is None:
            text = str(self.error)
            if self.item.source and self.item.source.uri not in text:
                what += f" on {self.item.source.uri}"
            return f"{what}: {text}"
        if self.item.source:
            what += f" on {self.item.source.uri}"
        res = self.result
        if res.timed_out:
            head = f"{what}: script killed at the deadline after {res.duration:.1f} s; nothing uploaded"
        elif res.returncode is not None and res.returncode < 0:
            head = f"{what}: script killed by signal {-res.returncode}; nothing uploaded"
        else:
            head = f"{what}: script exited with status {res.returncode}; nothing uploaded"
        tail = res.stderr_tail.strip()
        return f"{head}\n--- stderr (tail) ---\n{tail}" if tail else f"{head} (no stderr output)"


def _stage_input(item: WorkItem, input_dir: Path, s3: Any | None) -> Path | None:
    if item.source is not None:
        dest = staging.stage_input_path(input_dir, item.source.key)
        return staging.download(item.source, dest, s3)
    if item.body is not None:
        dest = input_dir / item.body_name
        dest.write_bytes(item.body)
        return dest
    return None


def run_item(
    item: WorkItem,
    parsed: ParsedEvent,
    config: FunctionConfig,
    *,
    request_id: str,
    launcher: Launcher,
    timeout: Callable[[], float | None],
    s3: Any | None = None,
    storage: StorageClients | None = None,
) -> Outcome:
    """`timeout()` is called right before the script starts (time left until the deadline).

    `storage`: the other accounts' S3 clients of the invocation or job (one for this item alone
    when None).
    """
    own_storage = None
    if storage is None:
        storage = own_storage = StorageClients(config.storage_providers)
    workdir = Path(tempfile.mkdtemp(prefix="faas-"))
    result: runner.RunResult | None = None
    try:
        input_dir, output_dir = workdir / "input", workdir / "output"
        input_dir.mkdir()
        output_dir.mkdir()
        input_path = _stage_input(item, input_dir, s3)
        event_file = workdir / EVENT_FILE_NAME
        event_file.write_text(parsed.raw_json, encoding="utf-8")
        model = {
            "TMP_INPUT_DIR": str(input_dir),
            "TMP_OUTPUT_DIR": str(output_dir),
            "EVENT_FILE_PATH": str(event_file),
            "REQUEST_ID": request_id,
        }
        event_size = len(parsed.raw_json.encode("utf-8"))
        if event_size <= EVENT_ENV_LIMIT:
            model["EVENT"] = parsed.raw_json
        else:
            log.info("event of %d bytes: too large for $EVENT, given in $EVENT_FILE_PATH only", event_size)
        if input_path is not None:
            model["INPUT_FILE_PATH"] = str(input_path)
        if item.object_key is not None:
            model["STORAGE_OBJECT_KEY"] = item.object_key
        if item.event_time:
            model["EVENT_TIME"] = str(item.event_time)
        env = script_environment(model, config.environment_from, os.environ, parsed.extra_env)
        what = launcher(workdir, env)
        log.debug("running %s in %s", what.description, workdir)
        result = runner.run(what.argv, env=what.env, cwd=workdir, timeout=timeout())
        outcome = Outcome(item, result)
        if result.ok:
            log.debug("script finished in %.1f s", result.duration)
            outcome.uploaded = staging.upload_outputs(output_dir, config.outputs, s3, storage)
        return outcome
    except SupervisorError as exc:
        return Outcome(item, result, error=exc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if own_storage is not None:
            own_storage.close()
