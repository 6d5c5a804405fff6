"""Local mode: after an upload or an invocation, do on this machine what AWS would do.

A moto server stores everything but runs nothing, so someone plays the services' part: `faas
local` itself (render/local/service.py, for every S3 client), or else `faas put` and `faas invoke`.
An object written into a bucket fires the Lambda functions whose bucket notification (events,
prefix and suffix filters) matches it, with a real S3 event; a function runs from what was
deployed: in its image when it is deployed as one (render/local/execution/image_lambda.py, in the
sandbox of `LocalOptions`), else its .zip on this host's Python in that sandbox (lambda_runner.py);
a Batch job it submits runs from its job definition's image (batch_runner.py); whatever they write
fires the next functions in turn, until the workflow settles. Progress goes to stderr, or where
the caller says; a run that started a new instance says "(cold start)". Failures are kept as AWS
keeps them (render/local/failures.py): an asynchronous invocation is retried, then sent to its
on-failure destination, and so is one that could not start; a Batch job runs and ends as
render/local/job_runs.py says.

A LocalCloud may run several calls at once (`faas local` runs items side by side): each call
keeps what it still has to run to itself, the totals are shared under a lock.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from faas_supervisor import contract

from render.aws.connection import Aws, AwsError
from render.aws.deployed import DeployedFunction, reserved_concurrency
from render.local.deployed_cache import DeployedCache
from render.local.execution.batch_runner import BatchRunner
from render.local.execution.deployed_images import LocalImages
from render.local.execution.errors import SANDBOX_FAILURE, THROTTLED, LocalError, error_type
from render.local.execution.image_lambda import ImageLambdaRuntime
from render.local.execution.lambda_runner import Invocation, LambdaRuntime
from render.local.execution.sandbox import LAMBDA_UID, ON_HOST, Sandbox, SandboxUnavailable, detect
from render.local.execution.scratch_fs import work_base
from render.local.failures import RetryPolicy, destination_record, retry_policy, send_to_destination
from render.local.job_runs import JobState, run_job
from render.local.options import LocalOptions
from render.local.progress import Summary, print_progress
from render.local.s3_events import s3_event, split_uri
from render.local.work_folders import remove_folder, work_folder

MAX_RUNS = 1000  # per workflow: a safety net, validation already refuses workflows that feed themselves
HOST_NOTICE = "notice: .zip functions have no image: their scripts use this host's sh, python3 and tools ({where})"
ON_HOST_NOTICE = "notice: {name} runs on this host, not in its image (--on-host)"


@dataclass
class _Chain:
    """What one call still has to run, and how many runs it made."""

    pending: deque[Callable[[], object]] = field(default_factory=deque)
    runs: int = 0


class LocalCloud:
    """Plays Lambda, Batch and S3 notifications; use it as a context manager.

    `code` gives a .zip function's deployment package, `reserved` a function's reserved concurrency
    (0 throttles it). With `chain_outputs` false, what the runs write fires nothing here: the
    emulator fires it (render/local/service.py). `job_state` sets a Batch job's state as its run
    goes (without it the emulator keeps the state it gave the job).
    """

    def __init__(
        self,
        aws: Aws,
        code: Callable[[DeployedFunction], bytes],
        verbose: bool = False,
        chain_outputs: bool = True,
        progress: Callable[[str], None] = print_progress,
        options: LocalOptions | None = None,
        reserved: Callable[[DeployedFunction], int | None] | None = None,
        job_state: JobState | None = None,
    ) -> None:
        self.aws = aws
        self._job_state = job_state
        self._reserved = reserved or partial(reserved_concurrency, aws)
        self.verbose = verbose
        self.options = options or LocalOptions()
        self.summary = Summary()
        self._chain_outputs = chain_outputs
        self._progress = progress
        self._lock = threading.Lock()
        self._workdir = workdir = work_folder("faas-local-", work_base(LAMBDA_UID))
        workdir.chmod(0o755)  # proot runs images as nobody
        images = LocalImages(aws.endpoint_url, workdir / "images", self.options.registry_mirror)
        mirror = {contract.REGISTRY_MIRROR: self.options.registry_mirror} if self.options.registry_mirror else {}
        self._lambda = LambdaRuntime(aws, code, workdir, self.sandbox, mirror)
        self._images = ImageLambdaRuntime(aws, images, self.sandbox, workdir / "instances", self.options.concurrency)
        self._batch = BatchRunner(aws, images, self.sandbox, workdir)
        self._sandbox: Sandbox | None = self.options.sandbox
        self._deployed = DeployedCache(aws)
        self._noticed = False

    def __enter__(self) -> LocalCloud:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._images.close()
        remove_folder(self._workdir)

    def sandbox(self) -> Sandbox:
        """Where images run: the options', else the first that works here (said once)."""
        with self._lock:
            chosen, detected = self._sandbox, self._sandbox is None
            if chosen is None:
                try:
                    chosen = self._sandbox = detect()
                except SandboxUnavailable as error:
                    raise LocalError(str(error), invalid_input=True, kind=SANDBOX_FAILURE) from None
        if detected:
            self._progress(f"sandbox: {chosen.describe()}")
        return chosen

    def totals(self) -> Summary:
        """A copy of the summary so far."""
        with self._lock:
            return Summary(self.summary.runs, list(self.summary.failed), list(self.summary.written))

    def objects_written(self, uris: list[str]) -> Summary:
        """Fire the notifications of these new objects and everything that follows."""
        chain = _Chain()
        for uri in uris:
            chain.pending.append(partial(self._object_written, uri, chain))
        self._settle(chain)
        return self.totals()

    def invoke(self, function: DeployedFunction, event: Any) -> Invocation:
        """Invoke a function directly, then let what it started finish."""
        chain = _Chain()
        invocation = self._run_lambda(function, event, "a direct invocation", chain)
        self._settle(chain)
        return invocation

    def run(
        self,
        function: DeployedFunction,
        event: Any,
        cause: str,
        answered: Callable[[Invocation], None] | None = None,
    ) -> None:
        """Run a function (an S3 notification or an Invoke request started it), then let what it started finish.

        `answered` gets the invocation's result as soon as the function returns, before the rest;
        without it the invocation is asynchronous: retried, and kept when it still fails
        (render/local/failures.py).
        """
        chain = _Chain()
        invocation = self._run_lambda(function, event, cause, chain, asynchronous=answered is None)
        if answered:
            answered(invocation)
        self._settle(chain)

    def run_job(self, name: str, job_id: str) -> bool:
        """Run a submitted Batch job of function `name`, then let what it wrote finish; whether the job succeeded."""
        chain = _Chain()
        succeeded = self._run_job(name, job_id, chain)
        self._settle(chain)
        return succeeded

    def failed(self, name: str) -> None:
        """Count a run that could not even start."""
        with self._lock:
            self.summary.failed.append(name)

    def _settle(self, chain: _Chain) -> None:
        while chain.pending:
            if chain.runs >= MAX_RUNS:
                raise LocalError(f"stopped after {MAX_RUNS} runs: do the functions trigger each other in a loop?")
            chain.pending.popleft()()

    def _counted(self, chain: _Chain) -> None:
        chain.runs += 1
        with self._lock:
            self.summary.runs += 1

    def _say(self, name: str, message: str) -> None:
        self._progress(f"[{name}] " + message.replace("\n", "\n    "))

    def _echo(self, name: str) -> Callable[[str], None] | None:
        return (lambda line: self._progress(f"[{name}] | {line}")) if self.verbose else None

    def _notice(self, function: DeployedFunction) -> None:
        if function.image_uri is not None:
            if self.sandbox() is ON_HOST:
                self._progress(ON_HOST_NOTICE.format(name=function.name))
            return
        if not function.is_faas_render or function.job_queue:  # the builder; a batch function's submitter
            return  # (neither runs a user's script)
        with self._lock:
            noticed, self._noticed = self._noticed, True
        if not noticed:
            where = "directly on this host, --on-host" if self.sandbox() is ON_HOST else "read-only, in the sandbox"
            self._progress(HOST_NOTICE.format(where=where))

    def _object_written(self, uri: str, chain: _Chain) -> None:
        bucket, key = split_uri(uri)
        fired = [t for t in self._deployed.triggers(bucket) if t.matches(key, "ObjectCreated:Put")]
        if not fired:
            return
        head = self.aws.client("s3").head_object(Bucket=bucket, Key=key)
        for trigger in fired:
            function = self._deployed.function(trigger.function_arn)
            event = s3_event(
                self.aws.region, bucket, key, head["ContentLength"], head["ETag"], trigger.configuration_id
            )
            chain.pending.append(partial(self._run_lambda, function, event, uri, chain, asynchronous=True))

    def _run_lambda(
        self, function: DeployedFunction, event: Any, cause: str, chain: _Chain, asynchronous: bool = False
    ) -> Invocation:
        """Run the function; an asynchronous invocation is retried as its event invoke configuration says."""
        policy = retry_policy(self.aws, function) if asynchronous else RetryPolicy(retries=0)
        started, attempts, first_request = time.monotonic(), 0, None
        while True:
            attempts += 1
            retry = f" (retry {attempts - 1} of {policy.retries})" if attempts > 1 else ""
            self._say(function.name, f"Lambda started by {cause}{retry}")
            self._counted(chain)
            invocation = self._attempt(function, event, first=attempts == 1)
            first_request = first_request or invocation.request_id
            if not invocation.failed:
                break
            took = f"{invocation.seconds:.1f} s{' (cold start)' if invocation.cold else ''}"
            self._say(
                function.name, f"FAILED after {took} (request {invocation.request_id}): {invocation.error_message}"
            )
            condition = policy.condition(attempts, time.monotonic() - started)
            if condition is None:
                continue
            self.failed(function.name)
            if asynchronous:
                kept = "discarded (no on-failure destination)"
                if policy.destination:
                    record = destination_record(function, first_request, condition, attempts, event, invocation)
                    kept = send_to_destination(self.aws, policy.destination, record)
                self._say(function.name, f"{condition} after {attempts} attempt(s): {kept}")
            return invocation
        cold = " (cold start)" if invocation.cold else ""
        result = invocation.payload if isinstance(invocation.payload, dict) else {}
        uploaded = [str(u) for u in result.get("uploaded", [])]
        jobs = [str(j) for j in result.get("job_ids") or ([result["job_id"]] if result.get("job_id") else [])]
        done = [f"submitted Batch job {j}" for j in jobs]
        if uploaded or not jobs:
            done.append(f"{len(uploaded)} object(s) written")
        self._say(function.name, f"finished in {invocation.seconds:.1f} s{cold}: {', '.join(done)}")
        self._written(function.name, uploaded, chain)
        for job_id in jobs:
            chain.pending.append(partial(self._run_job, function.name, job_id, chain))
        return invocation

    def _attempt(self, function: DeployedFunction, event: Any, first: bool) -> Invocation:
        """One invocation. One that cannot start (throttled, its image refused, the sandbox or the
        disk failing) fails as a function error does, so that it is retried and kept the same way;
        its errorType says why."""
        try:
            if first:
                self._notice(function)  # finds the sandbox, which may be missing
            if self._reserved(function) == 0:
                raise LocalError("throttled: its reserved concurrency is 0", kind=THROTTLED)
            runtime = self._images if function.image_uri is not None else self._lambda
            return runtime.invoke(function, event, self._echo(function.name))
        except (LocalError, AwsError, ClientError, BotoCoreError, OSError) as error:
            kind = error_type(error)
            payload = {"errorMessage": f"faas local could not run it ({kind}): {error}", "errorType": kind}
            return Invocation(str(uuid.uuid4()), payload, True, 0.0)

    def _run_job(self, name: str, job_id: str, chain: _Chain) -> bool:
        self._counted(chain)
        on_host = self.sandbox() is ON_HOST
        if on_host:
            self._progress(ON_HOST_NOTICE.format(name=f"{name}'s Batch job {job_id}"))
        self._say(name, f"Batch job {job_id} running {'on this host' if on_host else 'in its image'}")
        say = partial(self._say, name)
        succeeded, uploaded = run_job(self.aws, self._batch, job_id, say, self._echo(name), self._job_state)
        if not succeeded:
            self.failed(f"{name} job {job_id}")
        self._written(name, uploaded, chain)
        return succeeded

    def _written(self, name: str, uris: list[str], chain: _Chain) -> None:
        for uri in uris:
            self._say(name, f"  wrote {uri}")
            with self._lock:
                self.summary.written.append(uri)
            if self._chain_outputs:
                chain.pending.append(partial(self._object_written, uri, chain))
