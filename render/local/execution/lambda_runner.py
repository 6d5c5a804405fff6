"""Run a deployed Lambda function on this machine the way the Lambda service runs it.

What was deployed decides everything: the handler string, the code (the zip the caller supplies,
verified against the deployed CodeSha256), the function's environment variables, its timeout,
memory size and ephemeral storage. The handler runs on this host's Python (which has boto3, as the
Lambda runtime does) through render/local/execution/lambda_bootstrap.py, in the sandbox image
functions run in, with the same bounds and network namespace (which also relays local mode's
registry mirror: the image builder is such a function): its root holds this Python, read-only, the
unpacked zip as /var/task and nothing else of the host (zip_root.py). Its environment is the one
Lambda sets (LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME, ...) with its role's credentials and the
emulator's endpoint. Only `faas local --on-host` (the ON_HOST sandbox) runs it as a plain child
process of this host, with the host's paths. Its log, framed by START/END/REPORT lines
(`start_line`, `end_lines`, which image functions share), goes to the function's log group.
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
from typing import IO, Any

from render.aws.connection import Aws
from render.aws.deployed import DeployedFunction
from render.local.execution import lambda_bootstrap
from render.local.execution.network import Network
from render.local.execution.process import Log, now_ms, put_log, run_logged
from render.local.execution.role_credentials import RoleCredentials
from render.local.execution.sandbox import ON_HOST, RunSpec, Sandbox
from render.local.execution.zip_root import BOOTSTRAP, RUNTIME_DIR, TASK_ROOT, invocation_binds, make_root, readable

MAX_RESPONSE_BYTES = 6_291_556  # Lambda's bound on a synchronous invocation's response
CHUNK = 65536


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


@dataclass(frozen=True)
class Run:
    """One invocation's process, as the host sees it."""

    function: DeployedFunction
    task_root: Path  # the unpacked zip
    stream: str  # its log stream
    scratch: Path  # its folder (the event; /tmp's backing)
    arguments: list[str]  # the bootstrap's


class LambdaRuntime:
    """Runs invocations in `sandbox` (else in the one detected); each code version is unpacked once into `workdir`.

    `code` gives a function's deployment package, checked against its CodeSha256; `extra_env`
    is added to every function's environment.
    """

    def __init__(
        self,
        aws: Aws,
        code: Callable[[DeployedFunction], bytes],
        workdir: Path,
        sandbox: Callable[[], Sandbox],
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.aws = aws
        self.credentials = RoleCredentials(aws)
        self.code = code
        self._unpacking = threading.Lock()
        self.workdir = workdir
        self._sandbox = sandbox
        self._root: Path | None = None
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
                readable(staging)  # the sandbox's user runs it
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
            **self.credentials.environment(str(config.get("Role") or ""), function.name),  # its execution role's
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
        deadline_ms = now_ms() + int(timeout * 1000)
        log = Log(echo)
        log.add(start_line(request_id, str(config.get("Version", "$LATEST"))))
        run = Run(function, task_root, stream, scratch, [request_id, str(deadline_ms), str(config["FunctionArn"])])
        sandbox = self._sandbox()
        # Relays only local mode's own endpoint and registry mirror, never a function's.
        local = self.credentials.environment(None, "")
        network = None if sandbox is ON_HOST else sandbox.own_network(local, self.extra_env.values())
        try:
            with (scratch / "event.json").open("rb") as event_file:
                process = self._start(sandbox, run, network, event_file)
            response = _Response(process)
            finished = run_logged(process, log, timeout=timeout, output=process.stderr)
            body = response.body()
        finally:
            if network:
                network.close()
        failed = finished.timed_out or finished.returncode != 0
        if finished.timed_out:
            message = f"Task timed out after {timeout:.2f} seconds"
            log.add(timeout_line(request_id, message))
            payload: Any = {"errorMessage": message, "errorType": "Sandbox.Timedout"}
        elif len(body) > MAX_RESPONSE_BYTES:
            failed = True
            payload = {
                "errorMessage": "Response payload size exceeded maximum allowed payload size "
                f"({MAX_RESPONSE_BYTES} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }
        else:
            payload = _parsed(body, finished.returncode)
        for line in end_lines(request_id, finished.seconds, config.get("MemorySize", 128)):
            log.add(line)
        put_log(self.aws.client("logs"), function.log_group, stream, log.lines)
        return Invocation(request_id, payload, failed, finished.seconds, cold=True)

    def _start(self, sandbox: Sandbox, run: Run, network: Network | None, event: IO[bytes]) -> subprocess.Popen[bytes]:
        """The bootstrap started for `run`, its event on stdin, its response on stdout, its log on stderr."""
        streams: dict[str, Any] = {"stdin": event, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        if sandbox is ON_HOST:  # --on-host: a child process of this host, with the host's paths
            argv = [sys.executable, "-u", lambda_bootstrap.__file__, *run.arguments]
            environment = self.environment(run.function, run.task_root, run.stream)
            return subprocess.Popen(argv, env=environment, cwd=run.scratch, start_new_session=True, **streams)
        with self._unpacking:
            if self._root is None:
                self._root = make_root(self.workdir)
        config = run.function.configuration
        environment = self.environment(run.function, Path(TASK_ROOT), run.stream)
        (run.scratch / "tmp").mkdir()
        spec = RunSpec(
            self._root,
            [sys.executable, "-u", BOOTSTRAP, *run.arguments],
            {**environment, "LAMBDA_RUNTIME_DIR": RUNTIME_DIR},  # the paths as seen inside
            run.scratch / "tmp",
            TASK_ROOT,
            int(config.get("EphemeralStorage", {}).get("Size", 512)),
            int(config.get("MemorySize", 128)),
            network=network,
            binds=invocation_binds(run.task_root),
        )
        return sandbox.start(spec, cwd=run.scratch, **streams)


class _Response:
    """The response a run writes on its stdout, read as it comes (at most MAX_RESPONSE_BYTES and one
    more are kept; the rest is read and dropped, so the run never blocks on it)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self._stream = process.stdout
        self._kept = b""
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        self._kept = self._stream.read(MAX_RESPONSE_BYTES + 1)
        while self._stream.read(CHUNK):
            pass

    def body(self) -> bytes:
        """Once the run has ended: what it wrote (nothing when a process it left holds the stream)."""
        self._thread.join(timeout=5)
        return self._kept if not self._thread.is_alive() else b""


def _parsed(body: bytes, returncode: int) -> Any:
    """The handler's result or error document, or Lambda's error when the runtime gave none."""
    try:
        return json.loads(body)
    except ValueError:
        return {
            "errorMessage": f"the runtime exited with status {returncode} before answering",
            "errorType": "Runtime.ExitError",
        }
