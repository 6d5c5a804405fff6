"""The supervisor as a Lambda image's entry point: the Runtime API loop, end to end.

Each test starts the supervisor as a real process (the Python module, and the frozen bundle of
each architecture, unpacked) against a Runtime API served by the test (runtime_api_server.py) and the moto server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from faas_supervisor.runtime_api import (
    Invocation,
    LambdaContext,
    RuntimeApiError,
    RuntimeClient,
    decode_event,
)

from render.terraform.supervisor_bundle import packaged_bundle
from tests.helpers import supervisor_command, unpack_supervisor

from .runtime_api_server import FUNCTION_ARN, RuntimeApiServer

if TYPE_CHECKING:
    from .conftest import Aws, BatchInfra

TaskMaker = Callable[..., Path]  # the lambda_task fixture
EventMaker = Callable[..., dict[str, Any]]  # the s3_event fixture

SUPERVISOR_SOURCES = Path(__file__).resolve().parents[2] / "supervisor"
LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "fn",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
    "AWS_LAMBDA_LOG_STREAM_NAME": "2024/05/01/[$LATEST]0123456789abcdef",
}
BWRAP_READ_ONLY_ROOT = ("--ro-bind", "/", "/", "--tmpfs", "/tmp", "--dev", "/dev", "--proc", "/proc", "--unshare-pid")


@dataclass
class Supervisors:
    """Starts the supervisor (`program`) against `api`; stops what it started at the end.

    Each process gets its own TMPDIR under `scratch`.
    """

    program: list[str]
    env: dict[str, str]
    api: RuntimeApiServer
    scratch: Path
    unpacked: Path | None = None  # the bundle's folder, for a frozen supervisor
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(
        self, task_root: Path, *args: str, wrapper: tuple[str, ...] = (), env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        tmpdir = self.scratch / f"tmp-{len(self.started)}"
        tmpdir.mkdir()
        full_env = {
            **os.environ,
            **self.env,
            **LAMBDA_ENV,
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "LAMBDA_TASK_ROOT": str(task_root),
            "TMPDIR": str(tmpdir),
            **(env or {}),
        }
        with open(self.log(len(self.started)), "wb") as log:
            proc = subprocess.Popen([*wrapper, *self.program, *args], env=full_env, stdout=log, stderr=log)
        self.started.append(proc)
        return proc

    def log(self, index: int = 0) -> Path:
        return self.scratch / f"supervisor-{index}.log"

    def log_text(self, index: int = 0) -> str:
        return self.log(index).read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.started:
            proc.terminate()
        for proc in self.started:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def arm64_bundle() -> Path:
    """The packaged arm64 supervisor, run through the kernel's binfmt_misc handler for qemu-user."""
    bundle = packaged_bundle("arm64")
    if not bundle.is_file():
        pytest.skip("the packaged arm64 supervisor is not built: run `make binaries`")
    handler = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    if not handler.is_file() or not handler.read_text().startswith("enabled"):
        pytest.skip("no binfmt_misc handler for aarch64 (Debian: qemu-user-static, binfmt-support)")
    return bundle


@pytest.fixture(
    params=["module", pytest.param("bundle", marks=pytest.mark.slow), pytest.param("arm64", marks=pytest.mark.slow)]
)
def supervisors(request: pytest.FixtureRequest, aws: Aws, tmp_path: Path) -> Iterator[Supervisors]:
    """The supervisor as `python -m faas_supervisor`, as this machine's frozen bundle, and as the
    arm64 one under emulation."""
    unpacked = None
    if request.param == "module":
        program = [sys.executable, "-m", "faas_supervisor"]
        env = {"PYTHONPATH": str(SUPERVISOR_SOURCES)}
    else:
        bundle = request.getfixturevalue("frozen_supervisor") if request.param == "bundle" else arm64_bundle()
        unpacked = unpack_supervisor(bundle, tmp_path / "unpacked")
        program, env = supervisor_command(unpacked), {}
    api = RuntimeApiServer()
    runs = Supervisors(program, env, api, tmp_path / "supervisors", unpacked)
    runs.scratch.mkdir()
    yield runs
    runs.stop()
    api.close()


def test_s3_event_processed(aws: Aws, supervisors: Supervisors, lambda_task: TaskMaker, s3_event: EventMaker) -> None:
    src, dst = aws.bucket("in"), aws.bucket("out")
    aws.client("s3").put_object(Bucket=src, Key="in/hello world.txt", Body=b"hello runtime\n")
    root = lambda_task(
        {"name": "fn", "output": [{"bucket": dst, "key_prefix": "out"}]},
        script='tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH").up"\n'
        'printf %s "$_X_AMZN_TRACE_ID" > "$TMP_OUTPUT_DIR/trace"\n',
    )
    supervisors.start(root)
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    request_id = supervisors.api.invoke(s3_event(src, "in/hello+world.txt"), headers={"Lambda-Runtime-Trace-Id": trace})
    posted = supervisors.api.wait(request_id)
    assert posted.kind == "response", posted.body
    result = posted.json()
    assert result["status"] == "succeeded" and result["request_id"] == request_id
    assert sorted(result["uploaded"]) == [f"s3://{dst}/out/hello world.txt.up", f"s3://{dst}/out/trace"]
    assert aws.read(dst, "out/hello world.txt.up") == b"HELLO RUNTIME\n"
    assert aws.read(dst, "out/trace") == trace.encode()
    assert f"request {request_id}: function fn (lambda): s3 event" in supervisors.log_text()


def test_failing_script_is_reported_through_error_and_the_instance_goes_on(
    aws: Aws, supervisors: Supervisors, lambda_task: TaskMaker
) -> None:
    dst = aws.bucket("out")
    root = lambda_task(
        {"name": "fn", "output": [{"bucket": dst}]},
        script='echo partial > "$TMP_OUTPUT_DIR/partial.txt"\necho "boom: cannot parse" >&2\nexit 3\n',
    )
    proc = supervisors.start(root)
    request_id = supervisors.api.invoke({"n": 1})
    posted = supervisors.api.wait(request_id)
    assert posted.kind == "error"
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "Unhandled"
    error = posted.json()
    assert error["errorType"] == "ScriptFailed"
    assert "function fn: script exited with status 3; nothing uploaded" in error["errorMessage"]
    assert "boom: cannot parse" in error["errorMessage"]
    assert isinstance(error["stackTrace"], list) and error["stackTrace"]
    assert aws.keys(dst) == []
    supervisors.api.wait_next_calls(2)  # back for the next event
    assert proc.poll() is None


@pytest.mark.parametrize(
    "files, message",
    [
        ({}, "cannot read the function configuration {root}/function_config.json"),
        ({"function_config.json": "{not json"}, "{root}/function_config.json: not valid JSON"),
        ({"function_config.json": '{"name": "fn", "execution_mode": "fast"}'}, "execution_mode 'fast' is not one of"),
        (
            {"function_config.json": '{"name": "fn", "script": "run.sh"}'},
            "the function's script {root}/run.sh is missing",
        ),
        ({"function_config.json": '{"name": "fn"}'}, "no script and the image entry point was given no command"),
    ],
    ids=["missing", "not-json", "invalid", "script-missing", "nothing-to-run"],
)
def test_broken_function_is_reported_through_init_error(
    supervisors: Supervisors, tmp_path: Path, files: dict[str, str], message: str
) -> None:
    root = tmp_path / "task"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    proc = supervisors.start(root)
    posted = supervisors.api.wait_init_error()
    assert proc.wait(timeout=60) == 125
    assert supervisors.api.next_calls == []
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "Unhandled"
    error = posted.json()
    assert error["errorType"] == "ConfigError"
    assert message.format(root=root) in error["errorMessage"]
    assert message.format(root=root) in supervisors.log_text()


def test_one_warm_process_serves_several_invocations(
    aws: Aws, supervisors: Supervisors, lambda_task: TaskMaker
) -> None:
    dst = aws.bucket("out")
    root = lambda_task(
        {"name": "fn", "output": [{"bucket": dst}]},
        script='echo "$PPID" > "$TMP_OUTPUT_DIR/parent-$REQUEST_ID"\n',
    )
    proc = supervisors.start(root)
    first, second = supervisors.api.invoke({"n": 1}), supervisors.api.invoke({"n": 2})
    assert supervisors.api.wait(first).json()["status"] == "succeeded"
    assert supervisors.api.wait(second).json()["status"] == "succeeded"
    assert aws.read(dst, f"parent-{first}") == aws.read(dst, f"parent-{second}")  # the same supervisor
    assert len(supervisors.api.wait_next_calls(3)) == 3
    assert proc.poll() is None and len(supervisors.started) == 1


def test_deadline_kills_the_script_and_reports_it(aws: Aws, supervisors: Supervisors, lambda_task: TaskMaker) -> None:
    dst = aws.bucket("out")
    root = lambda_task(
        {"name": "fn", "container": {"timeout_threshold": 1}, "output": [{"bucket": dst}]},
        script='echo partial > "$TMP_OUTPUT_DIR/partial.txt"\nsleep 60 &\nwait\n',
    )
    supervisors.start(root)
    request_id = supervisors.api.invoke({"n": 1}, deadline_s=3)
    posted = supervisors.api.wait(request_id)
    elapsed = posted.at - supervisors.api.handed_out_at(request_id)
    assert 1.5 < elapsed < 8, elapsed  # 3 s deadline minus the 1 s threshold
    error = posted.json()
    assert error["errorType"] == "ScriptFailed"
    assert "script killed at the deadline" in error["errorMessage"]
    assert aws.keys(dst) == []


@pytest.mark.parametrize("separator", [["--"], []], ids=["after-dashes", "plain"])
def test_image_command_runs_when_there_is_no_script(
    aws: Aws, supervisors: Supervisors, lambda_task: TaskMaker, tmp_path: Path, separator: list[str]
) -> None:
    dst = aws.bucket("out")
    # A udocker on PATH must not be used: the supervisor already runs inside the image.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "udocker").write_text("#!/bin/sh\nexit 99\n")
    (bindir / "udocker").chmod(0o755)
    root = lambda_task({"name": "fn", "container": {"image": "grycap/cowsay"}, "output": [{"bucket": dst}]})
    command = [
        "/bin/sh",
        "-c",
        'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/in.json"; echo "$0 $1" > "$TMP_OUTPUT_DIR/args"',
    ]
    supervisors.start(root, *separator, *command, "first", "second", env={"PATH": f"{bindir}:{os.environ['PATH']}"})
    posted = supervisors.api.wait(supervisors.api.invoke({"moo": "hello"}))
    assert posted.kind == "response", posted.body
    assert aws.read(dst, "in.json") == b'{"moo":"hello"}'
    assert aws.read(dst, "args") == b"first second\n"
    assert "udocker" not in supervisors.log_text()


def test_event_that_is_not_json_is_the_raw_input(aws: Aws, supervisors: Supervisors, lambda_task: TaskMaker) -> None:
    dst = aws.bucket("out")
    root = lambda_task({"name": "fn", "output": [{"bucket": dst}]}, script='cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"\n')
    supervisors.start(root)
    posted = supervisors.api.wait(supervisors.api.invoke(body=b"just some text"))
    assert posted.json()["status"] == "succeeded"
    assert aws.read(dst, "event") == b"just some text"


def test_batch_mode_needs_no_script_and_submits(
    aws: Aws, batch_infra: BatchInfra, supervisors: Supervisors, lambda_task: TaskMaker
) -> None:
    root = lambda_task({"name": "fn", "execution_mode": "batch"})
    env = {
        "FAAS_JOB_QUEUE": batch_infra.job_queue,
        "FAAS_JOB_DEFINITION": batch_infra.job_definition,
        "FAAS_ARTIFACTS_BUCKET": batch_infra.artifacts_bucket,
    }
    supervisors.start(root, env=env)
    request_id = supervisors.api.invoke({"n": 1})
    result = supervisors.api.wait(request_id).json()
    assert result["status"] == "submitted" and result["job_name"] == f"fn-{request_id}"
    (job,) = aws.client("batch").describe_jobs(jobs=[result["job_id"]])["jobs"]
    env = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert json.loads(env["FAAS_EVENT"]) == {"n": 1}


def read_only_root_sandbox() -> str:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        pytest.skip("bwrap (bubblewrap) is not installed")
    probe = subprocess.run([bwrap, *BWRAP_READ_ONLY_ROOT, "true"], check=False, capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"bwrap cannot make a sandbox here: {probe.stderr.strip()}")
    return bwrap


def test_writes_nothing_outside_tmp(
    aws: Aws, supervisors: Supervisors, lambda_task: TaskMaker, s3_event: EventMaker
) -> None:
    """Lambda's root filesystem is read-only: everything the supervisor writes goes to $TMPDIR."""
    bwrap = read_only_root_sandbox()
    src, dst = aws.bucket("in"), aws.bucket("out")
    aws.client("s3").put_object(Bucket=src, Key="in/a.txt", Body=b"sandboxed")
    root = lambda_task(
        {"name": "fn", "output": [{"bucket": dst}]},
        script='cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/copy.txt"\npwd > "$TMP_OUTPUT_DIR/pwd"\n'
        'if touch /probe 2>/dev/null; then echo writable; else echo read-only; fi > "$TMP_OUTPUT_DIR/root"\n',
    )
    # The task root (and an unpacked bundle) live under /tmp here: bound back (read-only) over the fresh /tmp.
    sandbox: tuple[str, ...] = (
        bwrap,
        *BWRAP_READ_ONLY_ROOT,
        "--dir",
        "/tmp/scratch",
        "--ro-bind",
        str(root),
        str(root),
    )
    if supervisors.unpacked:
        sandbox += ("--ro-bind", str(supervisors.unpacked), str(supervisors.unpacked))
    supervisors.start(root, wrapper=(*sandbox, "--die-with-parent", "--"), env={"TMPDIR": "/tmp/scratch"})
    posted = supervisors.api.wait(supervisors.api.invoke(s3_event(src, "in/a.txt")))
    assert posted.kind == "response", posted.body.decode() + supervisors.log_text()
    assert aws.read(dst, "copy.txt") == b"sandboxed"
    assert aws.read(dst, "root") == b"read-only\n"  # the sandbox holds: nothing but /tmp is writable
    assert aws.read(dst, "pwd").startswith(b"/tmp/scratch/faas-")  # the work dir comes from $TMPDIR


# --- the pieces, in this process ------------------------------------------------------------


def test_context_from_the_invocation_and_lambda_environment() -> None:
    deadline_ms = int(time.time() * 1000) + 5000
    invocation = Invocation("req-1", deadline_ms, FUNCTION_ARN, None, b"{}")
    context = LambdaContext.for_invocation(invocation, LAMBDA_ENV)
    assert (context.aws_request_id, context.invoked_function_arn) == ("req-1", FUNCTION_ARN)
    assert (context.function_name, context.function_version, context.memory_limit_in_mb) == ("fn", "$LATEST", "512")
    assert (context.log_group_name, context.log_stream_name) == (
        "/aws/lambda/fn",
        LAMBDA_ENV["AWS_LAMBDA_LOG_STREAM_NAME"],
    )
    first = context.get_remaining_time_in_millis()
    assert 4000 < first <= 5000
    time.sleep(0.05)
    assert context.get_remaining_time_in_millis() <= first - 40
    past = LambdaContext.for_invocation(Invocation("req-2", deadline_ms - 10_000, "", None, b""), {})
    assert past.get_remaining_time_in_millis() == 0 and past.function_name == ""


@pytest.mark.parametrize(
    "body, event",
    [
        (b'{"a": [1, 2]}', {"a": [1, 2]}),
        (b'"a JSON string"', "a JSON string"),
        (b"plain text", "plain text"),
        (b"\xff\xfebinary", "\ufffd\ufffdbinary"),
    ],
)
def test_event_decoding(body: bytes, event: Any) -> None:
    assert decode_event(body) == event


def test_client_stops_on_a_refused_post_or_a_next_without_headers() -> None:
    api = RuntimeApiServer()
    try:
        client = RuntimeClient(api.address)
        with pytest.raises(RuntimeApiError, match="/invocation/unknown-id/response: HTTP 400"):
            client.respond("unknown-id", b"{}")
        api.invoke({}, headers={"Lambda-Runtime-Deadline-Ms": None})
        with pytest.raises(RuntimeApiError, match="without the Lambda-Runtime-Deadline-Ms header"):
            client.next()
    finally:
        api.close()


def test_client_honours_a_secret_path_in_the_address() -> None:
    """Local mode's instances get HOST:PORT/SECRET; the client sends every request under it."""
    from render.local.execution.runtime_api import RuntimeApi

    api = RuntimeApi(FUNCTION_ARN)
    try:
        assert api.address.count("/") == 1
        client = RuntimeClient(api.address)
        pending = api.invoke(b'{"n": 1}', timeout_s=5)
        invocation = client.next()
        assert (invocation.request_id, invocation.body) == (pending.request_id, b'{"n": 1}')
        client.respond(invocation.request_id, b'"ok"')
        assert (pending.kind, pending.body) == ("response", b'"ok"')
        with pytest.raises(RuntimeApiError, match="HTTP 403"):  # the same server, the address without its secret
            RuntimeClient(api.address.partition("/")[0]).next()
    finally:
        api.close()
