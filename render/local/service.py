"""`faas local` runs what S3 notifications trigger and what Lambda's Invoke asks for, whoever calls.

moto matches every new object against its bucket's notification configuration and hands each
Lambda target to an internal hook; in the emulator's process that hook is `LocalService.triggered`.
It only queues the function and a real S3 event (the upload's request returns at once). An Invoke
request is queued the same way (render/local/moto/awslambda.py); a synchronous one waits for its
function's result. Worker threads, `LocalOptions.concurrency` of them, run the queued items side
by side through render/local/cloud.py, the oldest first, each function at most as many at once as
its reserved concurrency allows (Lambda throttles one whose reserved concurrency is 0: it fails,
and an asynchronous event is then retried and kept as a function error is).
What the runs write comes back through the same hook, so chained functions fire without the
workers chaining anything themselves.

With `faas local --state DIR` each asynchronous item is written to a journal before it is queued
and marked done when it ends (render/local/state.py): `resume` queues again, at the next start,
the ones a stop or a crash cut short. While the emulator replays its recorded requests the service
is `paused`: what they trigger runs nothing, and a replayed Batch job takes the end it had.
The Batch jobs the functions submit wait RUNNABLE in moto until a worker runs them; their state
follows the run (render/local/moto/batch.py's `set_job_state`), and their ends are kept with the
state.

Clients follow the service over HTTP (render/local/activity.py): it answers GET /_faas/activity.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import parse_qs

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from render.aws.connection import DEFAULT_REGION, EMULATOR_CREDENTIALS, Aws, AwsError
from render.local.activity import ACTIVITY_PATH, Activity
from render.local.cloud import LocalCloud
from render.local.emulated_functions import code_in_emulator, function_in_emulator, reserved_concurrency
from render.local.execution.errors import LocalError
from render.local.execution.lambda_runner import Invocation
from render.local.options import LocalOptions
from render.local.s3_events import from_moto_event, is_moto_duplicate
from render.local.state import JobEnd, JobEnds, Journal, Pending

KEPT_LINES = 10_000  # a client further behind than this misses lines, nothing else


@dataclass(frozen=True)
class Triggered:
    function_arn: str
    event: Any
    cause: str
    reply: Future[Invocation] | None = None  # a synchronous Invoke request waits for it
    journaled: str | None = None  # its id in the journal of in-flight events

    @property
    def region(self) -> str:
        return self.function_arn.split(":")[3]


class LocalService:
    """The worker threads, their queue and its progress log; `triggered` is moto's Lambda hook."""

    def __init__(
        self,
        endpoint: str,
        verbose: bool = False,
        output: Callable[[str], None] = print,
        options: LocalOptions | None = None,
        journal: Journal | None = None,
        job_ends: JobEnds | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.journal = journal
        self.job_ends = job_ends
        self._paused = False
        self.verbose = verbose
        self.options = options or LocalOptions()
        self._output = output
        self._ready = threading.Condition()  # the queue, what runs, stopping
        self._waiting: deque[Triggered] = deque()
        self._running: Counter[str] = Counter()  # by function ARN
        self._stopping = False
        self._lock = threading.Lock()  # the lines, the count of pending items, the clouds
        self._pending = 0
        self._lines: deque[str] = deque(maxlen=KEPT_LINES)
        self._next = 0
        self._clouds: dict[str, LocalCloud] = {}  # one per region
        self._threads = [
            threading.Thread(target=self._work, name=f"faas-local-worker-{n}", daemon=True)
            for n in range(max(self.options.concurrency, 1))
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()
        threading.Thread(target=self._prepare, name="faas-local-prepare", daemon=True).start()

    def _prepare(self) -> None:
        """Make the default region's clients now: botocore takes a second to load their models."""
        aws = self._cloud(DEFAULT_REGION).aws
        for service in ("lambda", "s3", "logs"):
            aws.client(service)

    def stop(self) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        for thread in self._threads:
            thread.join()
        for cloud in self._clouds.values():
            cloud.__exit__(None, None, None)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Nothing triggered or invoked meanwhile runs (a synchronous Invoke gets an error at once)."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    def resume(self) -> int:
        """Queue again the journal's events that a stop or a crash cut short; how many."""
        if self.journal is None:
            return 0
        unfinished = self.journal.unfinished()
        for pending in unfinished:
            cause = f"{pending.cause} (in flight when the emulator stopped)"
            self._enqueue(Triggered(pending.function_arn, pending.event, cause, journaled=pending.ident))
        return len(unfinished)

    def triggered(self, account_id: str, event_body: dict[str, Any], function_arn: str, region_name: str) -> None:
        """moto's `_invoke_awslambda(account_id, event_body, fn_arn, region_name)`, run inside the upload request."""
        if self._paused or is_moto_duplicate(event_body):
            return
        event, uri = from_moto_event(event_body)
        self._enqueue(Triggered(function_arn, event, uri))

    def invoke(self, function_arn: str, event: Any) -> Invocation:
        """Lambda's RequestResponse invocation: the function's result, once it has run in its turn."""
        if self._paused:
            payload = {"errorMessage": "faas local is replaying its recorded state", "errorType": "LocalRunError"}
            return Invocation(str(uuid.uuid4()), payload, True, 0.0)
        reply: Future[Invocation] = Future()
        self._enqueue(Triggered(function_arn, event, "a direct invocation", reply))
        return reply.result()

    def invoke_async(self, function_arn: str, event: Any) -> None:
        """Lambda's Event invocation: queued, like what an upload triggers."""
        if self._paused:
            return
        self._enqueue(Triggered(function_arn, event, "an asynchronous invocation"))

    def replayed_job(self, fingerprint: str) -> JobEnd | None:
        """How a job that the replay submits again ended (None: this is no replay, the job is to run)."""
        if not self._paused or self.job_ends is None:
            return None
        return self.job_ends.replayed(fingerprint, int(time.time() * 1000))

    def _job_state(self, job_id: str, status: str, reason: str | None, exit_code: int | None) -> None:
        """Set a job's state in moto; keep its end with the state."""
        from render.local.moto.batch import set_job_state  # moto: only in the emulator's process

        try:
            end = set_job_state(job_id, status, reason, exit_code)
        except LookupError:  # a reset forgot it while it ran: no state to set
            return
        if end is not None and self.job_ends is not None:
            self.job_ends.ended(end)

    def _enqueue(self, item: Triggered) -> None:
        if self.journal is not None and item.reply is None and item.journaled is None:
            item = replace(item, journaled=uuid.uuid4().hex)
            self.journal.started(Pending(str(item.journaled), item.function_arn, item.event, item.cause))
        with self._lock:
            self._pending += 1
        with self._ready:
            self._waiting.append(item)
            self._ready.notify()

    def activity(self, after: int) -> Activity:
        with self._lock:
            first = self._next - len(self._lines)
            lines = list(self._lines)[max(after - first, 0) :]
            pending, following, clouds = self._pending, self._next, list(self._clouds.values())
        totals = [cloud.totals() for cloud in clouds]  # each cloud's lock, not under this one
        return Activity(
            pending,
            following,
            lines,
            sum(s.runs for s in totals),
            [f for s in totals for f in s.failed],
            [w for s in totals for w in s.written],
        )

    def wsgi(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """`app` (moto's), answering ACTIVITY_PATH itself."""

        def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO") != ACTIVITY_PATH:
                return app(environ, start_response)
            after = parse_qs(environ.get("QUERY_STRING", "")).get("after", ["0"])[0]
            body = json.dumps(asdict(self.activity(int(after) if after.isdigit() else 0))).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]

        return serve

    def _log(self, line: str) -> None:
        self._output(line)
        with self._lock:
            self._lines.append(line)
            self._next += 1

    def _cloud(self, region: str) -> LocalCloud:
        with self._lock:  # `activity` reads the clouds from the server's threads
            if region not in self._clouds:
                session = boto3.Session(
                    aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    region_name=region,
                )
                self._clouds[region] = LocalCloud(
                    Aws(session, self.endpoint),
                    code_in_emulator,
                    verbose=self.verbose,
                    chain_outputs=False,
                    progress=self._log,
                    options=self.options,
                    reserved=lambda function: reserved_concurrency(str(function.configuration["FunctionArn"])),
                    job_state=self._job_state,
                )
            return self._clouds[region]

    def _take(self) -> Triggered | None:
        """The oldest item whose function may run one more at once (None: stop)."""
        with self._ready:
            while not self._stopping:
                for index, item in enumerate(self._waiting):
                    reserved = reserved_concurrency(item.function_arn)
                    if reserved is None or reserved == 0 or self._running[item.function_arn] < reserved:
                        del self._waiting[index]
                        self._running[item.function_arn] += 1
                        return item
                self._ready.wait()
            return None

    def _work(self) -> None:
        while (item := self._take()) is not None:
            problem = self._run(item)
            if item.reply and not item.reply.done():  # the function did not run: the caller must not wait
                payload = {"errorMessage": f"faas local could not run it: {problem}", "errorType": "LocalRunError"}
                item.reply.set_result(Invocation(str(uuid.uuid4()), payload, True, 0.0))
            if self.journal is not None and item.journaled is not None:
                self.journal.finished(item.journaled)
            with self._ready:
                self._running[item.function_arn] -= 1
                self._ready.notify_all()
            with self._lock:
                self._pending -= 1

    def _run(self, item: Triggered) -> str | None:
        """Run one queued item to its end; what kept it from running, if anything (the cloud keeps an
        asynchronous event that cannot start as a failure; this is for what is left: no such
        function, or a bug)."""
        cloud = self._cloud(item.region)
        name = item.function_arn.split(":")[6]
        try:
            function = function_in_emulator(item.function_arn)  # afresh: it may have been redeployed
            cloud.run(function, item.event, item.cause, item.reply.set_result if item.reply else None)
            return None
        except (LocalError, AwsError, ClientError, BotoCoreError, OSError) as error:
            problem = str(error)
        except Exception:  # a bug here must not stop the service for every later upload
            problem = traceback.format_exc()
        cloud.failed(name)
        self._log(f"[{name}] could not run for {item.cause}: {problem}".replace("\n", "\n    ").rstrip())
        return problem
