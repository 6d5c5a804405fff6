"""`faas local` runs functions deployed as images in their images: warm, side by side, and Batch jobs too.

A real `faas local` process gets image functions deployed straight through boto3
(tests/local/image_deployment.py: busybox + the real static supervisor + the function's layer,
pushed into its ECR); uploads run them, and the tests read what they wrote and what `faas local`
said. The images hold a tool (`shout`) and a file (/etc/faas-image) that this host does not.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faas_supervisor import contract

from render.local.activity import activity, follow
from render.local.execution import cgroups
from tests.helpers import aws_variables, run_faas
from tests.local.faas_local import FaasLocal, faas_local
from tests.local.image_deployment import MARKER, Deployment

pytestmark = pytest.mark.slow

BUCKET = "local-images"
SHOUT = """\
name=$(basename "$INPUT_FILE_PATH")
case "$name" in *fail*) echo "refusing $name" >&2; exit 3;; esac
case "$name" in *slow*) sleep 3;; esac  # long enough for every upload to arrive, on a loaded machine too
shout < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$name"
"""
OWN_COMMAND = ['tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/own.txt"']  # after the base's /bin/sh -c
WHERE = f'if [ -e {MARKER} ]; then echo image; else echo host; fi > "$TMP_OUTPUT_DIR/where.txt"\n'
HOG = "dd if=/dev/zero of=/dev/null bs=300M count=1\n"  # a 300 MiB buffer, touched, in a 128 MB function
BOMB = "bomb() { bomb | bomb & }; bomb; wait\n"


class Deployed(FaasLocal):
    def wait_for(self, key: str, timeout: float = 60) -> bytes:
        s3 = self.client("s3")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
            except s3.exceptions.NoSuchKey:
                time.sleep(0.1)
        raise AssertionError(f"{key} never appeared; faas local said:\n{self.log.read_text()}")

    def said(self, name: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if line.startswith(f"[{name}] ")]


def deploy(local: FaasLocal, supervisor: Path, folder: Path, *names: str) -> Deployment:
    deployment = Deployment(local.endpoint, supervisor, folder, BUCKET)
    deployment.setup()
    scripts = {"shout": SHOUT, "own": None, "where": WHERE, "single": SHOUT, "batchy": SHOUT, "hog": HOG, "bomb": BOMB}
    for name in names:
        deployment.function(
            name,
            scripts[name],
            command=OWN_COMMAND if name == "own" else None,
            batch=name == "batchy",
            reserved=1 if name == "single" else None,
        )
    return deployment


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, frozen_supervisor: Path) -> Iterator[Deployed]:
    work = tmp_path_factory.mktemp("local-images")
    # three workers: `single` (reserved concurrency 1) holds one at most, so two are left for `shout`
    with faas_local(work, "--concurrency", "3") as local:
        deploy(local, frozen_supervisor, work, "shout", "own", "where", "single", "batchy", "hog", "bomb")
        yield Deployed(local.endpoint, local.pid, local.log)


def test_the_sandbox_is_named_at_start(deployed: Deployed) -> None:
    assert re.search(r"^sandbox: \S+ \(", deployed.log.read_text(), re.MULTILINE), deployed.log.read_text()


def test_a_tool_only_the_image_has_runs_and_the_instance_stays_warm(deployed: Deployed) -> None:
    s3 = deployed.client("s3")
    s3.put_object(Bucket=BUCKET, Key="in-shout/first.txt", Body=b"hello image\n")
    assert deployed.wait_for("out-shout/first.txt") == b"HELLO IMAGE\n"
    deployed.settle()
    s3.put_object(Bucket=BUCKET, Key="in-shout/second.txt", Body=b"warm\n")
    assert deployed.wait_for("out-shout/second.txt") == b"WARM\n"
    deployed.settle()
    finished = [line for line in deployed.said("shout") if " finished in " in line]
    assert len(finished) == 2 and "(cold start)" in finished[0], deployed.log.read_text()
    assert "(cold start)" not in finished[1], deployed.log.read_text()
    events = deployed.client("logs").filter_log_events(logGroupName="/aws/lambda/shout")["events"]
    messages = [event["message"] for event in events]
    assert sum(m.startswith("START RequestId: ") for m in messages) == 2
    assert any("s3://local-images/in-shout/second.txt" in m for m in messages), messages  # the supervisor's own
    assert sum(m.startswith("REPORT RequestId: ") for m in messages) == 2
    assert len({event["logStreamName"] for event in events}) == 1  # one instance served both


def test_invoke_answers_with_the_image_functions_result(deployed: Deployed) -> None:
    s3, lam = deployed.client("s3"), deployed.client("lambda")
    s3.put_object(Bucket=BUCKET, Key="stage/invoked.txt", Body=b"invoked\n")
    s3.put_object(Bucket=BUCKET, Key="stage/fail.txt", Body=b"no\n")
    record: dict[str, Any] = {
        "eventSource": "aws:s3",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": "stage/invoked.txt"}},
    }
    answer = lam.invoke(FunctionName="shout", Payload=json.dumps({"Records": [record]}).encode())
    result = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer and result["status"] == "succeeded", result
    assert result["uploaded"] == [f"s3://{BUCKET}/out-shout/invoked.txt"]
    record["s3"]["object"]["key"] = "stage/fail.txt"
    answer = lam.invoke(FunctionName="shout", Payload=json.dumps({"Records": [record]}).encode())
    error = json.loads(answer["Payload"].read())
    assert answer.get("FunctionError") == "Unhandled" and "exited with status 3" in error["errorMessage"], error


def test_without_a_script_the_images_own_command_runs(deployed: Deployed) -> None:
    deployed.client("s3").put_object(Bucket=BUCKET, Key="in-own/text.txt", Body=b"own command\n")
    assert deployed.wait_for("out-own/own.txt") == b"OWN COMMAND\n"
    where = "in-where/probe.txt"
    deployed.client("s3").put_object(Bucket=BUCKET, Key=where, Body=b"?")
    assert deployed.wait_for("out-where/where.txt") == b"image\n"
    assert "notice:" not in deployed.log.read_text()


def test_a_batch_job_runs_in_its_image_and_faas_put_waits_for_every_run(deployed: Deployed, tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    for n in range(4):
        (files / f"part-{n}.txt").write_text(f"part {n}\n")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in aws_variables(deployed.endpoint).items():
            patch.setenv(name, value)
        put = run_faas("put", "batchy", str(files))
        (tmp_path / "fail.txt").write_text("no")
        failed = run_faas("put", "batchy", str(tmp_path / "fail.txt"))
    assert put.code == 0, put.err
    assert "local run: 8 run(s), 4 object(s) written" in put.out, put.out + put.err  # 4 Lambda runs, 4 jobs
    for n in range(4):
        assert f"[batchy]   wrote s3://{BUCKET}/out-batchy/part-{n}.txt" in put.err
        got = deployed.client("s3").get_object(Bucket=BUCKET, Key=f"out-batchy/part-{n}.txt")["Body"].read()
        assert got == f"PART {n}\n".encode()
    assert re.search(r"\[batchy\] Batch job \S+ running in its image", put.err), put.err
    assert failed.code == 1, failed.err
    assert "refusing fail.txt" in failed.err and "FAILED (exit status 3)" in failed.err
    jobs = deployed.client("logs").filter_log_events(logGroupName=contract.BATCH_LOG_GROUP)["events"]
    assert any("refusing fail.txt" in event["message"] for event in jobs)


def test_uploads_at_once_run_side_by_side_and_reserved_concurrency_caps_a_function(deployed: Deployed) -> None:
    start = activity(deployed.endpoint)
    assert start is not None
    s3 = deployed.client("s3")
    keys = [f"in-{name}/slow-{n}.txt" for name in ("shout", "single") for n in range(3)]
    uploads = [threading.Thread(target=s3.put_object, kwargs={"Bucket": BUCKET, "Key": k, "Body": b"x"}) for k in keys]
    for upload in uploads:
        upload.start()
    for upload in uploads:
        upload.join()
    summary = follow(deployed.endpoint, start, progress=lambda line: None)
    assert (summary.runs, summary.failed, len(summary.written)) == (6, [], 6), deployed.log.read_text()
    single = [line for line in deployed.said("single") if " started by " in line or " finished in " in line]
    assert [" started by " in line for line in single] == [True, False] * 3, single  # one at a time
    lines = deployed.log.read_text().splitlines()
    shout = [n for n, line in enumerate(lines) if line.startswith("[shout] ") and "slow-" in line]
    first_finished = next(n for n, line in enumerate(lines) if line.startswith("[shout] finished") and n > shout[0])
    assert sum(n < first_finished for n in shout) >= 2, lines  # a second one started before the first ended


def test_a_memory_hog_and_a_fork_bomb_fail_their_own_invocations_with_a_failure_record(deployed: Deployed) -> None:
    """Each instance's cgroups bound it (as root): the hog is killed at its memory, the bomb at its
    processes and deadline; each invocation fails as Lambda's would, its record reaches the on-failure
    destination, and the emulator and the other functions go on answering."""
    if cgroups.missing():
        pytest.skip(f"not bounded here: {cgroups.missing()}")
    lam, sqs, s3 = deployed.client("lambda"), deployed.client("sqs"), deployed.client("s3")
    queue = sqs.create_queue(QueueName="bounds-failures")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for name, memory, timeout in (("hog", 128, 30), ("bomb", 512, 5)):
        lam.update_function_configuration(FunctionName=name, MemorySize=memory, Timeout=timeout)
        lam.put_function_event_invoke_config(
            FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": arn}}
        )
        s3.put_object(Bucket=BUCKET, Key=f"in-{name}/attack.txt", Body=b"x")
    records: dict[str, Any] = {}
    deadline = time.monotonic() + 120
    while len(records) < 2 and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            record = json.loads(message["Body"])
            records[record["requestContext"]["functionArn"].split(":")[6]] = record
    assert set(records) == {"hog", "bomb"}, deployed.log.read_text()
    hog, bomb = records["hog"]["responsePayload"], records["bomb"]["responsePayload"]
    assert hog["errorType"] == "Runtime.ExitError" and "signal: killed" in hog["errorMessage"], hog
    assert "Task timed out after 5.00 seconds" in bomb["errorMessage"] or "killed" in bomb["errorMessage"], bomb
    s3.put_object(Bucket=BUCKET, Key="in-shout/after.txt", Body=b"still here\n")
    assert deployed.wait_for("out-shout/after.txt") == b"STILL HERE\n"


def test_on_host_runs_on_this_host_only_when_asked_and_says_so(tmp_path: Path, frozen_supervisor: Path) -> None:
    with faas_local(tmp_path, "--on-host") as local:
        deploy(local, frozen_supervisor, tmp_path, "where")
        deployed = Deployed(local.endpoint, local.pid, local.log)
        for n in range(2):
            deployed.client("s3").put_object(Bucket=BUCKET, Key=f"in-where/{n}.txt", Body=b"?")
            assert deployed.wait_for("out-where/where.txt") == b"host\n"
            deployed.client("s3").delete_object(Bucket=BUCKET, Key="out-where/where.txt")
            deployed.settle()
        said = local.log.read_text()
    assert "notice: --on-host" in said and "sandbox:" not in said
    assert said.count("notice: where runs on this host, not in its image") == 2, said


def test_without_a_sandbox_faas_local_names_the_package_to_install(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "HOME": os.environ.get("HOME", str(tmp_path))}  # no bwrap, proot, podman, unshare
    local = subprocess.run(
        [sys.executable, "-m", "render.faas_cli", "local", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert local.returncode == 2, local.stdout + local.stderr
    assert "apt-get install bubblewrap" in local.stderr and "listening" not in local.stdout


def test_a_job_whose_image_cannot_be_read_fails_as_a_job(deployed: Deployed, tmp_path: Path) -> None:
    """Last of the module's tests on `deployed`: batchy's job definition is broken from now on."""
    batch = deployed.client("batch")
    (current,) = batch.describe_job_definitions(jobDefinitionName="batchy", status="ACTIVE")["jobDefinitions"][-1:]
    properties = {**current["containerProperties"], "image": f"{deployed.endpoint.split('//')[1]}/nowhere:1"}
    batch.register_job_definition(jobDefinitionName="batchy", type="container", containerProperties=properties)
    (tmp_path / "lost.txt").write_text("lost")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in aws_variables(deployed.endpoint).items():
            patch.setenv(name, value)
        put = run_faas("put", "batchy", str(tmp_path / "lost.txt"))
    assert put.code == 1, put.err
    assert re.search(r"\[batchy\] Batch job \S+ FAILED: it could not start: cannot run the image", put.err), put.err
    assert "local run: 2 run(s), 1 failed" in put.out
