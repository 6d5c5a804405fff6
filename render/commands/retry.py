"""`faas retry [FUNCTION | --id ID]`: replay kept failures; only those that then succeed leave the queue."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from render.aws.connection import Aws, AwsError
from render.aws.deployed import DeployedFunction, code_zip, get_function
from render.aws.failures import Failure, delete, hold, job_environment, release
from render.commands.errors import EXIT_USAGE, CommandError
from render.commands.failed import failures
from render.commands.invoke import QUEUE_WAIT, call_and_follow
from render.commands.options import connection, connection_arguments, reported, root_argument
from render.local.activity import activity, follow
from render.local.cloud import LocalCloud
from render.local.progress import print_progress

JOB_HOLD = 43_000  # s a replayed job's message stays out of sight (SQS allows 12 hours from its receipt)
JOB_POLL = 10  # s between looks at a replayed job in AWS

DESCRIPTION = """\
Replay the failures `faas failed` lists: FUNCTION's, the one whose id starts with ID, or all of
them. A failed invocation is invoked again, synchronously, with its original event; a failed
Batch job is submitted again (same job definition, queue and environment, so the same event) and
waited for until it ends. A failure leaves the queue only when its replay succeeds; one that
fails again stays (a Batch job that fails again is kept as its new job's failure) and the
command exits with status 1.

Against `faas local` the replays run there, and `faas retry` shows their progress and waits for
what they trigger; against another moto server it runs them itself (zips from --root).
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "retry",
        parents=[connection_arguments(), root_argument()],
        help="replay kept failures; those that succeed leave the queue",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("function", nargs="?", metavar="FUNCTION", help="replay this function's failures")
    parser.add_argument("--id", metavar="ID", help="replay the failure whose id starts with ID (see `faas failed`)")
    parser.set_defaults(run=run)


def _say(text: str) -> None:
    print(text, flush=True)


@reported
def run(args: argparse.Namespace) -> int:
    if args.function and args.id:
        raise CommandError("give FUNCTION or --id, not both", EXIT_USAGE)
    aws = connection(args)
    chosen = failures(aws, args.function, args.id)
    if not chosen:
        if args.id:
            raise CommandError(f"no kept failure has an id starting with {args.id} (`faas failed` lists them)")
        print("nothing to retry: no failures kept" + (f" of {args.function}" if args.function else ""))
        return 0
    again = 0
    for failure in chosen:
        if not replay(aws, args, failure):
            again += 1
    done = len(chosen) - again
    print(f"retried {len(chosen)}: {done} succeeded (removed), {again} failed again (kept)")
    return 1 if again else 0


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    why: str = ""
    kept_anew: bool = False  # a job that failed again: its own failure is kept, in a new message


def replay(aws: Aws, args: argparse.Namespace, failure: Failure) -> bool:
    """Replay one failure; delete its message when that succeeded. Whether it did."""
    label = f"{failure.id} {failure.function} ({failure.input})"
    try:
        function = get_function(aws, failure.function)
    except AwsError as error:
        _say(f"{label}: cannot be replayed: {error}")
        return False
    seconds = JOB_HOLD if failure.is_batch else int(function.configuration.get("Timeout", 3)) + QUEUE_WAIT
    held = hold(aws, failure, seconds)
    if held is None:
        _say(f"{label}: gone from the queue meanwhile")
        return True
    _say(f"{label}: replaying {'the Batch job' if failure.is_batch else 'the invocation'}")
    outcome = Outcome(False, "interrupted")
    try:
        outcome = replay_job(aws, args, held) if failure.is_batch else replay_invocation(aws, args, function, held)
    finally:  # an interrupted replay leaves the failure as it was
        if outcome.succeeded or outcome.kept_anew:
            delete(aws, held)
        else:
            release(aws, held)
    if outcome.succeeded:
        _say(f"{label}: ok, removed from the queue")
    else:
        _say(
            f"{label}: failed again: {outcome.why}" + (" (kept as the new job's failure)" if outcome.kept_anew else "")
        )
    return outcome.succeeded


def replay_invocation(aws: Aws, args: argparse.Namespace, function: DeployedFunction, failure: Failure) -> Outcome:
    """Invoke the function with the original event (RequestResponse): whether it succeeded, and why not."""
    payload = json.dumps(failure.event)
    if aws.is_local_emulator:
        service = activity(aws.endpoint_url)
        if service is not None:  # `faas local` runs it, and what follows
            answer, failed, summary = call_and_follow(aws, function, payload, service)
            print(summary, file=sys.stderr)
        else:
            with LocalCloud(aws, partial(code_zip, root=args.root)) as cloud:
                invocation = cloud.invoke(function, failure.event)
                print(cloud.summary, file=sys.stderr)
            answer, failed = invocation.payload, invocation.failed
    else:
        timeout = int(function.configuration.get("Timeout", 3)) + 60
        config = Config(region_name=aws.region, read_timeout=timeout, retries={"total_max_attempts": 1})
        client = aws.session.client("lambda", endpoint_url=aws.endpoint_url, config=config)
        response = client.invoke(FunctionName=function.name, InvocationType="RequestResponse", Payload=payload)
        answer, failed = json.loads(response["Payload"].read() or b"null"), bool(response.get("FunctionError"))
    if not failed:
        return Outcome(True)
    message = answer.get("errorMessage") if isinstance(answer, dict) else None
    return Outcome(False, str(message or answer))


def resubmit(aws: Aws, job: dict[str, Any]) -> str:
    """Submit the failed job again as it was: its definition, queue and environment (so its event)."""
    environment = [
        {"name": name, "value": value}
        for name, value in sorted(job_environment(job).items())
        if not name.startswith("AWS_BATCH")  # Batch sets these itself
    ]
    request: dict[str, Any] = {
        "jobName": job["jobName"],
        "jobQueue": job["jobQueue"],
        "jobDefinition": job["jobDefinition"],
        "containerOverrides": {"environment": environment},
    }
    return str(aws.client("batch").submit_job(**request)["jobId"])


def replay_job(aws: Aws, args: argparse.Namespace, failure: Failure) -> Outcome:
    """Submit the job again and wait for its end."""
    try:
        job_id = resubmit(aws, failure.body.get("detail", {}))
    except (KeyError, ClientError) as error:
        return Outcome(False, f"cannot submit it again: {error}")
    _say(f"  submitted Batch job {job_id}")
    if not aws.is_local_emulator:
        return wait_for_job(aws, job_id)
    service = activity(aws.endpoint_url)
    with LocalCloud(aws, partial(code_zip, root=args.root), chain_outputs=service is None) as cloud:
        succeeded = cloud.run_job(failure.function, job_id)
    if service is not None:  # what the job wrote triggers functions there
        print(follow(str(aws.endpoint_url), service), file=sys.stderr)
    return Outcome(True) if succeeded else Outcome(False, f"job {job_id} failed (its log is above)", kept_anew=True)


def wait_for_job(aws: Aws, job_id: str) -> Outcome:
    """Poll the job until it ends, saying each change of status."""
    batch, status, started = aws.client("batch"), "", time.monotonic()
    while True:
        job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        if job["status"] != status:
            status = job["status"]
            print_progress(f"  job {job_id}: {status} after {time.monotonic() - started:.0f} s")
        if status == "SUCCEEDED":
            return Outcome(True)
        if status == "FAILED":
            return Outcome(False, f"job {job_id}: {job.get('statusReason') or 'FAILED'}", kept_anew=True)
        time.sleep(JOB_POLL)
