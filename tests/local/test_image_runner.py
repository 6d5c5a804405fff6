"""Image functions run locally: the Runtime API server, then the real supervisor as an image's entry point."""

from __future__ import annotations

import http.client
import json
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from faas_supervisor import contract
from faas_supervisor.image import LayerEntry, build_layer, read_image

from render.aws.connection import Aws
from render.local.execution import sandbox
from render.local.execution.image_runner import ImageFunctions, LocalImageFunction
from render.local.execution.role_credentials import RoleCredentials
from render.local.execution.rootfs import unpack_image
from render.local.execution.runtime_api import PREFIX, RuntimeApi
from render.terraform.images import supervisor_layer
from tests.local.images import archive_image
from tests.supervisor.image_builders import busybox_layer

SHOUT = "#!/bin/sh\nexec tr a-z A-Z\n"  # a tool only the image has
UPPER = 'shout < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH").up"\n'


def request(
    api: RuntimeApi, method: str, path: str, body: bytes = b"", secret: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """A runtime's request; with `secret`, that one instead of the instance's (in AWS_LAMBDA_RUNTIME_API)."""
    host, _, own = api.address.partition("/")
    secret = own if secret is None else secret
    connection = http.client.HTTPConnection(host, timeout=10)
    connection.request(method, f"/{secret}{PREFIX}{path}" if secret else PREFIX + path, body)
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_runtime_api_hands_out_events_and_takes_answers() -> None:
    api = RuntimeApi("arn:aws:lambda:us-east-1:000000000000:function:fn")
    try:
        taken: list[tuple[int, dict[str, str], bytes]] = []
        runtime = threading.Thread(target=lambda: taken.append(request(api, "GET", "/invocation/next")))
        runtime.start()
        time.sleep(0.2)  # the runtime waits for an event
        assert not taken
        first = api.invoke(b'{"n": 1}', timeout_s=5)
        runtime.join(10)
        status, headers, body = taken[0]
        assert (status, body, headers["Lambda-Runtime-Aws-Request-Id"]) == (200, b'{"n": 1}', first.request_id)
        assert headers["Lambda-Runtime-Invoked-Function-Arn"].endswith(":function:fn")
        assert 4000 < int(headers["Lambda-Runtime-Deadline-Ms"]) - time.time() * 1000 <= 5000
        assert headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-")
        assert request(api, "POST", f"/invocation/{uuid.uuid4()}/response", b"{}")[0] == 400
        # Without the instance's secret, nothing: neither the next event nor an answer to this one.
        for secret in ("", "x" * len(api.address.partition("/")[2])):
            assert request(api, "GET", "/invocation/next", secret=secret)[0] == 403
            assert request(api, "POST", f"/invocation/{first.request_id}/response", b'"forged"', secret)[0] == 403
        assert request(api, "POST", f"/invocation/{first.request_id}/response", b'"ok"')[0] == 202
        assert first.done.is_set() and (first.kind, first.body) == ("response", b'"ok"')
        assert api.init_error is None
        assert request(api, "POST", "/init/error", b'{"errorType": "Broken"}')[0] == 202
        assert api.init_error == b'{"errorType": "Broken"}'
    finally:
        api.close()


def role_environment(aws_env: dict[str, str], *buckets: str) -> dict[str, str]:
    """`aws_env` with a role's credentials (one that may read and write `buckets`) instead of the
    admin ones, as local mode gives a function its role's: the emulator refuses functions the admin's."""
    iam = boto3.client("iam")
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    name = f"image-runner-{uuid.uuid4().hex[:8]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    objects = [f"arn:aws:s3:::{bucket}/*" for bucket in buckets]
    statement = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": objects}
    access = {"Version": "2012-10-17", "Statement": [statement]}
    iam.put_role_policy(RoleName=name, PolicyName="buckets", PolicyDocument=json.dumps(access))
    credentials = RoleCredentials(Aws(boto3.Session(), aws_env["AWS_ENDPOINT_URL"]))
    return {**aws_env, **credentials.environment(arn, name)}


@pytest.mark.slow
def test_supervisor_image_runs_warm_fails_and_times_out(
    frozen_supervisor: Path, aws_env: dict[str, str], tmp_path: Path
) -> None:
    s3 = boto3.client("s3")
    src, dst = f"in-{uuid.uuid4().hex[:8]}", f"out-{uuid.uuid4().hex[:8]}"
    for bucket in (src, dst):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=src, Key="in/a.txt", Body=b"hello image\n")
    s3.put_object(Bucket=src, Key="in/b.txt", Body=b"second\n")
    top = Path(tempfile.mkdtemp(prefix="faas-image-"))
    top.chmod(0o755)
    task = {"output": [{"bucket": dst, "key_prefix": "out"}], "script": "script.sh"}
    scripts = {"upper": UPPER, "broken": "echo failing >&2; exit 3\n", "sleepy": "sleep 30\n"}
    base = [busybox_layer(), supervisor_layer(frozen_supervisor, "x86_64").layer]
    functions = {}
    try:
        for name, script in scripts.items():
            task_files = [
                LayerEntry("/usr/bin/shout", SHOUT.encode(), 0o755),
                LayerEntry("/var/task/function_config.json", json.dumps({"name": name, **task}).encode()),
                LayerEntry("/var/task/script.sh", script.encode(), 0o755),
            ]
            layers = [*base, build_layer(task_files)]
            with read_image(archive_image(top / f"{name}.tar", layers), "x86_64") as image:
                unpacked = unpack_image(image, top / "cache")
            # The sleepy one's supervisor would stop its script before the deadline: it must not, here.
            env = {"TIMEOUT_THRESHOLD": "-60"} if name == "sleepy" else {}
            timeout = 2 if name == "sleepy" else 60
            functions[name] = LocalImageFunction.from_image(
                name, unpacked, env, entry_point=[contract.SUPERVISOR_PATH], memory_mb=1024, timeout_s=timeout
            )
        runner = ImageFunctions(
            sandbox.detect(), role_environment(aws_env, src, dst), top / "instances", max_instances=1
        )
        try:
            first = runner.invoke(functions["upper"], json.dumps(s3_event(src, "in/a.txt")).encode())
            assert not first.failed, first.payload
            assert first.cold
            second = runner.invoke(functions["upper"], json.dumps(s3_event(src, "in/b.txt")).encode())
            assert not second.failed and not second.cold, second.payload
            assert s3.get_object(Bucket=dst, Key="out/a.txt.up")["Body"].read() == b"HELLO IMAGE\n"
            assert s3.get_object(Bucket=dst, Key="out/b.txt.up")["Body"].read() == b"SECOND\n"
            assert second.seconds < first.seconds
            broken = runner.invoke(functions["broken"], json.dumps(s3_event(src, "in/a.txt")).encode())
            assert broken.failed and "3" in json.dumps(broken.json()), broken.payload
            started = time.monotonic()
            sleepy = runner.invoke(functions["sleepy"], json.dumps(s3_event(src, "in/a.txt")).encode())
            assert sleepy.failed and sleepy.json() == {
                "errorMessage": "Task timed out after 2.00 seconds",
                "errorType": "Sandbox.Timedout",
            }
            assert time.monotonic() - started < 15
        finally:
            runner.close()
    finally:
        shutil.rmtree(top)


def s3_event(bucket: str, key: str) -> dict[str, Any]:
    record = {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "awsRegion": "us-east-1"}
    return {"Records": [{**record, "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}}}]}
