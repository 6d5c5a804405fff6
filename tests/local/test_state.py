"""`faas local --state DIR`: a burst of uploads, `kill -9` mid-way, a restart with the same DIR.

Every event must be accounted for afterwards: its output written, or its failure listed by
`faas failed`. The bucket, the function, its image (it runs again from the emulator's ECR) and the
failures queue come back from the recorded requests; the events that were running or queued when
the emulator died come back from the journal. A clean stop and a third start keep all of it.
Batch jobs come back with the ends they had, and a job the kill cut short comes back FAILED.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from faas_supervisor import contract

from render.local.state import CUT_SHORT, JOURNAL, RECORDING, Journal, Pending, claim
from tests.local.faas_local import FaasLocal, faas_local
from tests.local.image_deployment import Deployment
from tests.local.test_unrunnable import kept

pytestmark = pytest.mark.slow

BUCKET = "local-state"
QUEUE = "state-failures"
UPLOADS = 16
SLOW_SHOUT = """\
name=$(basename "$INPUT_FILE_PATH")
sleep 1
case "$name" in *7*) echo "refusing $name" >&2; exit 3;; esac
shout < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$name"
"""


def deploy(local: FaasLocal, supervisor: Path, folder: Path) -> None:
    """`shout`, fired by BUCKET/in-shout/, no retry, failures kept in QUEUE."""
    deployment = Deployment(local.endpoint, supervisor, folder, BUCKET)
    deployment.setup()
    deployment.function("shout", SLOW_SHOUT)
    local.client("sqs").create_queue(QueueName=QUEUE)
    local.client("lambda").put_function_event_invoke_config(
        FunctionName="shout",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:sqs:us-east-1:123456789012:{QUEUE}"}},
    )


def outputs(local: FaasLocal) -> set[str]:
    listed = local.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="out-shout/").get("Contents", [])
    return {item["Key"].rsplit("/", 1)[-1] for item in listed}


def accounted(local: FaasLocal) -> tuple[set[str], set[str]]:
    """The inputs whose output was written, and the ones `faas failed` lists."""
    failed = {failure["input"].rsplit("/", 1)[-1] for failure in kept(local, "shout")}
    return outputs(local), failed


def test_a_killed_emulator_restarted_with_its_state_loses_no_event(tmp_path: Path, frozen_supervisor: Path) -> None:
    tmp_path.chmod(0o755)  # the sandbox's user passes through it
    state = tmp_path / "state"
    names = [f"event-{n:02}.txt" for n in range(UPLOADS)]
    with faas_local(tmp_path, "--state", str(state), "--concurrency", "2") as first:
        assert "state: kept in" in first.log.read_text()
        deploy(first, frozen_supervisor, tmp_path)
        s3 = first.client("s3")
        for name in names:
            s3.put_object(Bucket=BUCKET, Key=f"in-shout/{name}", Body=name.encode())
        deadline = time.monotonic() + 60
        while len(outputs(first)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        first_outputs = outputs(first)  # the kill comes with events still queued and running
        os.kill(first.pid, signal.SIGKILL)
    assert 3 <= len(first_outputs) < UPLOADS - 2, first_outputs
    assert (state / RECORDING).stat().st_size and (state / JOURNAL).exists()

    started = time.monotonic()
    with faas_local(tmp_path, "--state", str(state), "--concurrency", "2") as second:
        said = second.log.read_text()
        assert "event(s) in flight queued again" in said, said
        second.settle(timeout=90)
        written, failed = accounted(second)
        log = second.log.read_text()
    took = time.monotonic() - started
    assert first_outputs <= written, log
    assert written | failed == set(names), (sorted(written), sorted(failed), log)
    assert "event-07.txt" in failed and "event-07.txt" not in written, log
    assert "(in flight when the emulator stopped)" in log
    assert took < 60, took

    with faas_local(tmp_path, "--state", str(state)) as third:  # after a clean stop
        assert accounted(third) == (written, failed)
        assert "0 event(s) in flight" in third.log.read_text()
    assert (state / JOURNAL).read_text() == ""  # nothing was in flight at the clean stop


JOB = """\
case "$INPUT_FILE_PATH" in *bad*) exit 3;; *slow*) sleep 6;; esac
cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"
"""
EXITED = "Essential container in task exited"


def jobs(local: FaasLocal) -> dict[str, tuple[str, ...]]:
    """Every Batch job by the input it ran for: (status, statusReason, exit code, started, stopped), in order."""
    batch = local.client("batch")
    queue = batch.describe_job_queues()["jobQueues"][0]["jobQueueArn"]
    ids = [
        j["jobId"]
        for j in batch.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": ["*"]}])["jobSummaryList"]
    ]
    found: dict[str, tuple[str, ...]] = {}
    for job in batch.describe_jobs(jobs=ids)["jobs"]:
        event = next(e["value"] for e in job["container"]["environment"] if e["name"] == contract.EVENT)
        name = next(n for n in ("ok", "bad", "slow") if f"in-jobs/{n}.txt" in event)
        ends = (job.get("statusReason"), job["container"].get("exitCode"), job.get("startedAt"), job.get("stoppedAt"))
        found[f"{name}@{job['createdAt']}"] = (job["status"], *map(str, ends))
    return dict(sorted(found.items()))


def test_batch_jobs_keep_their_end_across_restarts_and_one_cut_short_fails(
    tmp_path: Path, frozen_supervisor: Path
) -> None:
    tmp_path.chmod(0o755)
    state = tmp_path / "state"
    with faas_local(tmp_path, "--state", str(state)) as first:
        s3, batch = first.client("s3"), first.client("batch")
        # An unmanaged compute environment: a replay gives EC2's subnets and security groups new ids.
        environment = batch.create_compute_environment(computeEnvironmentName="jobs", type="UNMANAGED")
        queue = batch.create_job_queue(
            jobQueueName="jobs",
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}],
        )["jobQueueArn"]
        deployment = Deployment(first.endpoint, frozen_supervisor, tmp_path, BUCKET, _queue=queue)
        deployment.setup()
        deployment.function("jobs", JOB, batch=True)
        for name in ("ok", "bad"):
            s3.put_object(Bucket=BUCKET, Key=f"in-jobs/{name}.txt", Body=b"x")
        first.settle(timeout=60)
        s3.put_object(Bucket=BUCKET, Key="in-jobs/slow.txt", Body=b"x")
        deadline = time.monotonic() + 30
        while not batch.list_jobs(jobQueue=queue, jobStatus="RUNNING")["jobSummaryList"]:
            assert time.monotonic() < deadline, first.log.read_text()
            time.sleep(0.1)
        ran = jobs(first)
        os.kill(first.pid, signal.SIGKILL)
    statuses = sorted(end[:3] for end in ran.values())
    assert statuses == [
        ("FAILED", EXITED, "3"),
        ("RUNNING", "None", "None"),
        ("SUCCEEDED", EXITED, "0"),
    ], ran

    with faas_local(tmp_path, "--state", str(state)) as second:
        second.settle(timeout=60)
        replayed = jobs(second)
        log = second.log.read_text()
    cut, *rerun = [key for key in replayed if key.startswith("slow@")]
    assert replayed[cut][:2] == ("FAILED", CUT_SHORT), (replayed, log)
    assert [replayed[key][:3] for key in rerun] == [("SUCCEEDED", EXITED, "0")], (replayed, log)  # its event ran again
    for key in ("ok", "bad"):  # new ids, the same ends, times included
        assert [v for k, v in replayed.items() if k.startswith(f"{key}@")] == [
            v for k, v in ran.items() if k.startswith(f"{key}@")
        ]

    with faas_local(tmp_path, "--state", str(state)) as third:  # after a clean stop
        again = jobs(third)
    assert sorted(again.values()) == sorted(replayed.values())  # the cut-short one too


def test_the_journal_keeps_what_did_not_finish_and_skips_a_torn_line(tmp_path: Path) -> None:
    journal = Journal(tmp_path / JOURNAL)
    first, second = (
        Pending(n, "arn:aws:lambda:us-east-1:123456789012:function:f", {"n": n}, "an upload") for n in "ab"
    )
    journal.started(first)
    journal.started(second)
    journal.finished("a")
    with (tmp_path / JOURNAL).open("a") as torn:
        torn.write('{"id": "c", "func')  # a crash in the middle of a write
    assert journal.unfinished() == [second]
    assert journal.unfinished() == [second]  # rewritten to hold it alone


def test_one_emulator_at_a_time_keeps_its_state_in_a_folder(tmp_path: Path) -> None:
    claim(tmp_path / "state")
    with pytest.raises(OSError, match="another faas local keeps its state there"):
        claim(tmp_path / "state")
