"""`faas local` runs what uploads trigger, whoever uploads: boto3, multipart uploads, `faas put`.

A real `faas local` process on a free port gets a two-step workflow applied by Terraform
(`upper` writes into `count`'s input folder); the tests upload with plain boto3 and with the
`faas` commands, and read what the emulator ran from its output and from S3.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

from render.local.service import Activity, activity, from_moto_event, is_moto_duplicate
from tests.helpers import aws_variables, free_port, render, requires_terraform, run_faas

BUCKET = "local-service-faas"
FDL = f"""\
functions:
  aws:
  - lambda:
      name: upper
      memory: 128
      timeout: 30
      init_script: upper.sh
      container: {{image: alpine:3.20}}
      input: [{{storage_provider: s3, path: {BUCKET}/in}}]
      output: [{{storage_provider: s3, path: {BUCKET}/mid}}]
  - lambda:
      name: count
      memory: 128
      timeout: 30
      init_script: count.sh
      container: {{image: alpine:3.20}}
      input: [{{storage_provider: s3, path: {BUCKET}/mid}}]
      output: [{{storage_provider: s3, path: {BUCKET}/out}}]
"""
UPPER = """\
#!/bin/sh
set -eu
name=$(basename "$INPUT_FILE_PATH")
case "$name" in *fail*) echo "refusing $name" >&2; exit 3;; esac
tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$name"
"""
COUNT = """\
#!/bin/sh
set -eu
wc -c < "$INPUT_FILE_PATH" | tr -d ' ' > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH").count"
"""

pytestmark = [requires_terraform(), pytest.mark.terraform, pytest.mark.slow]


@dataclass(frozen=True)
class Running:
    endpoint: str
    root: Path
    log: Path  # what `faas local` printed

    def s3(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def faas(self, *args: str) -> Any:
        """A `faas` command pointed at this emulator."""
        with pytest.MonkeyPatch.context() as patch:
            for name, value in aws_variables(self.endpoint).items():
                patch.setenv(name, value)
            return run_faas(*args, "--root", str(self.root))

    def settle(self, timeout: float = 60) -> None:
        """Wait until the emulator has nothing queued or running."""
        deadline = time.monotonic() + timeout
        while (now := activity(self.endpoint)) is not None and now.pending and time.monotonic() < deadline:
            time.sleep(0.1)
        assert now is not None and now.pending == 0, self.log.read_text()

    def wait_for(self, key: str, timeout: float = 60) -> bytes:
        s3 = self.s3()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
            except s3.exceptions.NoSuchKey:
                time.sleep(0.2)
        raise AssertionError(f"{key} never appeared; the emulator said:\n{self.log.read_text()}")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    work = tmp_path_factory.mktemp("local-service")
    port, log = free_port(), work / "faas-local.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "render.faas_cli", "local", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        while "listening on" not in log.read_text():
            assert server.poll() is None, log.read_text()
            time.sleep(0.1)
        (work / "fdl.yaml").write_text(FDL)
        (work / "upper.sh").write_text(UPPER)
        (work / "count.sh").write_text(COUNT)
        with pytest.MonkeyPatch.context() as patch:
            for name, value in aws_variables(endpoint).items():
                patch.setenv(name, value)
            assert render(work / "fdl.yaml", work / "root", "--apply") == 0
            yield Running(endpoint, work / "root", log)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    assert server.returncode == 0, log.read_text()
    assert log.read_text().rstrip().endswith("AWS emulator stopped")


def test_an_upload_by_any_client_runs_the_workflow(running: Running) -> None:
    running.s3().put_object(Bucket=BUCKET, Key="in/plain.txt", Body=b"hello")
    assert running.wait_for("mid/plain.txt") == b"HELLO"
    assert running.wait_for("out/plain.txt.count").strip() == b"5"
    said = running.log.read_text()
    assert f"[upper] Lambda started by s3://{BUCKET}/in/plain.txt" in said
    assert f"[count] Lambda started by s3://{BUCKET}/mid/plain.txt" in said


def test_a_multipart_upload_runs_the_function_once(running: Running, tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (6 * 1024 * 1024))
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    running.s3().upload_file(str(big), BUCKET, "in/big.txt", Config=config)
    assert running.wait_for("out/big.txt.count").strip() == str(6 * 1024 * 1024).encode()
    running.settle()
    assert running.log.read_text().count(f"[upper] Lambda started by s3://{BUCKET}/in/big.txt") == 1


def test_faas_put_shows_the_runs_and_waits_for_the_last(running: Running, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("abc")
    (tmp_path / "fail.txt").write_text("no")
    put = running.faas("put", "upper", str(tmp_path / "a.txt"))
    failed = running.faas("put", "upper", str(tmp_path / "fail.txt"))
    assert put.code == 0, put.err
    assert f"[count]   wrote s3://{BUCKET}/out/a.txt.count" in put.err  # the last step, shown before exiting
    assert "local run: 2 run(s), 2 object(s) written" in put.out
    assert running.s3().get_object(Bucket=BUCKET, Key="out/a.txt.count")["Body"].read().strip() == b"3"
    assert failed.code == 1
    assert "[upper] FAILED after" in failed.err and "1 failed (upper)" in failed.out


def test_faas_invoke_follows_what_its_outputs_trigger(running: Running) -> None:
    running.s3().put_object(Bucket=BUCKET, Key="in/direct.txt", Body=b"four")
    running.wait_for("out/direct.txt.count")
    running.settle()
    event = f'{{"Records": [{{"eventSource": "aws:s3", "s3": {{"bucket": {{"name": "{BUCKET}"}}, "object": {{"key": "in/direct.txt"}}}}}}]}}'
    invoked = running.faas("invoke", "upper", "--payload", event)
    assert invoked.code == 0, invoked.err
    assert "[upper] Lambda started by a direct invocation" in invoked.err
    assert f"[count] Lambda started by s3://{BUCKET}/mid/direct.txt" in invoked.err  # run by the emulator
    assert "local run: 2 run(s), 2 object(s) written" in invoked.err


def moto_event(event_name: str, etag: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "awsRegion": "us-east-1",
                "eventName": event_name,
                "s3": {
                    "configurationId": "c1",
                    "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
                    "object": {"key": "in%2Fmy+file.txt", "size": 3, "eTag": etag},
                },
            }
        ]
    }


def test_moto_events_become_s3_events() -> None:
    event, uri = from_moto_event(moto_event("ObjectCreated:CompleteMultipartUpload", "abc-2"))
    assert uri == "s3://b/in/my file.txt"
    (record,) = event["Records"]
    assert record["eventName"] == "ObjectCreated:CompleteMultipartUpload"
    assert record["s3"]["object"]["key"] == "in/my+file.txt"  # S3 leaves '/' alone
    assert (record["s3"]["configurationId"], record["s3"]["object"]["eTag"]) == ("c1", "abc-2")


def test_only_motos_extra_multipart_event_is_dropped() -> None:
    assert is_moto_duplicate(moto_event("ObjectCreated:Put", "abc-2"))
    assert not is_moto_duplicate(moto_event("ObjectCreated:Put", "abc"))
    assert not is_moto_duplicate(moto_event("ObjectCreated:CompleteMultipartUpload", "abc-2"))


def test_activity_since_counts_only_what_happened_after() -> None:
    start = Activity(pending=0, next=4, runs=2, failed=["a"], written=["s3://b/1"])
    now = Activity(pending=0, next=9, runs=5, failed=["a", "b"], written=["s3://b/1", "s3://b/2"])
    summary = now.since(start)
    assert (summary.runs, summary.failed, summary.written) == (3, ["b"], ["s3://b/2"])
