"""Local mode's parts that need no deployment: triggers, S3 events, image references, arguments, the Lambda runtime."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import socket
import tempfile
import time
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from urllib.parse import unquote_plus

import boto3
import pytest
from faas_supervisor import contract

from render.aws.connection import connect
from render.aws.deployed import DeployedFunction, code_zip
from render.commands.errors import EXIT_USAGE, CommandError
from render.commands.logs import parse_duration
from render.commands.put import files_to_upload
from render.local import emulator
from render.local.execution.deployed_images import emulator_reference
from render.local.execution.errors import LocalError
from render.local.execution.lambda_runner import MAX_RESPONSE_BYTES, LambdaRuntime
from render.local.execution.sandbox import LAMBDA_UID, detect
from render.local.execution.scratch_fs import work_base
from render.local.s3_events import Trigger, s3_event, triggers

NOTIFICATION = {
    "LambdaFunctionConfigurations": [
        {
            "Id": "split",
            "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:video-split",
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "input/"}]}},
        },
        {
            "Id": "stats",
            "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:frame-stats",
            "Events": ["s3:ObjectCreated:Put"],
            "Filter": {
                "Key": {"FilterRules": [{"Name": "prefix", "Value": "frames/"}, {"Name": "suffix", "Value": ".ppm"}]}
            },
        },
    ]
}


def test_triggers_match_events_prefixes_and_suffixes() -> None:
    split, stats = triggers(NOTIFICATION)
    assert split == Trigger(split.function_arn, "split", ("s3:ObjectCreated:*",), "input/", "")
    assert split.matches("input/clip.y4m", "ObjectCreated:Put")
    assert split.matches("input/clip.y4m", "ObjectCreated:CompleteMultipartUpload")
    assert not split.matches("frames/a.ppm", "ObjectCreated:Put")
    assert not split.matches("input/clip.y4m", "ObjectRemoved:Delete")
    assert stats.matches("frames/a.ppm", "ObjectCreated:Put")
    assert not stats.matches("frames/a.json", "ObjectCreated:Put")
    assert not stats.matches("frames/a.ppm", "ObjectCreated:Copy")
    assert triggers({}) == []


def test_s3_event_is_what_s3_sends() -> None:
    event = s3_event("eu-west-1", "bucket", "in/my file+1.txt", 12, '"abc"', "config-1")
    (record,) = event["Records"]
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert record["awsRegion"] == "eu-west-1"
    assert record["s3"]["bucket"] == {
        "name": "bucket",
        "ownerIdentity": {"principalId": "local"},
        "arn": "arn:aws:s3:::bucket",
    }
    obj = record["s3"]["object"]
    assert obj["key"] == "in/my+file%2B1.txt" and unquote_plus(obj["key"]) == "in/my file+1.txt"
    assert (obj["size"], obj["eTag"], record["s3"]["configurationId"]) == (12, "abc", "config-1")


DIGEST = "sha256:" + "ab" * 32


def test_ecr_images_are_read_from_the_emulators_registry_view() -> None:
    ecr = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/fn"
    assert emulator_reference(f"{ecr}@{DIGEST}", "http://127.0.0.1:4566") == f"127.0.0.1:4566/team/fn@{DIGEST}"
    assert emulator_reference(f"{ecr}:v1", "http://0.0.0.0:4566/") == "127.0.0.1:4566/team/fn:v1"
    assert emulator_reference("alpine:3.20", "http://127.0.0.1:4566") == "alpine:3.20"  # from its own registry
    with pytest.raises(LocalError, match="emulator's ECR"):
        emulator_reference(f"{ecr}:v1", None)


def test_put_uploads_files_by_name_and_folders_by_relative_path(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "folder" / "sub").mkdir(parents=True)
    (tmp_path / "folder" / "b.txt").write_text("b")
    (tmp_path / "folder" / "sub" / "c.txt").write_text("c")
    found = files_to_upload([tmp_path / "a.txt", tmp_path / "folder"])
    assert [relative for _, relative in found] == ["a.txt", "b.txt", "sub/c.txt"]
    with pytest.raises(CommandError, match="no such file or folder") as missing:
        files_to_upload([tmp_path / "missing"])
    assert missing.value.status == EXIT_USAGE
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match="nothing to upload"):
        files_to_upload([tmp_path / "empty"])


def test_put_refuses_names_that_are_not_utf8_before_uploading_anything(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in (b"a.txt", b"b-\xff\xfe.txt", b"c.txt"):
        Path(os.fsdecode(bytes(folder) + b"/" + name)).write_text("x")
    with pytest.raises(CommandError, match=r"not UTF-8 \(nothing was uploaded\): .*b-\\xff\\xfe\.txt") as refused:
        files_to_upload([folder])
    assert refused.value.status == EXIT_USAGE


def test_durations() -> None:
    assert [parse_duration(t) for t in ("90s", "30m", "2h", "1d", "1w")] == [90, 1800, 7200, 86400, 604800]
    with pytest.raises(CommandError, match="expected a number and a unit"):
        parse_duration("ten minutes")


def test_the_emulator_refuses_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            emulator.start(port=taken.getsockname()[1])


HANDLER = """\
import os, sys, time

def lambda_handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise ValueError("asked to fail")
    if event.get("big"):
        return "x" * event["big"]
    return {
        "module": __file__,
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "variable": os.environ["MY_VARIABLE"],
        "name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
        "event": event,
    }
"""


@pytest.fixture
def runtime(aws_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[LambdaRuntime, DeployedFunction]]:
    """A function whose zip (in a rendered-root layout) is the handler above, as faas_supervisor, run
    in the sandbox from a work folder its user can reach (as faas local's)."""
    content = zip_of({"faas_supervisor/__init__.py": "", "faas_supervisor/lambda_function.py": HANDLER})
    (tmp_path / "root" / "artifacts" / "lambda").mkdir(parents=True)
    (tmp_path / "root" / "artifacts" / "lambda" / "probe.zip").write_bytes(content)
    configuration = {
        "FunctionName": "probe",
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:probe",
        "Handler": "faas_supervisor.lambda_function.lambda_handler",
        "Runtime": "python3.12",
        "Timeout": 2,
        "MemorySize": 256,
        "CodeSha256": base64.b64encode(hashlib.sha256(content).digest()).decode(),
        "Environment": {"Variables": {"MY_VARIABLE": "${literal}"}},
    }
    aws = connect()
    work = Path(tempfile.mkdtemp(prefix="faas-zip-", dir=work_base(LAMBDA_UID)))
    work.chmod(0o755)
    try:
        yield (
            LambdaRuntime(aws, partial(code_zip, root=tmp_path / "root"), work, detect),
            DeployedFunction(configuration),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_the_deployed_code_runs_as_lambda_runs_it(runtime: tuple[LambdaRuntime, DeployedFunction]) -> None:
    local, function = runtime
    invocation = local.invoke(function, {"key": "value"})
    assert not invocation.failed, invocation.payload
    answer = invocation.payload
    assert answer["module"].startswith(answer["task_root"])  # the zip's package, not the installed one
    assert (answer["variable"], answer["name"], answer["memory"]) == ("${literal}", "probe", "256")
    assert 1000 < answer["remaining"] <= 2000 and answer["request_id"] == invocation.request_id
    assert answer["event"] == {"key": "value"}
    logs = boto3.client("logs").filter_log_events(logGroupName="/aws/lambda/probe")["events"]
    messages = [e["message"] for e in logs]
    assert f"START RequestId: {invocation.request_id} Version: $LATEST" in messages
    assert any(m.startswith(f"REPORT RequestId: {invocation.request_id}\tDuration: ") for m in messages)


def test_failures_and_timeouts_are_reported_as_lambda_reports_them(
    runtime: tuple[LambdaRuntime, DeployedFunction],
) -> None:
    local, function = runtime
    failed = local.invoke(function, {"fail": True})
    assert failed.failed and failed.payload["errorType"] == "ValueError"
    assert failed.error_message == "asked to fail"
    started = time.monotonic()
    timed_out = local.invoke(function, {"sleep": 30})
    assert timed_out.failed and timed_out.payload["errorType"] == "Sandbox.Timedout"
    assert time.monotonic() - started < 10
    assert timed_out.error_message == "Task timed out after 2.00 seconds"


def test_a_response_over_lambdas_limit_fails_as_lambda_fails_it(
    runtime: tuple[LambdaRuntime, DeployedFunction],
) -> None:
    local, function = runtime
    at_limit = local.invoke(function, {"big": MAX_RESPONSE_BYTES - 2})  # a JSON string: two quotes more
    assert not at_limit.failed and len(at_limit.payload) == MAX_RESPONSE_BYTES - 2
    over = local.invoke(function, {"big": MAX_RESPONSE_BYTES})
    assert over.failed and over.payload["errorType"] == "Function.ResponseSizeTooLarge", over.payload


def test_functions_run_on_this_host_get_the_registry_mirror(
    runtime: tuple[LambdaRuntime, DeployedFunction], tmp_path: Path
) -> None:
    local, function = runtime
    mirrored = LambdaRuntime(
        local.aws, local.code, local.workdir, detect, {contract.REGISTRY_MIRROR: "http://127.0.0.1:5000"}
    )
    assert mirrored.environment(function, tmp_path, "stream")[contract.REGISTRY_MIRROR] == "http://127.0.0.1:5000"
    assert contract.REGISTRY_MIRROR not in local.environment(function, tmp_path, "stream")
