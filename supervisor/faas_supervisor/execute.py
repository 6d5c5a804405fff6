"""Run one work item: stage its input, run the script, upload the outputs (Lambda and Batch).

Outputs are uploaded only when the script exits 0: a failed or killed run uploads nothing, so a
downstream function in a workflow never sees partial results (SCAR uploaded them).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import launch, runner, staging
from .config import FunctionConfig
from .environment import script_environment
from .events import ParsedEvent, WorkItem

log = logging.getLogger(__name__)

# Given the work dir and the variables we add, return what to execute.
Launcher = Callable[[Path, Mapping[str, str]], launch.Launch]


@dataclass
class Outcome:
    item: WorkItem
    result: runner.RunResult
    uploaded: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result.ok

    def failure_message(self, function: str) -> str:
        what = f"function {function}"
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
) -> Outcome:
    """`timeout()` is called right before the script starts (time left until the deadline)."""
    workdir = Path(tempfile.mkdtemp(prefix="faas-"))
    try:
        input_dir, output_dir = workdir / "input", workdir / "output"
        input_dir.mkdir()
        output_dir.mkdir()
        input_path = _stage_input(item, input_dir, s3)
        model = {
            "TMP_INPUT_DIR": str(input_dir),
            "TMP_OUTPUT_DIR": str(output_dir),
            "EVENT": parsed.raw_json,
            "REQUEST_ID": request_id,
        }
        if input_path is not None:
            model["INPUT_FILE_PATH"] = str(input_path)
        if item.object_key is not None:
            model["STORAGE_OBJECT_KEY"] = item.object_key
        if item.event_time:
            model["EVENT_TIME"] = str(item.event_time)
        env = script_environment(model, config.environment, parsed.extra_env)
        what = launcher(workdir, env)
        log.debug("running %s in %s", what.description, workdir)
        result = runner.run(what.argv, env=what.env, cwd=workdir, timeout=timeout())
        outcome = Outcome(item, result)
        if result.ok:
            log.debug("script finished in %.1f s", result.duration)
            outcome.uploaded = staging.upload_outputs(output_dir, config.outputs, s3)
        return outcome
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
