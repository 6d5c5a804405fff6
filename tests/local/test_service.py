"""`faas local` runs what uploads trigger, whoever uploads: boto3, multipart uploads, `faas put`.

A real `faas local` process on a free port gets a two-step workflow applied by Terraform
(tests/local/conftest.py: `upper` writes into `count`'s input folder); the tests upload with plain
boto3 and with the `faas` commands, and read what the emulator ran from its output and from S3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig

from render.local.activity import Activity
from render.local.s3_events import from_moto_event, is_moto_duplicate
from tests.helpers import requires_terraform
from tests.local.faas_local import BUCKET, Running

pytestmark = [requires_terraform(), pytest.mark.terraform, pytest.mark.slow]


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
