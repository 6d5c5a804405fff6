"""The `faas` commands against the emulator, and the video-process workflow run locally end to end.

One deployment of examples/video-process (with the real static supervisor, which the Batch job
runs) is applied per module, and `faas put` runs its workflow once; the tests read what that left.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from render.faas_cli import main as faas
from render.local import emulator
from render.terraform.supervisor_bundle import SupervisorBundleError, supervisor_bundle
from tests.helpers import EXAMPLES, Result, aws_variables, free_port, render, requires_terraform, run_faas

pytestmark = [requires_terraform(), pytest.mark.terraform, pytest.mark.slow]

VIDEO_PROCESS = EXAMPLES / "video-process"
# The static supervisor is built once (about 15 s) into the real cache, not the per-test HOME.
REAL_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
FRAMES = [f"sample-000{n}" for n in range(1, 5)]


@dataclass(frozen=True)
class Workflow:
    root: Path
    put: Result  # `faas put video-split sample.y4m`

    @property
    def job_id(self) -> str:
        match = re.search(r"submitted Batch job ([0-9a-f-]+)", self.put.err)
        assert match, self.put.err
        return match[1]


@pytest.fixture(scope="module")
def workflow(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workflow]:
    """video-process applied to a fresh emulator, and a generated video put into its input."""
    work = tmp_path_factory.mktemp("video-process")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in aws_variables(moto_endpoint).items():
            patch.setenv(name, value)
        patch.setenv("HOME", str(work))
        patch.setenv("XDG_CACHE_HOME", str(REAL_CACHE))
        patch.delenv("FAAS_RENDER_SUPERVISOR_BUNDLE", raising=False)
        try:
            patch.setenv("FAAS_RENDER_SUPERVISOR_BUNDLE", str(supervisor_bundle("x86_64")))
        except SupervisorBundleError as error:
            pytest.skip(f"the static supervisor cannot be built here: {error}")
        emulator.reset(moto_endpoint)
        emulator.create_network(work / "network.yaml")
        root = work / "root"
        assert (
            render(VIDEO_PROCESS / "video-process.yaml", root, "--config", str(work / "network.yaml"), "--apply") == 0
        )
        sample = work / "sample.y4m"
        subprocess.run([sys.executable, str(VIDEO_PROCESS / "make-sample-video.py"), str(sample)], check=True)
        put = run_faas("put", "video-split", str(sample), "--root", str(root))
    yield Workflow(root, put)
    emulator.reset(moto_endpoint)


def test_put_runs_the_workflow_locally(workflow: Workflow) -> None:
    put = workflow.put
    assert put.code == 0, put.err
    assert "upload: " in put.out and "to s3://video-process-123456789012/input/sample.y4m" in put.out
    assert "local run: 6 run(s), 8 object(s) written" in put.out
    assert "on this host" not in put.err  # every script runs in its image (video-split's zip only submits)
    assert "[frame-stats] finished in" in put.err and "(cold start)" in put.err
    assert "[video-split] Lambda started by s3://video-process-123456789012/input/sample.y4m" in put.err
    assert f"[video-split] Batch job {workflow.job_id} succeeded" in put.err
    for frame in FRAMES:
        assert f"[video-split]   wrote s3://video-process-123456789012/frames/{frame}.ppm" in put.err
        assert f"[frame-stats] Lambda started by s3://video-process-123456789012/frames/{frame}.ppm" in put.err
        assert f"[frame-stats]   wrote s3://video-process-123456789012/output/{frame}.json" in put.err


def test_get_downloads_the_results(workflow: Workflow, aws_env: dict[str, str], tmp_path: Path) -> None:
    got = run_faas("get", "frame-stats", str(tmp_path / "results"), "--root", str(workflow.root))
    assert got.code == 0, got.err
    stats = {frame: json.loads((tmp_path / "results" / f"{frame}.json").read_text()) for frame in FRAMES}
    assert (
        f"download: s3://video-process-123456789012/output/sample-0001.json to {tmp_path}/results/sample-0001.json"
        in got.out
    )
    assert {(s["frame"], s["width"], s["height"]) for s in stats.values()} == {(f"{f}.ppm", 64, 48) for f in FRAMES}
    assert len({s["mean_brightness"] for s in stats.values()}) == 4  # the frames differ


def test_logs_show_each_invocation(workflow: Workflow, aws_env: dict[str, str]) -> None:
    logs = run_faas("logs", "frame-stats")
    assert logs.code == 0, logs.err
    assert logs.out.count("START RequestId: ") >= 4 and logs.out.count("REPORT RequestId: ") >= 4
    assert "s3://video-process-123456789012/frames/sample-0001.ppm" in logs.out
    assert "done, 1 run(s), 1 object(s) uploaded" in logs.out
    assert f"submitted Batch job {workflow.job_id}" in run_faas("logs", "video-split", "--since", "1d").out


def test_job_shows_status_and_log_in_any_state(workflow: Workflow, aws_env: dict[str, str]) -> None:
    job = run_faas("job", workflow.job_id)
    assert job.code == 0, job.err
    assert f"job {workflow.job_id} (video-split-" in job.out
    assert re.search(r"status: +SUCCEEDED", job.out)
    assert "20 frames at 5 fps: kept 4 at 1 per second" in job.out
    assert "split sample.y4m into 4 frames" in job.out

    batch = boto3.client("batch")
    queue = batch.describe_job_queues()["jobQueues"][0]["jobQueueName"]
    never_ran = batch.submit_job(jobName="never-ran", jobQueue=queue, jobDefinition="video-split")["jobId"]
    waiting = run_faas("job", never_ran).out  # nothing runs a job not submitted by a function
    assert re.search(r"status: +RUNNABLE\n", waiting) and "started:    -" in waiting, waiting
    assert "no log yet: the job is RUNNABLE" in waiting

    unknown = run_faas("job", "no-such-job")
    assert unknown.code == 1 and "no Batch job no-such-job" in unknown.err


def test_ls_lists_mode_memory_and_queue(
    workflow: Workflow, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # the emulator needs no credentials
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    listed = run_faas("ls")
    assert listed.code == 0, listed.err
    header, *rows = listed.out.splitlines()
    assert header.split() == ["FUNCTION", "MODE", "MEMORY", "TIMEOUT", "BATCH", "QUEUE", "DEPLOYMENT"]
    assert rows[0].split() == ["frame-stats", "lambda", "512", "60", "-", "video-process"]
    name, mode, _, _, queue, deployment = rows[1].split()
    assert (name, mode, deployment) == ("video-split", "batch", "video-process")
    assert queue.startswith("video-process-")


def frame_event(key: str) -> str:
    s3 = boto3.client("s3")
    s3.copy_object(
        Bucket="video-process-123456789012", Key=key, CopySource="video-process-123456789012/frames/sample-0001.ppm"
    )
    record: dict[str, Any] = {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "awsRegion": "us-east-1"}
    record["s3"] = {"bucket": {"name": "video-process-123456789012"}, "object": {"key": key}}
    return json.dumps({"Records": [record]})


def test_invoke_answers_synchronously(workflow: Workflow, aws_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "event.json").write_text(frame_event("frames/invoked.ppm"))
    invoked = run_faas("invoke", "frame-stats", "--file", str(tmp_path / "event.json"), "--root", str(workflow.root))
    assert invoked.code == 0, invoked.err
    response = json.loads(invoked.out)
    assert response["status"] == "succeeded"
    assert response["uploaded"] == ["s3://video-process-123456789012/output/invoked.json"]
    assert "[frame-stats] Lambda started by a direct invocation" in invoked.err

    failed = run_faas("invoke", "frame-stats", "--payload", "{}", "--root", str(workflow.root))
    assert failed.code == 1
    assert json.loads(failed.out)["errorType"] == "ScriptFailed"
    assert "[frame-stats] FAILED after" in failed.err and "not a binary PPM image" in failed.err


def test_invoke_async_runs_in_the_background(workflow: Workflow, aws_env: dict[str, str]) -> None:
    invoked = run_faas(
        "invoke", "frame-stats", "--payload", frame_event("frames/queued.ppm"), "--async", "--root", str(workflow.root)
    )
    assert invoked.code == 0, invoked.err
    assert "accepted (status 202)" in invoked.out  # `faas local` queued it
    s3, deadline = boto3.client("s3"), time.monotonic() + 30
    while "Contents" not in s3.list_objects_v2(Bucket="video-process-123456789012", Prefix="output/queued.json"):
        assert time.monotonic() < deadline, "the background invocation wrote nothing"
        time.sleep(0.2)


def test_put_without_running_keeps_folder_paths(workflow: Workflow, aws_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "batch" / "sub").mkdir(parents=True)
    (tmp_path / "batch" / "one.ppm").write_bytes(b"P6\n1 1\n255\n\x00\x00\x00")
    (tmp_path / "batch" / "sub" / "two.ppm").write_bytes(b"P6\n1 1\n255\n\xff\xff\xff")
    put = run_faas("put", "frame-stats", str(tmp_path / "batch"), "--no-run", "--root", str(workflow.root))
    assert put.code == 0, put.err
    assert put.err == "" and "local run" not in put.out
    keys = {
        o["Key"]
        for o in boto3.client("s3").list_objects_v2(Bucket="video-process-123456789012", Prefix="frames/")["Contents"]
    }
    assert {"frames/one.ppm", "frames/sub/two.ppm"} <= keys


def test_user_mistakes_are_one_line_errors(workflow: Workflow, aws_env: dict[str, str], tmp_path: Path) -> None:
    root = str(workflow.root)
    cases = [
        (("invoke", "no-such-function"), 1, "no function no-such-function in http://127.0.0.1:"),
        (("put", "frame-stats", str(tmp_path / "missing.ppm"), "--root", root), 2, "no such file or folder"),
        (("invoke", "frame-stats", "--payload", "{not json", "--root", root), 2, "the payload is not JSON"),
        (("logs", "frame-stats", "--since", "a while"), 2, "expected a number and a unit"),
    ]
    for args, code, message in cases:
        result = run_faas(*args)
        assert (result.code, result.err.count("\n")) == (code, 1), (args, result.err)
        assert result.err.startswith(f"faas {args[0]}: ") and message in result.err, result.err

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    unreachable = run_faas("ls", "--endpoint-url", f"http://127.0.0.1:{port}")
    assert unreachable.code == 1 and "is the emulator running? Start it with `faas local`" in unreachable.err


def test_an_endpoint_that_runs_functions_itself_gets_plain_api_calls(
    workflow: Workflow, aws_env: dict[str, str], moto_endpoint: str, tmp_path: Path
) -> None:
    """Where the endpoint is not the local emulator (AWS, or moto with Docker), faas only calls the APIs.

    Here the endpoint still runs the function (the tests' emulator does), so Invoke answers with the
    function's own failure on a payload that is not an S3 event.
    """
    request = urllib.request.Request(
        f"{moto_endpoint}/moto-api/config", data=b'{"batch": {"use_docker": true}}', method="POST"
    )
    urllib.request.urlopen(request, timeout=10).read()
    try:
        invoked = run_faas("invoke", "frame-stats", "--payload", '{"echo": 1}')
        assert invoked.code == 1 and "frame-stats failed (Unhandled)" in invoked.err
        assert json.loads(invoked.out)["errorType"]
        assert "accepted (status 202)" in run_faas("invoke", "frame-stats", "--async").out
        (tmp_path / "aws.ppm").write_bytes(b"P6\n1 1\n255\n\x00\x00\x00")
        put = run_faas("put", "frame-stats", str(tmp_path / "aws.ppm"), "--root", str(workflow.root))
        assert put.code == 0 and "frame-stats runs in AWS now" in put.out and put.err == ""
    finally:
        emulator.configure(moto_endpoint)


def test_help_of_every_command() -> None:
    with pytest.raises(SystemExit) as exited, contextlib.redirect_stdout(io.StringIO()) as out:
        faas(["--help"])
    assert exited.value.code == 0
    for command in ("local", "put", "get", "invoke", "logs", "job", "failed", "retry", "ls", "terraform destroy"):
        assert command in out.getvalue()
    for command in ("local", "put", "get", "invoke", "logs", "job", "failed", "retry", "ls"):
        with pytest.raises(SystemExit) as exited, contextlib.redirect_stdout(io.StringIO()) as out:
            faas([command, "--help"])
        assert exited.value.code == 0 and "usage: faas " + command in out.getvalue()


def test_faas_local_serves_localstack_clients_and_stops_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, network = free_port(), tmp_path / "network.yaml"
    command = [sys.executable, "-m", "render.faas_cli", "local", "--port", str(port), "--network-config", str(network)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        printed = "".join(server.stdout.readline() for _ in range(4))
        assert "\nsandbox: " in printed or printed.startswith("sandbox: "), printed  # what runs the images
        assert f"listening on http://127.0.0.1:{port}" in printed
        assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{port} AWS_ACCESS_KEY_ID=test" in printed
        assert "subnets: [subnet-" in network.read_text()

        taken = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert taken.returncode == 1 and "cannot listen on 127.0.0.1:" in taken.stderr

        from localstack_client.session import Session

        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # it would win over LOCALSTACK_HOST
        monkeypatch.setenv("LOCALSTACK_HOST", f"127.0.0.1:{port}")
        ec2 = Session().client("ec2")
        assert [v["CidrBlock"] for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.80.0.0/16"]
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert out.strip().endswith("AWS emulator stopped")
