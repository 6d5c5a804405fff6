"""Run Lambda functions deployed as images, from their unpacked root folders, the way Lambda does.

An instance is the image's entry point and command in a sandbox (render/local/execution/sandbox.py) with a
read-only root, a /tmp of the function's ephemeral storage size, the image's and the function's
environment plus what Lambda sets, and its own Runtime API server (render/local/execution/runtime_api.py).
Instances stay warm, at most `max_instances` per function, and stop after `idle_s` unused. An
invocation past the function's timeout kills its instance and fails with Lambda's timeout error;
one whose instance went over its memory bound (a cgroup, as root) does the same with Lambda's
out-of-memory error.
An instance's output (stdout and stderr, one stream of timestamped lines) is read as it comes;
each invocation takes the lines written since the previous one ended, up to its answer (a cold
start's first invocation also gets the initialisation's), with the instance's log stream name.
A function's instances serve only invocations of the same `revision` (a redeployment starts new ones).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from render.local.execution.cgroups import SandboxProcess
from render.local.execution.lambda_runner import log_stream_name
from render.local.execution.network import Network
from render.local.execution.output_lines import OutputLines
from render.local.execution.rootfs import UnpackedImage
from render.local.execution.runtime_api import Pending, RuntimeApi
from render.local.execution.sandbox import RunSpec, Sandbox

INIT_TIMEOUT_S = 10.0  # Lambda's limit for an instance's initialisation
WAIT_STEP_S = 0.02
# Docker's PATH for an image whose Env sets none.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class LocalImageFunction:
    name: str
    root: Path
    command: list[str]  # the entry point, then the command
    env: dict[str, str]  # the image's Env, then the function's variables
    working_dir: str = "/"
    memory_mb: int = 128
    timeout_s: float = 3.0
    ephemeral_mb: int = 512
    arn: str = ""
    revision: str = ""  # what identifies this configuration of the function (e.g. its RevisionId)
    log_group: str = ""  # default /aws/lambda/NAME

    @classmethod
    def from_image(
        cls,
        name: str,
        image: UnpackedImage,
        environment: Mapping[str, str],
        *,
        memory_mb: int = 128,
        timeout_s: float = 3.0,
        ephemeral_mb: int = 512,
        entry_point: list[str] | None = None,
        command: list[str] | None = None,
        working_dir: str | None = None,
        arn: str = "",
        revision: str = "",
        log_group: str = "",
    ) -> LocalImageFunction:
        """A function of `image`; `entry_point`, `command` and `working_dir` override the image's (ImageConfig)."""
        settings = image.settings
        argv = [*(entry_point or settings.get("Entrypoint") or []), *(command or settings.get("Cmd") or [])]
        folder = working_dir or settings.get("WorkingDir") or "/"
        env = {**image_environment(image), **environment}
        return cls(name, image.root, argv, env, folder, memory_mb, timeout_s, ephemeral_mb, arn, revision, log_group)


def image_environment(image: UnpackedImage) -> dict[str, str]:
    """The image's Env, with Docker's default PATH when it sets none."""
    env = dict(item.split("=", 1) for item in image.settings.get("Env") or [] if "=" in item)
    return {"PATH": DEFAULT_PATH, **env}


@dataclass(frozen=True)
class Invocation:
    request_id: str
    payload: bytes  # the function's response, or Lambda's error document
    failed: bool
    cold: bool  # a new instance was started for it
    seconds: float
    log: list[tuple[int, str]] = field(default_factory=list)  # (ms since the epoch, line) the instance wrote
    log_stream: str = ""  # the instance's AWS_LAMBDA_LOG_STREAM_NAME

    def json(self) -> object:
        return json.loads(self.payload)


@dataclass
class _Instance:
    process: SandboxProcess
    api: RuntimeApi
    output: OutputLines
    log_stream: str
    network: Network | None  # its own namespace, where the sandbox has one
    last_used: float = field(default_factory=time.monotonic)
    busy: bool = False

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.api.close()
        if self.network:
            self.network.close()


class ImageFunctions:
    """Warm instances of image functions. `aws_env`: credentials, region and endpoint for the functions."""

    def __init__(
        self,
        sandbox: Sandbox,
        aws_env: Mapping[str, str],
        scratch: Path,
        max_instances: int | None = None,
        idle_s: float = 300.0,
    ) -> None:
        self.sandbox, self.aws_env, self.scratch = sandbox, dict(aws_env), scratch
        self.max_instances = max_instances or os.cpu_count() or 1
        self.idle_s = idle_s
        self._instances: dict[tuple[str, str], list[_Instance]] = {}
        self._changed = threading.Condition()
        self._closed = threading.Event()
        threading.Thread(target=self._reap, daemon=True).start()

    def invoke(self, function: LocalImageFunction, event: bytes) -> Invocation:
        started = time.monotonic()
        instance, cold = self._acquire(function)
        pending = instance.api.invoke(event, function.timeout_s)
        failure = self._wait(instance, pending, function.timeout_s)
        if failure is None and instance.process.out_of_memory():
            failure = OUT_OF_MEMORY  # the supervisor answered for its killed script: Lambda kills the instance
        if failure is not None:
            instance.stop()  # its output ends: every line it wrote is read
        log = instance.output.take()
        self._release(_key(function), instance, keep=failure is None)
        failed = failure is not None or pending.kind != "response"
        payload = failure if failure is not None else pending.body
        seconds = time.monotonic() - started
        return Invocation(pending.request_id, payload, failed, cold, seconds, log, instance.log_stream)

    def close(self) -> None:
        self._closed.set()
        with self._changed:
            instances = [i for pool in self._instances.values() for i in pool]
            self._instances.clear()
        for instance in instances:
            instance.stop()

    def _acquire(self, function: LocalImageFunction) -> tuple[_Instance, bool]:
        with self._changed:
            while True:
                pool = self._instances.setdefault(_key(function), [])
                idle = next((i for i in pool if not i.busy), None)
                if idle is not None or len(pool) < self.max_instances:
                    break
                self._changed.wait()
            if idle is None:
                idle = self._start(function)
                pool.append(idle)
                cold = True
            else:
                cold = False
            idle.busy = True
            return idle, cold

    def _release(self, key: tuple[str, str], instance: _Instance, keep: bool) -> None:
        with self._changed:
            instance.busy, instance.last_used = False, time.monotonic()
            if not keep:
                self._instances[key].remove(instance)
            self._changed.notify_all()

    def _start(self, function: LocalImageFunction) -> _Instance:
        network = self.sandbox.own_network(self.aws_env)  # relays only local mode's own endpoint
        try:
            arn = function.arn or f"arn:aws:lambda:{self._region}:000000000000:function:{function.name}"
            api = RuntimeApi(arn, network)
        except BaseException:
            if network:
                network.close()
            raise
        folder = self.scratch / function.name / uuid.uuid4().hex
        folder.mkdir(parents=True)
        stream = log_stream_name("$LATEST")
        spec = RunSpec(
            function.root,
            function.command,
            self._environment(function, api, stream),
            folder / "tmp",
            function.working_dir,
            function.ephemeral_mb,
            function.memory_mb,
            network=network,
        )
        spec.scratch.mkdir()
        reading, writing = os.pipe()
        try:
            process = self.sandbox.start(spec, stdin=subprocess.DEVNULL, stdout=writing, stderr=writing)
        except BaseException:
            os.close(reading)
            api.close()
            if network:
                network.close()
            raise
        finally:
            os.close(writing)
        return _Instance(process, api, OutputLines(reading), stream, network)

    @property
    def _region(self) -> str:
        return self.aws_env.get("AWS_REGION") or self.aws_env.get("AWS_DEFAULT_REGION") or "us-east-1"

    def _environment(self, function: LocalImageFunction, api: RuntimeApi, stream: str) -> dict[str, str]:
        return {
            **function.env,
            **self.aws_env,
            "AWS_REGION": self._region,
            "AWS_DEFAULT_REGION": self._region,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": function.log_group or f"/aws/lambda/{function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
        }

    def _wait(self, instance: _Instance, pending: Pending, timeout_s: float) -> bytes | None:
        """None once the runtime answered; else Lambda's error document (the instance must go)."""
        queued = time.monotonic()
        while not pending.done.wait(WAIT_STEP_S):
            now = time.monotonic()
            if instance.process.out_of_memory():
                return OUT_OF_MEMORY
            if instance.api.init_error is not None:
                return _error("Runtime.InitError", instance.api.init_error.decode("utf-8", "replace"))
            if instance.process.poll() is not None:
                return _error("Runtime.ExitError", f"the runtime exited with status {instance.process.returncode}")
            if pending.taken_at is None and now - queued > INIT_TIMEOUT_S:
                return _error("Runtime.InitTimeout", f"the runtime did not start within {INIT_TIMEOUT_S:.0f} seconds")
            if pending.taken_at is not None and now - pending.taken_at > timeout_s:
                return _error("Sandbox.Timedout", f"Task timed out after {timeout_s:.2f} seconds")
        return None

    def _reap(self) -> None:
        while not self._closed.wait(min(self.idle_s / 2, 30.0)):
            cutoff = time.monotonic() - self.idle_s
            with self._changed:
                idle = [
                    (n, i) for n, pool in self._instances.items() for i in pool if not i.busy and i.last_used < cutoff
                ]
                for key, instance in idle:
                    self._instances[key].remove(instance)
            for _, instance in idle:
                instance.stop()


def _key(function: LocalImageFunction) -> tuple[str, str]:
    return function.name, function.revision


def _error(kind: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": kind}).encode()


# Lambda's answer when an instance exceeds its memory (its cgroup, where the sandbox has one).
OUT_OF_MEMORY = _error("Runtime.ExitError", "Runtime exited with error: signal: killed")
