"""Batch submission (batch mode, lambda-batch delegation) and the Batch entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from faas_supervisor import aws as sup_aws
from faas_supervisor.batch_submit import SUBMIT_JOB_LIMIT
from faas_supervisor.lambda_function import lambda_handler

from tests.supervisor.conftest import Aws, BatchInfra, ContextFactory, LambdaTask, S3Event


@pytest.fixture
def batch_env(aws: Aws, batch_infra: BatchInfra, monkeypatch: pytest.MonkeyPatch) -> BatchInfra:
    monkeypatch.setenv("FAAS_JOB_QUEUE", batch_infra.job_queue)
    monkeypatch.setenv("FAAS_JOB_DEFINITION", batch_infra.job_definition)
    monkeypatch.setenv("FAAS_ARTIFACTS_BUCKET", batch_infra.artifacts_bucket)
    return batch_infra


@pytest.fixture
def submit_bodies(aws: Aws) -> list[int]:
    """Sizes of the SubmitJob request bodies the supervisor's Batch client sends."""
    sizes: list[int] = []

    def record(request: Any, **_: Any) -> None:
        sizes.append(len(request.body or b""))

    sup_aws.client("batch").meta.events.register("before-send.batch.SubmitJob", record)
    return sizes


def job_env(aws: Aws, job_id: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The job's container environment, and the job as DescribeJobs tells it."""
    (job,) = aws.client("batch").describe_jobs(jobs=[job_id])["jobs"]
    return {e["name"]: e["value"] for e in job["container"]["environment"]}, job


def test_batch_mode_submits_event_by_value(
    aws: Aws,
    batch_env: BatchInfra,
    lambda_task: LambdaTask,
    s3_event: S3Event,
    context: ContextFactory,
    submit_bodies: list[int],
) -> None:
    lambda_task({"name": "plants", "execution_mode": "batch"}, script="exit 99\n")
    event = s3_event("some-bucket", "in/a+b.txt")
    ctx = context(request_id="0b9f3a1c-1111-2222-3333-444455556666")
    result = lambda_handler(event, ctx)
    assert result["status"] == "submitted"
    assert result["job_name"] == "plants-0b9f3a1c-1111-2222-3333-444455556666"
    env, job = job_env(aws, result["job_id"])
    assert job["jobName"] == result["job_name"]
    assert job["jobQueue"] == batch_env.job_queue
    assert batch_env.job_definition in job["jobDefinition"]
    assert json.loads(env["FAAS_EVENT"]) == event
    assert "FAAS_EVENT_URI" not in env
    assert env["FAAS_CONFIG_URI"].endswith("function_config.json")  # from the job definition
    assert submit_bodies and submit_bodies[0] < SUBMIT_JOB_LIMIT


def test_batch_mode_large_event_goes_through_s3(
    aws: Aws, batch_env: BatchInfra, lambda_task: LambdaTask, context: ContextFactory, submit_bodies: list[int]
) -> None:
    lambda_task({"name": "plants", "execution_mode": "batch"})
    event = {"payload": "x" * 40_000, "quote": '"' * 2000}
    result = lambda_handler(event, context())
    env, _ = job_env(aws, result["job_id"])
    assert "FAAS_EVENT" not in env
    uri = env["FAAS_EVENT_URI"]
    assert uri == result["event_uri"]
    bucket, key = uri[len("s3://") :].split("/", 1)
    assert bucket == batch_env.artifacts_bucket and key.startswith("events/plants/") and key.endswith(".json")
    assert json.loads(aws.read(bucket, key)) == event
    assert submit_bodies[0] < 2048


def test_batch_mode_request_just_under_the_limit_stays_by_value(
    aws: Aws, batch_env: BatchInfra, lambda_task: LambdaTask, context: ContextFactory, submit_bodies: list[int]
) -> None:
    lambda_task({"name": "plants", "execution_mode": "batch"})
    # escaping doubles quotes' size inside the request: measure what botocore sends, not the event
    event = {"payload": "y" * 28_000, "q": '"' * 300}
    result = lambda_handler(event, context())
    env, _ = job_env(aws, result["job_id"])
    assert "FAAS_EVENT" in env
    assert 28_000 < submit_bodies[0] < SUBMIT_JOB_LIMIT


def test_job_name_is_sanitised() -> None:
    from faas_supervisor.batch_submit import job_name

    assert job_name("fn.v2", "a/b c") == "fn-v2-a-b-c"
    assert job_name("_x", "r") == "x-r"
    assert len(job_name("f" * 64, "r" * 100)) == 128


def test_lambda_batch_delegates_at_the_deadline(
    aws: Aws, batch_env: BatchInfra, lambda_task: LambdaTask, s3_event: S3Event, context: ContextFactory
) -> None:
    src, dst = aws.bucket("in"), aws.bucket("out")
    aws.client("s3").put_object(Bucket=src, Key="in/big file.bin", Body=b"data")
    lambda_task(
        {
            "name": "plants",
            "execution_mode": "lambda-batch",
            "container": {"timeout_threshold": 1.5},
            "output": [{"bucket": dst, "key_prefix": "out"}],
        },
        script='echo partial > "$TMP_OUTPUT_DIR/partial.txt"\nsleep 30\n',
    )
    event = s3_event(src, "in/big+file.bin")
    result = lambda_handler(event, context(remaining_ms=2500, request_id="req-deleg"))
    assert result["status"] == "delegated"
    assert result["job_ids"] == [result["job_id"]]
    env, job = job_env(aws, result["job_id"])
    assert json.loads(env["FAAS_EVENT"]) == event
    assert env["FAAS_SOURCE_REQUEST_ID"] == "req-deleg"
    assert job["jobName"] == "plants-req-deleg"
    assert aws.keys(dst) == []  # nothing partial uploaded


def test_lambda_batch_finishing_in_time_does_not_delegate(
    aws: Aws, batch_env: BatchInfra, lambda_task: LambdaTask, context: ContextFactory
) -> None:
    dst = aws.bucket("out")
    lambda_task(
        {"name": "plants", "execution_mode": "lambda-batch", "output": [{"bucket": dst}]},
        script='echo ok > "$TMP_OUTPUT_DIR/ok"\n',
    )
    result = lambda_handler({"k": 1}, context())
    assert result["status"] == "succeeded"
    assert aws.keys(dst) == ["ok"]


def test_lambda_batch_without_queue_is_a_clear_error(
    aws: Aws, lambda_task: LambdaTask, context: ContextFactory
) -> None:
    from faas_supervisor.errors import ConfigError

    lambda_task({"name": "plants", "execution_mode": "lambda-batch"}, script="true\n")
    with pytest.raises(ConfigError, match="FAAS_JOB_QUEUE"):
        lambda_handler({}, context())


# --- the Batch entry point, as `python -m faas_supervisor` -----------------------------------


def stage_function(aws: Aws, bucket: str, config: dict, script: str) -> str:
    s3 = aws.client("s3")
    s3.put_object(Bucket=bucket, Key="functions/fn/function_config.json", Body=json.dumps(config).encode())
    s3.put_object(Bucket=bucket, Key=f"functions/fn/{config['script']}", Body=script.encode())
    return f"s3://{bucket}/functions/fn/function_config.json"


def run_module(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "faas_supervisor", *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_batch_entry_point_runs_the_same_pipeline(aws: Aws, s3_event: S3Event, tmp_path: Path) -> None:
    artifacts, src, dst = aws.bucket("art"), aws.bucket("in"), aws.bucket("out")
    aws.client("s3").put_object(Bucket=src, Key="in/hello world.txt", Body=b"abc")
    uri = stage_function(
        aws,
        artifacts,
        {
            "name": "fn",
            "execution_mode": "batch",
            "script": "run.sh",
            "output": [{"bucket": dst, "key_prefix": "res"}],
        },
        'tr a-c A-C < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/up.txt"\necho "$REQUEST_ID" > "$TMP_OUTPUT_DIR/id"\n',
    )
    env = dict(
        os.environ,
        FAAS_CONFIG_URI=uri,
        AWS_BATCH_JOB_ID="job-123",
        FAAS_EVENT=json.dumps(s3_event(src, "in/hello+world.txt")),
    )
    proc = run_module(env)
    assert proc.returncode == 0, proc.stderr
    assert aws.read(dst, "res/up.txt") == b"ABC"
    assert aws.read(dst, "res/id") == b"job-123\n"
    assert "job job-123: function fn" in proc.stderr


def test_batch_entry_point_event_uri_and_exit_status(aws: Aws, tmp_path: Path) -> None:
    artifacts, dst = aws.bucket("art"), aws.bucket("out")
    uri = stage_function(
        aws,
        artifacts,
        {"name": "fn", "script": "run.sh", "output": [{"bucket": dst}]},
        'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/x"\necho "bad things" >&2\nexit 7\n',
    )
    aws.client("s3").put_object(Bucket=artifacts, Key="events/fn/e.json", Body=b'{"big": true}')
    env = dict(os.environ, FAAS_CONFIG_URI=uri, FAAS_EVENT_URI=f"s3://{artifacts}/events/fn/e.json")
    proc = run_module(env)
    assert proc.returncode == 7
    assert "exited with status 7" in proc.stderr and "bad things" in proc.stderr
    assert aws.keys(dst) == []


def test_batch_entry_point_missing_config_object(aws: Aws) -> None:
    artifacts = aws.bucket("art")
    env = dict(os.environ, FAAS_CONFIG_URI=f"s3://{artifacts}/functions/nope/function_config.json")
    proc = run_module(env)
    assert proc.returncode == 125
    assert f"s3://{artifacts}/functions/nope/function_config.json" in proc.stderr


def test_batch_entry_point_runs_the_given_command_without_script(aws: Aws) -> None:
    artifacts, dst = aws.bucket("art"), aws.bucket("out")
    s3 = aws.client("s3")
    s3.put_object(
        Bucket=artifacts,
        Key="functions/fn/function_config.json",
        Body=json.dumps({"name": "fn", "script": None, "output": [{"bucket": dst}]}).encode(),
    )
    env = dict(
        os.environ,
        FAAS_CONFIG_URI=f"s3://{artifacts}/functions/fn/function_config.json",
        FAAS_EVENT='{"a": 1}',
    )
    proc = run_module(env, "--", "/bin/sh", "-c", 'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/in.json"')
    assert proc.returncode == 0, proc.stderr
    assert json.loads(aws.read(dst, "in.json")) == {"a": 1}


def test_a_multi_node_function_submits_its_event_to_every_node(
    aws: Aws,
    batch_env: BatchInfra,
    lambda_task: LambdaTask,
    s3_event: S3Event,
    context: ContextFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch = aws.client("batch")
    (single,) = batch.describe_job_definitions(jobDefinitionName=batch_env.job_definition, status="ACTIVE")[
        "jobDefinitions"
    ]
    node_range = {"targetNodes": "0:", "container": single["containerProperties"]}
    batch.register_job_definition(
        jobDefinitionName="plants-mpi",
        type="multinode",
        nodeProperties={"numNodes": 3, "mainNode": 0, "nodeRangeProperties": [node_range]},
    )
    monkeypatch.setenv("FAAS_JOB_DEFINITION", "plants-mpi")
    monkeypatch.setenv("FAAS_JOB_NODES", "3")
    lambda_task({"name": "plants", "execution_mode": "batch"})
    event = s3_event("some-bucket", "in/a.txt")
    result = lambda_handler(event, context())
    assert result["status"] == "submitted"
    (job,) = batch.describe_jobs(jobs=[result["job_id"]])["jobs"]
    assert "plants-mpi" in job["jobDefinition"]
    (described,) = job["nodeProperties"]["nodeRangeProperties"]  # the job's nodes, its overrides applied
    env = {e["name"]: e["value"] for e in described["container"]["environment"]}
    assert json.loads(env["FAAS_EVENT"]) == event
    assert env["FAAS_CONFIG_URI"].endswith("function_config.json")  # from the job definition
