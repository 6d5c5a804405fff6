"""Run Lambda functions deployed as container images, each in its own image, in warm instances.

What was deployed decides everything: the image (its ImageUri, read back and unpacked by
render/local/execution/deployed_images.py), its ImageConfig (entry point, command and working directory
over the image's), the function's environment, memory, timeout, ephemeral storage and
architecture. Instances (render/local/execution/image_runner.py) serve it through Lambda's Runtime API in
the sandbox; a redeployed function gets new instances. Each invocation's log lines, framed by
START/END/REPORT as render/local/execution/lambda_runner.py frames a .zip function's, go to the function's
log group, in its instance's log stream.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from render.aws.connection import Aws
from render.aws.deployed import DeployedFunction
from render.local.execution.deployed_images import LocalImages
from render.local.execution.errors import LocalError
from render.local.execution.image_runner import ImageFunctions, LocalImageFunction
from render.local.execution.lambda_runner import Invocation, end_lines, start_line, timeout_line
from render.local.execution.process import now_ms, put_log
from render.local.execution.role_credentials import RoleCredentials
from render.local.execution.sandbox import Sandbox

TIMED_OUT = "Sandbox.Timedout"


def image_function(function: DeployedFunction, images: LocalImages, credentials: RoleCredentials) -> LocalImageFunction:
    """The function as its instances run it, with its execution role's credentials."""
    config = function.configuration
    image = function.image_uri
    if image is None:
        raise LocalError(f"{function.name} is not deployed as a container image")
    architecture = str((config.get("Architectures") or ["x86_64"])[0])
    overrides = config.get("ImageConfigResponse", {}).get("ImageConfig", {})
    return LocalImageFunction.from_image(
        function.name,
        images.unpacked(image, architecture),
        {**function.environment, **credentials.environment(str(config.get("Role") or ""), function.name)},
        memory_mb=int(config.get("MemorySize", 128)),
        timeout_s=float(config.get("Timeout", 3)),
        ephemeral_mb=int(config.get("EphemeralStorage", {}).get("Size", 512)),
        entry_point=overrides.get("EntryPoint"),
        command=overrides.get("Command"),
        working_dir=overrides.get("WorkingDirectory"),
        arn=str(config["FunctionArn"]),
        revision=f"{image} {config.get('LastModified', '')} {config.get('RevisionId', '')}",
        log_group=function.log_group,
    )


def parse_payload(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")


class ImageLambdaRuntime:
    """Runs invocations of image functions; instances start in `sandbox` (else in the one detected)."""

    def __init__(
        self, aws: Aws, images: LocalImages, sandbox: Callable[[], Sandbox], scratch: Path, max_instances: int
    ) -> None:
        self.aws, self.images, self.scratch = aws, images, scratch
        self.credentials = RoleCredentials(aws)
        self._sandbox, self._max_instances = sandbox, max_instances
        self._lock = threading.Lock()
        self._functions: ImageFunctions | None = None
        self._streams: set[tuple[str, str]] = set()  # the log streams written to already

    def functions(self) -> ImageFunctions:
        with self._lock:
            if self._functions is None:
                environment = self.credentials.environment(None, "")  # region and endpoint: no credentials
                self._functions = ImageFunctions(self._sandbox(), environment, self.scratch, self._max_instances)
            return self._functions

    def close(self) -> None:
        with self._lock:
            if self._functions is not None:
                self._functions.close()

    def invoke(self, function: DeployedFunction, event: Any, echo: Callable[[str], None] | None = None) -> Invocation:
        """Run one invocation to its end; `echo` sees its log lines once it has answered."""
        local = image_function(function, self.images, self.credentials)
        started = now_ms()
        run = self.functions().invoke(local, json.dumps(event).encode())
        payload = parse_payload(run.payload)
        version = str(function.configuration.get("Version", "$LATEST"))
        lines = [(started, start_line(run.request_id, version)), *run.log]
        if run.failed and isinstance(payload, dict) and payload.get("errorType") == TIMED_OUT:
            lines.append((now_ms(), timeout_line(run.request_id, str(payload.get("errorMessage")))))
        lines += [(now_ms(), line) for line in end_lines(run.request_id, run.seconds, local.memory_mb)]
        stream = (local.log_group, run.log_stream)
        with self._lock:
            exists = stream in self._streams
            self._streams.add(stream)
        put_log(self.aws.client("logs"), local.log_group, run.log_stream, lines, exists=exists)
        if echo:
            for _, text in lines:
                echo(text)
        return Invocation(run.request_id, payload, run.failed, run.seconds, run.cold)
