"""lambda-batch delegation: time from the deadline to the Batch job being submitted.

    python bench/delegation_bench.py [--runs 20] [--quick]

A moto server (render.local.emulator.start(port=0)) holds a real Batch setup: VPC, subnet, security
group, roles, a managed compute environment, a job queue, a job definition and an artifacts
bucket. A worker process (the warm Lambda instance; the Batch API is in another process, as in
AWS) imports the handler and invokes it --runs + 1 times with a `lambda-batch` function whose
script never ends (`sleep 1000 & sleep 1000 & wait`), with 0.3 s left before the deadline
(remaining time 1.3 s, timeout_threshold 1 s). The deadline is known exactly: the fake context
records when the handler asks for the remaining time. The supervisor's own INFO log lines are
timestamped (time.monotonic) as they are emitted:

- kill: deadline -> "deadline reached" (the process group and any escaped process SIGKILLed
  and reaped, the stderr pipe drained, the work dir removed);
- stage: -> "event ... staged" (large events only: PutObject of the event to the artifacts
  bucket);
- submit: -> "submitted Batch job" (SubmitJob answered);
- total: deadline -> SubmitJob answered.

Two events: an S3 notification of one record (passed by value, FAAS_EVENT) and a 120 KiB
direct-invocation payload (over the 29 KiB by-value limit: staged in S3, FAAS_EVENT_URI). The
first invocation of each worker (one per event) is reported apart: it creates the Batch client
(loading its service model) and, for the large event, imports boto3 and creates the S3 client
too (the S3 event's client already exists: it downloaded the input before the script ran), as
the first delegation of a fresh Lambda instance does. Every job is checked
with DescribeJobs (queue, and the event it carries).

--quick (2 warm runs per event) checks that the benchmark still runs; its medians mean little.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from render.local import emulator  # noqa: E402

SCRIPT = "sleep 1000 &\nsleep 1000 &\nwait\n"
REMAINING_MS = 1300
THRESHOLD_S = 1.0

WORKER = r"""
import json, logging, sys, time
from faas_supervisor.lambda_function import lambda_handler

events, runs = json.loads(sys.argv[1]), int(sys.argv[2])
marks = []
TAGS = (("killed", "deadline reached"), ("staged", "staged at"), ("submitted", "submitted Batch job"))


class Marks(logging.Handler):
    def emit(self, record):
        message = record.getMessage()
        for tag, text in TAGS:
            if text in message:
                marks.append((tag, time.monotonic()))


logging.getLogger("faas_supervisor").addHandler(Marks())


class Context:
    function_name = "bench"

    def __init__(self, request_id, remaining_ms):
        self.aws_request_id = request_id
        self.remaining_ms = remaining_ms
        self.asked = None

    def get_remaining_time_in_millis(self):
        self.asked = time.monotonic()
        return self.remaining_ms


out = []
for n in range(runs + 1):
    for name, event in events.items():
        marks.clear()
        context = Context(f"{name}-{n}", int(sys.argv[3]))
        result = lambda_handler(event, context)
        deadline = context.asked + context.remaining_ms / 1000 - float(sys.argv[4])
        seen = dict(marks)
        row = {"event": name, "run": n, "job_id": result.get("job_id"), "status": result.get("status")}
        previous = deadline
        for tag in ("killed", "staged", "submitted"):
            if tag in seen:
                row[tag] = (seen[tag] - previous) * 1000
                previous = seen[tag]
        row["total"] = (seen["submitted"] - deadline) * 1000
        out.append(row)
print(json.dumps(out))
"""


def batch_setup(endpoint: str) -> dict[str, str]:
    import boto3

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint)

    ec2, iam, batch, s3 = client("ec2"), client("iam"), client("batch"), client("s3")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="bench", Description="bench", VpcId=vpc)["GroupId"]

    def role(name: str, principal: str) -> str:
        doc = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}],
        }
        return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"])

    service_role = role("bench-batch-service", "batch.amazonaws.com")
    role("bench-batch-instance", "ec2.amazonaws.com")
    profile = iam.create_instance_profile(InstanceProfileName="bench-batch-instance")["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName="bench-batch-instance", RoleName="bench-batch-instance")
    environment = batch.create_compute_environment(
        computeEnvironmentName="bench-ce",
        type="MANAGED",
        state="ENABLED",
        computeResources={
            "type": "EC2",
            "minvCpus": 0,
            "maxvCpus": 4,
            "desiredvCpus": 0,
            "instanceTypes": ["m6i.large"],
            "subnets": [subnet],
            "securityGroupIds": [group],
            "instanceRole": profile,
        },
        serviceRole=service_role,
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName="bench-queue",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )["jobQueueArn"]
    s3.create_bucket(Bucket="bench-artifacts")
    s3.create_bucket(Bucket="bench-in")
    s3.put_object(Bucket="bench-in", Key="in/photo.jpg", Body=b"jpeg")
    batch.register_job_definition(
        jobDefinitionName="bench-jd",
        type="container",
        containerProperties={
            "image": "busybox",
            "command": ["/opt/faas/faas-supervisor"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
    )
    # moto does one-time work on its first SubmitJob (about 0.2 s here): keep it out of the figures.
    batch.submit_job(jobName="warm-up", jobQueue=queue, jobDefinition="bench-jd")
    return {"FAAS_JOB_QUEUE": queue, "FAAS_JOB_DEFINITION": "bench-jd", "FAAS_ARTIFACTS_BUCKET": "bench-artifacts"}


def events() -> dict[str, Any]:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2024-05-01T12:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": "bench-in", "arn": "arn:aws:s3:::bench-in"},
            "object": {"key": "in/photo.jpg", "size": 4},
        },
    }
    return {"s3-by-value": {"Records": [record]}, "120KiB-via-s3": {"payload": "x" * (120 * 1024)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, help="warm delegations per event, after the first (default: 20)")
    parser.add_argument("--quick", action="store_true", help="2 warm runs per event: a smoke test")
    args = parser.parse_args()
    runs: int = args.runs or (2 if args.quick else 20)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    running = emulator.start(port=0)
    endpoint = running.endpoint
    try:
        settings = batch_setup(endpoint)
        with tempfile.TemporaryDirectory(prefix="delegation-bench-") as scratch:
            root = Path(scratch)
            config = {
                "name": "bench",
                "execution_mode": "lambda-batch",
                "script": "script.sh",
                "container": {"timeout_threshold": THRESHOLD_S},
            }
            (root / "function_config.json").write_text(json.dumps(config))
            (root / "script.sh").write_text(SCRIPT)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FAAS_"))}
            env.update(
                settings,
                LAMBDA_TASK_ROOT=scratch,
                AWS_ENDPOINT_URL=endpoint,
                AWS_ACCESS_KEY_ID="test",
                AWS_SECRET_ACCESS_KEY="test",
                AWS_DEFAULT_REGION="us-east-1",
                AWS_CONFIG_FILE=os.devnull,
                AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                LOG_LEVEL="INFO",
            )
            sent = events()
            rows = []
            for name, event in sent.items():  # one worker (a fresh Lambda instance) per event
                command = [sys.executable, "-c", WORKER, json.dumps({name: event}), str(runs)]
                command += [str(REMAINING_MS), str(THRESHOLD_S)]
                proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
                if proc.returncode != 0:
                    raise SystemExit(f"worker failed:\n{proc.stderr[-4000:]}")
                rows += json.loads(proc.stdout)
        check_jobs(endpoint, rows, sent, settings["FAAS_JOB_QUEUE"])
    finally:
        running.stop()
    report(rows, runs)


def check_jobs(endpoint: str, rows: list[dict[str, Any]], sent: dict[str, Any], queue: str) -> None:
    import boto3

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    batch = session.client("batch", endpoint_url=endpoint)
    s3 = session.client("s3", endpoint_url=endpoint)
    for row in rows:
        if row["status"] != "delegated":
            raise SystemExit(f"not delegated: {row}")
        (job,) = batch.describe_jobs(jobs=[row["job_id"]])["jobs"]
        job_env = {e["name"]: e["value"] for e in job["container"]["environment"]}
        if job["jobQueue"] != queue:
            raise SystemExit(f"job {row['job_id']} in {job['jobQueue']}")
        if "FAAS_EVENT" in job_env:
            event = json.loads(job_env["FAAS_EVENT"])
        else:
            bucket, key = job_env["FAAS_EVENT_URI"][len("s3://") :].split("/", 1)
            event = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        if event != sent[row["event"]]:
            raise SystemExit(f"job {row['job_id']} carries another event")


def report(rows: list[dict[str, Any]], runs: int) -> None:
    print(
        f"Deadline to SubmitJob answered, lambda-batch, {runs} warm runs per event after a first (cold-client) run; "
        f"script `sleep 1000 & sleep 1000 & wait` killed at the deadline. Times in ms.\n"
    )
    print("| event | run | kill | stage event in S3 | SubmitJob | total |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name in dict.fromkeys(r["event"] for r in rows):
        mine = [r for r in rows if r["event"] == name]
        first, warm = mine[0], mine[1:]

        def cell(values: list[float | None]) -> str:
            present = [v for v in values if v is not None]
            return f"{statistics.median(present):.1f}" if present else "-"

        for label, group in (("first in a fresh process", [first]), (f"median of {len(warm)}", warm)):
            cells = " | ".join(cell([r.get(k) for r in group]) for k in ("killed", "staged", "submitted", "total"))
            print(f"| {name} | {label} | {cells} |")


if __name__ == "__main__":
    main()
