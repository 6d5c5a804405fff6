"""`faas job JOB_ID`: a Batch job's status and log, whatever its state."""

from __future__ import annotations

import argparse
import time
from typing import Any

from faas_supervisor.contract import BATCH_LOG_GROUP

from render.commands.errors import CommandError
from render.commands.logs import format_event
from render.commands.options import connection, connection_arguments, reported


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "job",
        parents=[connection_arguments()],
        help="show a Batch job's status and log, in any state",
        description="Print the status of the Batch job JOB_ID (queue, definition, times, exit code, "
        "reason) and its log from /aws/batch/job, whatever its state: a job that has not started "
        "has no log yet, a failed one shows why. Job ids are in the submitting function's log "
        "(`faas logs FUNCTION`) and in the output of `faas put` and `faas invoke`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("job_id", metavar="JOB_ID", help="the job's id")
    parser.set_defaults(run=run)


def _time(milliseconds: int | None) -> str:
    if milliseconds is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(milliseconds / 1000))


def describe(job: dict[str, Any]) -> list[str]:
    container = job.get("container", {})
    status = job["status"] + (f" ({job['statusReason']})" if job.get("statusReason") else "")
    lines = [
        f"job {job['jobId']} ({job['jobName']})",
        f"  status:     {status}",
        f"  queue:      {job['jobQueue'].rsplit('/', 1)[-1]}",
        f"  definition: {job['jobDefinition'].rsplit('/', 1)[-1]}",
        f"  created:    {_time(job.get('createdAt'))}",
        f"  started:    {_time(job.get('startedAt'))}",
        f"  stopped:    {_time(job.get('stoppedAt'))}",
    ]
    if "exitCode" in container:
        lines.append(f"  exit code:  {container['exitCode']}")
    if container.get("reason"):
        lines.append(f"  reason:     {container['reason']}")
    if len(job.get("attempts", [])) > 1:
        lines.append(f"  attempts:   {len(job['attempts'])}")
    return lines


@reported
def run(args: argparse.Namespace) -> int:
    aws = connection(args)
    jobs = aws.client("batch").describe_jobs(jobs=[args.job_id])["jobs"]
    if not jobs:
        raise CommandError(f"no Batch job {args.job_id} in {aws.describe()}")
    job = jobs[0]
    print("\n".join(describe(job)))
    stream = job.get("container", {}).get("logStreamName")
    if not stream:
        print(f"no log yet: the job is {job['status']}; its log stream appears once it starts")
        return 0
    print(f"log ({BATCH_LOG_GROUP} {stream}):")
    logs = aws.client("logs")
    count = 0
    try:
        for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=BATCH_LOG_GROUP, logStreamNames=[stream]
        ):
            for event in page.get("events", []):
                print(format_event(event))
                count += 1
    except logs.exceptions.ResourceNotFoundException:
        pass
    if count == 0:
        print("no log events yet")
    return 0
