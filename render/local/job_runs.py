"""Local mode's Batch jobs: a submitted job run from its job definition, its end said and kept.

Where the emulator runs in this process (`faas local`), the job's state follows its run as
DescribeJobs shows it on AWS: RUNNABLE until it starts, RUNNING, then SUCCEEDED or FAILED (a
multi-node job's as its main node's). A failed job becomes EventBridge's Batch Job State Change
event (render/local/failures.py), which the failures module keeps.
"""

from __future__ import annotations

from collections.abc import Callable

from render.aws.connection import Aws, AwsError
from render.local.execution.batch_runner import BatchRunner
from render.local.execution.errors import LocalError
from render.local.failures import job_failed

EXITED = "Essential container in task exited"  # Batch's statusReason for a job whose container ended

# Sets a job's state where it is kept: (job id, status, statusReason, exit code).
JobState = Callable[[str, str, str | None, int | None], None]


def run_job(
    aws: Aws,
    batch: BatchRunner,
    job_id: str,
    say: Callable[[str], None],
    echo: Callable[[str], None] | None,
    job_state: JobState | None,
) -> tuple[bool, list[str]]:
    """Run the job; whether it succeeded, and what it wrote. `say` tells its progress."""

    def set_state(status: str, reason: str | None, exit_code: int | None) -> None:
        if job_state is not None:
            job_state(job_id, status, reason, exit_code)

    try:
        run = batch.run(
            job_id,
            echo,
            lambda node: say(f"Batch job {job_id} node {node.index}: {node.outcome}"),
            lambda: set_state("RUNNING", None, None),
        )
    except (AwsError, LocalError) as error:  # as Batch fails a job whose image cannot be pulled
        say(f"Batch job {job_id} FAILED: it could not start: {error}")
        reason = f"CannotStartContainerError: {error}"
        set_state("FAILED", reason, None)
        job_failed(aws, job_id, reason, None)
        return False, []
    except Exception as error:  # a bug: the job must not stay RUNNING
        set_state("FAILED", f"faas local could not run it: {error}", None)
        raise
    if run.returncode != 0:
        tail = "\n".join(run.log.tail(10))
        say(f"Batch job {job_id} FAILED (exit status {run.returncode}) after {run.seconds:.1f} s:\n{tail}")
        failed_nodes = ", ".join(str(node.index) for node in run.failed_nodes)
        reason = EXITED + (f" (failed node(s): {failed_nodes})" if failed_nodes else "")
        set_state("FAILED", reason, run.returncode)
        job_failed(aws, job_id, reason, run.returncode)
    else:
        set_state("SUCCEEDED", EXITED, run.returncode)
        say(f"Batch job {job_id} succeeded in {run.seconds:.1f} s: {len(run.uploaded)} object(s) written")
    return run.returncode == 0, list(run.uploaded)
