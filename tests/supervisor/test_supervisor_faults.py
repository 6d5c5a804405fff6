"""Faults in the supervisor, against the real moto server (no mocking of boto3).

Each fault must end in a clear error and the documented outcome for partial output
(supervisor/README.md, "Failures"): a run whose script fails or is killed uploads nothing; a run
whose upload fails part-way keeps the objects it already wrote and names them in the error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from faas_supervisor import aws as sup_aws
from faas_supervisor.errors import ScriptFailed, StorageError, SupervisorError
from faas_supervisor.lambda_function import lambda_handler

from tests.supervisor.conftest import Aws, BatchInfra, ContextFactory, LambdaTask, S3Event

MB = 1024 * 1024


@pytest.fixture
def batch_env(aws: Aws, batch_infra: BatchInfra, monkeypatch: pytest.MonkeyPatch) -> BatchInfra:
    monkeypatch.setenv("FAAS_JOB_QUEUE", batch_infra.job_queue)
    monkeypatch.setenv("FAAS_JOB_DEFINITION", batch_infra.job_definition)
    monkeypatch.setenv("FAAS_ARTIFACTS_BUCKET", batch_infra.artifacts_bucket)
    return batch_infra


def gone(pid: int, wait: float = 3.0) -> bool:
    """No such process any more (a zombie counts as gone: it was killed, its parent reaps it)."""
    end = time.monotonic() + wait
    while True:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(") ", 1)[1].startswith("Z"):
                    return True
        except FileNotFoundError:
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.05)


def run_batch_entry(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "faas_supervisor", *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- 1. the input object is missing ---------------------------------------------------------


def test_missing_input_object_fails_clearly_and_uploads_nothing(
    aws: Aws, lambda_task: LambdaTask, s3_event: S3Event, context: ContextFactory
) -> None:
    src, dst = aws.bucket("in"), aws.bucket("out")
    lambda_task({"name": "fn", "output": [{"bucket": dst}]}, script='echo ran > "$TMP_OUTPUT_DIR/ran"\n')
    with pytest.raises(StorageError) as err:
        lambda_handler(s3_event(src, "in/no+such.txt"), context())
    message = str(err.value)
    assert f"s3://{src}/in/no such.txt" in message
    assert "does not exist" in message
    assert "function fn" in message
    assert aws.keys(dst) == []


def test_missing_input_bucket(aws: Aws, lambda_task: LambdaTask, s3_event: S3Event, context: ContextFactory) -> None:
    dst = aws.bucket("out")
    lambda_task({"name": "fn", "output": [{"bucket": dst}]}, script='echo ran > "$TMP_OUTPUT_DIR/ran"\n')
    with pytest.raises(StorageError, match="s3://no-such-bucket-faas-test/k.txt: .*does not exist"):
        lambda_handler(s3_event("no-such-bucket-faas-test", "k.txt"), context())
    assert aws.keys(dst) == []


def test_missing_input_does_not_stop_the_other_records(
    aws: Aws, lambda_task: LambdaTask, s3_event: S3Event, context: ContextFactory
) -> None:
    """README: with several S3 records one failing record does not stop the others."""
    src, dst = aws.bucket("in"), aws.bucket("out")
    aws.client("s3").put_object(Bucket=src, Key="in/there.txt", Body=b"here")
    lambda_task(
        {"name": "fn", "output": [{"bucket": dst}]},
        script='cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"\n',
    )
    with pytest.raises(StorageError) as err:
        lambda_handler(s3_event(src, "in/gone.txt", "in/there.txt"), context())
    message = str(err.value)
    assert f"s3://{src}/in/gone.txt" in message and "does not exist" in message
    assert "1 of 2 runs failed" in message
    assert aws.keys(dst) == ["there.txt"]  # the second record's run went through


def test_missing_input_in_a_batch_job(aws: Aws, s3_event: S3Event) -> None:
    artifacts, src, dst = aws.bucket("art"), aws.bucket("in"), aws.bucket("out")
    s3 = aws.client("s3")
    config = {"name": "fn", "script": "run.sh", "output": [{"bucket": dst}]}
    s3.put_object(Bucket=artifacts, Key="functions/fn/function_config.json", Body=json.dumps(config).encode())
    s3.put_object(Bucket=artifacts, Key="functions/fn/run.sh", Body=b'echo ran > "$TMP_OUTPUT_DIR/ran"\n')
    env = dict(
        os.environ,
        FAAS_CONFIG_URI=f"s3://{artifacts}/functions/fn/function_config.json",
        FAAS_EVENT=json.dumps(s3_event(src, "in/none.txt")),
    )
    proc = run_batch_entry(env)
    assert proc.returncode == 125, proc.stderr  # the supervisor failed, not the script
    assert f"s3://{src}/in/none.txt" in proc.stderr and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert aws.keys(dst) == []


# --- 2. S3 refuses requests mid-upload --------------------------------------------------------


def test_upload_refused_after_the_first_object(aws: Aws, lambda_task: LambdaTask, context: ContextFactory) -> None:
    """The second output points at a bucket that does not exist: S3 answers NoSuchBucket.

    A real refusal provoked on the moto server, no hook: the first PutObject (a.txt to the good
    bucket) succeeds, the second (a.txt to the missing bucket) is refused. Decision (README,
    "Outputs"): what was uploaded stays, and the error lists it; b.txt is never uploaded.
    """
    good = aws.bucket("out")
    missing = "faas-test-missing-output-bucket"
    lambda_task(
        {
            "name": "fn",
            "output": [{"bucket": good, "key_prefix": "o"}, {"bucket": missing, "key_prefix": "p"}],
        },
        script='echo a > "$TMP_OUTPUT_DIR/a.txt"\necho b > "$TMP_OUTPUT_DIR/b.txt"\n',
    )
    with pytest.raises(StorageError) as err:
        lambda_handler({"direct": True}, context())
    message = str(err.value)
    assert f"cannot upload a.txt to s3://{missing}/p/a.txt" in message
    assert "does not exist" in message
    assert f"already uploaded by this run and left in place: s3://{good}/o/a.txt" in message
    assert aws.keys(good) == ["o/a.txt"]  # kept, as documented; b.txt never went anywhere


def test_upload_refused_in_a_batch_job_exits_125(aws: Aws) -> None:
    artifacts, good = aws.bucket("art"), aws.bucket("out")
    missing = "faas-test-missing-output-bucket"
    s3 = aws.client("s3")
    config = {
        "name": "fn",
        "script": "run.sh",
        "output": [{"bucket": good}, {"bucket": missing}],
    }
    s3.put_object(Bucket=artifacts, Key="functions/fn/function_config.json", Body=json.dumps(config).encode())
    s3.put_object(Bucket=artifacts, Key="functions/fn/run.sh", Body=b'echo a > "$TMP_OUTPUT_DIR/a.txt"\n')
    env = dict(
        os.environ,
        FAAS_CONFIG_URI=f"s3://{artifacts}/functions/fn/function_config.json",
        FAAS_EVENT='{"k": 1}',
    )
    proc = run_batch_entry(env)
    assert proc.returncode == 125, proc.stderr
    assert f"s3://{missing}/a.txt" in proc.stderr
    assert f"left in place: s3://{good}/a.txt" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- 3. huge events ------------------------------------------------------------------------------


def api_event(body: str) -> dict:
    return {
        "resource": "/run",
        "path": "/run",
        "httpMethod": "POST",
        "headers": {"Content-Type": "text/plain"},
        "queryStringParameters": None,
        "requestContext": {"requestId": "api-1"},
        "body": body,
        "isBase64Encoded": False,
    }


EVENT_PROBE = (
    'wc -c < "$INPUT_FILE_PATH" | tr -d " " > "$TMP_OUTPUT_DIR/input-size"\n'
    'echo "${EVENT+set}" > "$TMP_OUTPUT_DIR/event-var"\n'
    'wc -c < "$EVENT_FILE_PATH" | tr -d " " > "$TMP_OUTPUT_DIR/event-file-size"\n'
)


def test_five_megabyte_api_gateway_body(aws: Aws, lambda_task: LambdaTask, context: ContextFactory) -> None:
    """5 MB fits Lambda's 6 MB synchronous payload but not one environment variable (128 KiB)."""
    dst = aws.bucket("out")
    lambda_task({"name": "fn", "output": [{"bucket": dst}]}, script=EVENT_PROBE)
    event = api_event("x" * (5 * MB))
    response = lambda_handler(event, context())
    assert response["statusCode"] == 200
    assert aws.read(dst, "input-size") == f"{5 * MB}\n".encode()
    assert aws.read(dst, "event-var") == b"\n"  # too large for EVENT: unset ...
    event_size = len(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode())
    assert aws.read(dst, "event-file-size") == f"{event_size}\n".encode()  # ... but in EVENT_FILE_PATH


def test_small_event_is_in_both_event_and_event_file(
    aws: Aws, lambda_task: LambdaTask, context: ContextFactory
) -> None:
    dst = aws.bucket("out")
    lambda_task(
        {"name": "fn", "output": [{"bucket": dst}]},
        script='printf %s "$EVENT" > "$TMP_OUTPUT_DIR/var"\ncp "$EVENT_FILE_PATH" "$TMP_OUTPUT_DIR/file"\n',
    )
    lambda_handler({"a": [1, 2]}, context())
    assert json.loads(aws.read(dst, "var")) == json.loads(aws.read(dst, "file")) == {"a": [1, 2]}


def test_huge_event_in_batch_mode_goes_through_s3_and_the_job_runs_it(
    aws: Aws, batch_env: BatchInfra, lambda_task: LambdaTask, context: ContextFactory
) -> None:
    """A 5 MB event in batch mode: staged in the artifacts bucket, the job reads it from there."""
    dst = aws.bucket("out")
    lambda_task({"name": "fn", "execution_mode": "batch"})
    event = api_event("y" * (5 * MB))
    sent: list[int] = []
    sup_aws.client("batch").meta.events.register(
        "before-send.batch.SubmitJob", lambda request, **_: sent.append(len(request.body or b""))
    )
    response = lambda_handler(event, context())
    assert response["statusCode"] == 202
    result = json.loads(response["body"])
    assert result["status"] == "submitted" and result["event_uri"].startswith(
        f"s3://{batch_env.artifacts_bucket}/events/fn/"
    )
    assert sent and sent[0] < 2048  # the request carries the URI, not the event
    (job,) = aws.client("batch").describe_jobs(jobs=[result["job_id"]])["jobs"]
    job_env = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert "FAAS_EVENT" not in job_env and job_env["FAAS_EVENT_URI"] == result["event_uri"]

    # The job, as Batch would start it: the same event from S3, the same script.
    s3 = aws.client("s3")
    config = {"name": "fn", "script": "run.sh", "output": [{"bucket": dst}]}
    s3.put_object(
        Bucket=batch_env.artifacts_bucket,
        Key="functions/fn/function_config.json",
        Body=json.dumps(config).encode(),
    )
    s3.put_object(Bucket=batch_env.artifacts_bucket, Key="functions/fn/run.sh", Body=EVENT_PROBE.encode())
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAAS_")}
    env.update(
        FAAS_CONFIG_URI=f"s3://{batch_env.artifacts_bucket}/functions/fn/function_config.json",
        FAAS_EVENT_URI=job_env["FAAS_EVENT_URI"],
    )
    proc = run_batch_entry(env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert aws.read(dst, "input-size") == f"{5 * MB}\n".encode()
    assert aws.read(dst, "event-var") == b"\n"


def test_huge_event_in_batch_mode_without_artifacts_bucket(
    aws: Aws, batch_env: BatchInfra, lambda_task: LambdaTask, context: ContextFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faas_supervisor.errors import ConfigError

    monkeypatch.delenv("FAAS_ARTIFACTS_BUCKET")
    lambda_task({"name": "fn", "execution_mode": "batch"})
    with pytest.raises(ConfigError, match="too large to pass to Batch by value and FAAS_ARTIFACTS_BUCKET"):
        lambda_handler({"blob": "z" * (64 * 1024)}, context())


def test_environment_too_large_to_start_the_script(
    aws: Aws, lambda_task: LambdaTask, context: ContextFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One variable above Linux's 128 KiB per-string limit: execve fails with E2BIG."""
    dst = aws.bucket("out")
    monkeypatch.setenv("BIG", "x" * 200_000)
    lambda_task(
        {"name": "fn", "container": {"environment_from": {"BIG": "BIG"}}, "output": [{"bucket": dst}]},
        script='echo ran > "$TMP_OUTPUT_DIR/ran"\n',
    )
    with pytest.raises(SupervisorError, match=r"cannot start /bin/sh: Argument list too long \(the environment holds"):
        lambda_handler({}, context())
    assert aws.keys(dst) == []


# --- 4. scripts that fork and never exit ------------------------------------------------------

FORKER = """
sleep 1000 & echo $! > {d}/child1
sleep 1000 & echo $! > {d}/child2
# A child that ignores SIGTERM and double-forks into a session of its own: the subshell forks
# and exits at once (the grandchild is orphaned), setsid gives the grandchild a new session.
( setsid sh -c 'trap "" TERM; echo "$$ $(cut -d" " -f6 /proc/$$/stat)" > {d}/escaped; exec sleep 1000' & )
while [ ! -s {d}/escaped ]; do sleep 0.01; done
echo partial > "$TMP_OUTPUT_DIR/partial.txt"
wait
"""


def _pids(folder: Path) -> dict[str, int]:
    escaped_pid, escaped_session = (folder / "escaped").read_text().split()
    assert escaped_pid == escaped_session, "the escapee did not get a session of its own"
    return {
        "child1": int((folder / "child1").read_text()),
        "child2": int((folder / "child2").read_text()),
        "escaped": int(escaped_pid),
    }


def test_forking_script_killed_at_the_deadline(
    aws: Aws, lambda_task: LambdaTask, context: ContextFactory, tmp_path: Path
) -> None:
    dst = aws.bucket("out")
    lambda_task(
        {"name": "fn", "container": {"timeout_threshold": 1}, "output": [{"bucket": dst}]},
        script=FORKER.format(d=tmp_path),
    )
    start = time.monotonic()
    with pytest.raises(ScriptFailed, match="killed at the deadline.*nothing uploaded"):
        lambda_handler({"direct": True}, context(remaining_ms=1800))
    assert time.monotonic() - start < 3  # no wait on the escapee's copy of the stderr pipe
    survivors = {name: pid for name, pid in _pids(tmp_path).items() if not gone(pid)}
    assert survivors == {}, f"processes of the run survived the deadline: {survivors}"
    assert aws.keys(dst) == []


def test_forking_script_in_lambda_batch_delegates(
    aws: Aws, batch_env: BatchInfra, lambda_task: LambdaTask, context: ContextFactory, tmp_path: Path
) -> None:
    dst = aws.bucket("out")
    lambda_task(
        {
            "name": "fn",
            "execution_mode": "lambda-batch",
            "container": {"timeout_threshold": 1},
            "output": [{"bucket": dst}],
        },
        script=FORKER.format(d=tmp_path),
    )
    result = lambda_handler({"direct": True}, context(remaining_ms=1800, request_id="req-fork"))
    assert result["status"] == "delegated" and result["job_name"] == "fn-req-fork"
    survivors = {name: pid for name, pid in _pids(tmp_path).items() if not gone(pid)}
    assert survivors == {}, f"processes of the run survived the delegation: {survivors}"
    assert aws.keys(dst) == []
    (job,) = aws.client("batch").describe_jobs(jobs=[result["job_id"]])["jobs"]
    assert job["jobQueue"] == batch_env.job_queue


def test_escaped_background_process_killed_after_a_normal_exit(
    aws: Aws, lambda_task: LambdaTask, context: ContextFactory, tmp_path: Path
) -> None:
    """Background processes are killed when the script exits, also those that left its group."""
    dst = aws.bucket("out")
    lambda_task(
        {"name": "fn", "output": [{"bucket": dst}]},
        script=f"""( setsid sh -c 'echo "$$ $(cut -d" " -f6 /proc/$$/stat)" > {tmp_path}/bg; exec sleep 1000' & )
while [ ! -s {tmp_path}/bg ]; do sleep 0.01; done
echo ok > "$TMP_OUTPUT_DIR/ok"
""",
    )
    start = time.monotonic()
    assert lambda_handler({}, context())["status"] == "succeeded"
    assert time.monotonic() - start < 3
    pid, session = (tmp_path / "bg").read_text().split()
    assert pid == session, "the background process did not leave the script's session"
    assert gone(int(pid))
    assert aws.keys(dst) == ["ok"]


# --- 5. output files that vanish ----------------------------------------------------------------


class Remover(threading.Thread):
    """Removes `victim` once this process has `trigger` open, i.e. while the supervisor (running
    in this process, as in Lambda) uploads it: the file list has been taken, the next file goes.

    A concurrent actor, not a hook: it polls /proc/self/fd, so no S3 or boto3 behaviour changes.
    In production the actor would be a process of the run that escaped the kill (README).
    """

    def __init__(self, trigger: str, victim: str) -> None:
        super().__init__(daemon=True)
        self.trigger, self.victim = trigger, victim
        self.removed: str | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for fd in os.listdir("/proc/self/fd"):
                try:
                    target = os.readlink(f"/proc/self/fd/{fd}")
                except OSError:
                    continue
                if target.endswith(self.trigger):
                    victim = Path(target).parent / self.victim
                    victim.unlink()
                    self.removed = str(victim)
                    return
            time.sleep(0.0005)


def test_output_file_vanishing_during_upload(aws: Aws, lambda_task: LambdaTask, context: ContextFactory) -> None:
    dst = aws.bucket("out")
    lambda_task(
        {"name": "fn", "output": [{"bucket": dst}]},
        script='dd if=/dev/zero of="$TMP_OUTPUT_DIR/a.bin" bs=1048576 count=40 2>/dev/null\n'
        'echo b > "$TMP_OUTPUT_DIR/b.txt"\n',
    )
    remover = Remover("/output/a.bin", "b.txt")
    remover.start()
    try:
        with pytest.raises(StorageError) as err:
            lambda_handler({}, context())
    finally:
        remover.stop.set()
        remover.join()
    assert remover.removed, "the remover did not see the upload of a.bin"
    message = str(err.value)
    assert "output file b.txt disappeared before it was uploaded" in message
    assert f"left in place: s3://{dst}/a.bin" in message
    assert aws.keys(dst) == ["a.bin"]


def test_output_removed_before_the_upload_starts_uploads_nothing(aws: Aws, tmp_path: Path) -> None:
    """Every listed file is checked before the first upload: one already gone means no upload."""
    from faas_supervisor import staging
    from faas_supervisor.config import Output

    dst = aws.bucket("out")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.txt").write_text("b")
    plan = staging.plan_uploads(tmp_path, (Output(dst),))
    (tmp_path / "b.txt").unlink()  # between the listing and the first upload
    with pytest.raises(SupervisorError, match="output file b.txt disappeared before it was uploaded"):
        staging.upload_plan(plan)
    assert aws.keys(dst) == []


def test_outputs_that_are_not_regular_files_are_skipped(
    aws: Aws, lambda_task: LambdaTask, context: ContextFactory, caplog: pytest.LogCaptureFixture
) -> None:
    dst = aws.bucket("out")
    lambda_task(
        {"name": "fn", "output": [{"bucket": dst}]},
        script='echo a > "$TMP_OUTPUT_DIR/a.txt"\nln -s nowhere "$TMP_OUTPUT_DIR/dangling"\n'
        'mkfifo "$TMP_OUTPUT_DIR/fifo"\n',
    )
    caplog.set_level("INFO", logger="faas_supervisor")
    result = lambda_handler({}, context())
    assert result["uploaded"] == [f"s3://{dst}/a.txt"]
    assert aws.keys(dst) == ["a.txt"]
    assert "output dangling is not a regular file: not uploaded" in caplog.text
    assert "output fifo is not a regular file: not uploaded" in caplog.text
