"""Run a deployed Lambda function on this machine the way the Lambda service runs it.

What was deployed decides everything: the handler string, the code (the zip the caller supplies,
verified against the deployed CodeSha256), the function's environment variables, its timeout and
memory size. The handler runs in a child process of this Python (which has boto3, as the Lambda
runtime does) through render/local/execution/lambda_bootstrap.py, with the environment Lambda sets
(LAMBDA_TASK_ROOT = the unpacked zip, AWS_LAMBDA_FUNCTION_NAME, ...) and the caller's credentials
and endpoint (and FAAS_REGISTRY_MIRROR when local mode has one: the image builder is such a
function). Its log, framed by START/END/REPORT lines (`start_line`, `end_lines`, which image
functions share), goes to the function's log group.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from render.aws.connection import Aws
from render.aws.deployed import DeployedFunction
from render.local.execution import lambda_bootstrap
from render.local.execution.process import LOGGED, Log, now_ms, put_log, run_logged


@dataclass(frozen=True)
class Invocation:
    request_id: str
    payload: Any  # what the handler returned, or Lambda's error document
    failed: bool  # the handler raised, or was killed at the timeout
    seconds: float
    cold: bool = False  # a new instance was started for it (always, for a .zip function run here)

    @property
    def error_message(self) -> str:
        return str(self.payload.get("errorMessage", "")) if self.failed and isinstance(self.payload, dict) else ""


def log_stream_name(version: str) -> str:
    """Lambda's stream naming: date, version, a random instance id."""
    return time.strftime("%Y/%m/%d/", time.gmtime()) + f"[{version}]{uuid.uuid4().hex}"


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def timeout_line(request_id: str, message: str) -> str:
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())} {request_id} {message}"


def end_lines(request_id: str, seconds: float, memory_mb: object) -> list[str]:
    return [
        f"END RequestId: {request_id}",
        f"REPORT RequestId: {request_id}\tDuration: {seconds * 1000:.2f} ms\tMemory Size: {memory_mb} MB",
    ]


class LambdaRuntime:
    """Runs invocations; each code version is unpacked once into `workdir`.

    `code` gives a function's deployment package, checked against its CodeSha256; `extra_env`
    is added to every function's environment.
    """

    def __init__(
        self,
        aws: Aws,
        code: Callable[[DeployedFunction], bytes],
        workdir: Path,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.aws = aws
        self.code = code
        self._unpacking = threading.Lock()
        self.workdir = workdir
        self.extra_env = dict(extra_env or {})

    def task_root(self, function: DeployedFunction) -> Path:
        digest = str(function.configuration["CodeSha256"]).replace("/", "_")
        target = self.workdir / "lambda" / f"{function.name}-{digest}"
        with self._unpacking:  # invocations run side by side: one unpacks, the others wait for it
            if not target.is_dir():
                target.parent.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=target.parent))  # no half-unpacked target
                with zipfile.ZipFile(io.BytesIO(self.code(function))) as archive:
                    archive.extractall(staging)
                staging.rename(target)
        return target

    def environment(self, function: DeployedFunction, task_root: Path, stream: str) -> dict[str, str]:
        config = function.configuration
        version = str(config.get("Version", "$LATEST"))
        runtime = str(config.get("Runtime", ""))
        return {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            **function.environment,
            # Set by Lambda itself, so they win over the function's variables.
            "_HANDLER": str(config["Handler"]),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": function.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(Path(lambda_bootstrap.__file__).parent),
            **self.aws.process_environment(),
            **self.extra_env,
        }

    def invoke(self, function: DeployedFunction, event: Any, echo: Callable[[str], None] | None = None) -> Invocation:
        """Run one invocation to its end; `echo` sees its log lines as they come."""
        config = function.configuration
        task_root = self.task_root(function)
        request_id = str(uuid.uuid4())
        stream = log_stream_name(str(config.get("Version", "$LATEST")))
        timeout = float(config.get("Timeout", 3))
        scratch = self.workdir / "invocations" / request_id
        scratch.mkdir(parents=True)
        (scratch / "event.json").write_text(json.dumps(event))
        response_file = scratch / "response.json"
        deadline_ms = now_ms() + int(timeout * 1000)
        log = Log(echo)
        log.add(start_line(request_id, str(config.get("Version", "$LATEST"))))
        argv = [
            sys.executable,
            "-u",
            lambda_bootstrap.__file__,
            str(scratch / "event.json"),
            str(response_file),
            request_id,
            str(deadline_ms),
            str(config["FunctionArn"]),
        ]
        environment = self.environment(function, task_root, stream)
        process = subprocess.Popen(argv, env=environment, cwd=scratch, start_new_session=True, **LOGGED)
        finished = run_logged(process, log, timeout=timeout)
        if finished.timed_out:
            message = f"Task timed out after {timeout:.2f} seconds"
            log.add(timeout_line(request_id, message))
            payload: Any = {"errorMessage": message, "errorType": "Sandbox.Timedout"}
        elif response_file.is_file():
            payload = json.loads(response_file.read_text())
        else:
            payload = {
                "errorMessage": f"the runtime exited with status {finished.returncode} before answering",
                "errorType": "Runtime.ExitError",
            }
        for line in end_lines(request_id, finished.seconds, config.get("MemorySize", 128)):
            log.add(line)
        put_log(self.aws.client("logs"), function.log_group, stream, log.lines)
        failed = finished.timed_out or finished.returncode != 0
        return Invocation(request_id, payload, failed, finished.seconds, cold=True)
