"""The supervisor as a Lambda image's entry point (the Runtime API loop): start-up, overhead, size.

    python bench/runtime_bench.py [--quick] [--starts 21] [--events 40] [--warmup 3]
                                  [--bundle PATH | --no-bundle]

One moto server (render.local.emulator.start(port=0)) and the tests' Runtime API server
(tests/supervisor/runtime_api_server.py), both in this process; one task root holding
function_config.json and the script `cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"`.

- start-up: from just before the process is started (subprocess.Popen) to its first
  `GET /runtime/invocation/next` reaching the server; median of --starts fresh processes, each
  stopped (SIGTERM) once it has asked, after one unmeasured start (.pyc files, page cache). Also
  the CPU time (user + system) the process and its children used in their whole life, exit
  included, which other load on the machine hardly changes, unlike the elapsed time. For
  `python -m faas_supervisor` (PYTHONPATH to the sources, this environment's interpreter), the
  frozen supervisor (the bundle unpacked, run through its own loader), and a floor: the same
  interpreter running a bare client that only sends `GET next` (http.client, nothing else
  imported).
- per invocation: the same event, task root and emulator for (a) the baseline, the zip handler
  `faas_supervisor.lambda_function.lambda_handler` called in-process by a long-lived worker (as
  the Python runtime calls it), timed around the call; (b) the Runtime API loop of
  `python -m faas_supervisor` and (c) of the frozen supervisor, each a long-lived process with its
  own Runtime API server, timed at the server from the event handed out (the answer to `next`)
  to the response's arrival: the handler plus the loop's own work (HTTP both ways, JSON, the
  context). They take each event in turn (the order alternates), --events times after --warmup;
  median and quartiles. Overhead: the median of the per-round differences with the baseline
  (paired, so load that drifts during the run cancels out). Two events: an S3 event for a 1 KiB
  object (download, the script, upload: the target's case) and s3:TestEvent (nothing to run, so
  the loop's own cost is not hidden by the S3 calls' variance). Every answer is checked
  (`succeeded` with one object uploaded, `ignored`).
- size: the bundle's bytes (the tar the package ships), unpacked (what an instance holds), and
  its supervisor layer, gzipped (what a registry stores and a function's host pulls).

The bundle is --bundle, else render.terraform.supervisor_bundle.supervisor_bundle("x86_64") (the
packaged one, or built on first use, about a minute; needs the [batch] extra); --no-bundle leaves
it out. --quick (3 starts, 5 events after 1 warm-up: a few seconds) is what the test suite runs.
Targets: start-up under 300 ms, layer under 20 MB, overhead within 10 ms of the zip handler.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from faas_supervisor import contract  # noqa: E402

from render.local import emulator  # noqa: E402
from tests.helpers import supervisor_command, unpack_supervisor  # noqa: E402
from tests.supervisor.runtime_api_server import RuntimeApiServer  # noqa: E402

SUPERVISOR_SOURCES = REPO / "supervisor"
SCRIPT = 'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"\n'
INPUT_BYTES = 1024
STARTUP_TARGET_MS = 300.0
SIZE_TARGET_BYTES = 20_000_000
OVERHEAD_TARGET_MS = 10.0

# The floor of start-up: the same interpreter, a client that asks for the first event and stops.
BARE_CLIENT = (
    "import http.client, os\n"
    "c = http.client.HTTPConnection(os.environ['AWS_LAMBDA_RUNTIME_API'])\n"
    "c.request('GET', '/2018-06-01/runtime/invocation/next')\n"
    "c.getresponse()\n"
)

# The baseline: the zip handler called in-process, one event per line on stdin, times on stdout.
WORKER = r"""
import json, os, sys, time
proto = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the script's stdout goes nowhere
from faas_supervisor.lambda_function import lambda_handler


class Context:
    function_name = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"

    def __init__(self, request_id):
        self.aws_request_id = request_id
        self._end = time.monotonic() + 900

    def get_remaining_time_in_millis(self):
        return int((self._end - time.monotonic()) * 1000)


for line in sys.stdin:
    message = json.loads(line)
    context = Context(message["request_id"])
    start = time.perf_counter()
    result = lambda_handler(message["event"], context)
    seconds = time.perf_counter() - start
    proto.write(json.dumps({"result": result, "seconds": seconds}) + "\n")
"""


def base_env(endpoint: str, task_root: Path, tmpdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FAAS_", "PYTHON", "LAMBDA_"))}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_LAMBDA_FUNCTION_NAME="bench",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024",
        LAMBDA_TASK_ROOT=str(task_root),
        PYTHONPATH=str(SUPERVISOR_SOURCES),
        TMPDIR=str(tmpdir),
    )
    return env


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # of the children reaped so far
    return usage.ru_utime + usage.ru_stime


def startup_ms(argv: list[str], env: dict[str, str], starts: int) -> tuple[list[float], list[float]]:
    """Process start to first `GET next`, and CPU time, for `starts` processes after an unmeasured one.

    No other child of this process may end meanwhile (its CPU time would be counted).
    """
    api = RuntimeApiServer()
    env = {**env, "AWS_LAMBDA_RUNTIME_API": api.address}
    elapsed, cpu = [], []
    try:
        for n in range(starts + 1):
            cpu_before = children_cpu_s()
            start = time.perf_counter()
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                asked = api.wait_next_calls(n + 1, timeout=60)[n]
            finally:
                stop(proc)
            if n:
                elapsed.append((asked - start) * 1000)
                cpu.append((children_cpu_s() - cpu_before) * 1000)
    finally:
        api.close()
    return elapsed, cpu


class Loop:
    """A long-lived supervisor serving the Runtime API; times measured at the server."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.api = RuntimeApiServer()
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            argv, env={**env, "AWS_LAMBDA_RUNTIME_API": self.api.address}, stdout=self.log, stderr=self.log
        )

    def invoke(self, event: dict[str, Any]) -> tuple[Any, float]:
        request_id = self.api.invoke(event)
        posted = self.api.wait(request_id, timeout=120)
        if posted.kind != "response":
            raise SystemExit(f"{self.name}: {posted.kind} {posted.body!r}; see {self.log.name}")
        return posted.json(), posted.at - self.api.handed_out_at(request_id)

    def close(self) -> None:
        stop(self.proc)
        self.api.close()
        self.log.close()


class Worker:
    """The baseline: lambda_handler called in-process by a long-lived Python worker."""

    name = "zip handler"

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )

    def invoke(self, event: dict[str, Any]) -> tuple[Any, float]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"event": event, "request_id": str(uuid.uuid4())}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"{self.name} died; see {self.log.name}")
        answer = json.loads(line)
        return answer["result"], answer["seconds"]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.log.close()


Runner = Loop | Worker


def per_invocation_ms(
    runners: list[Runner], event: dict[str, Any], status: str, events: int, warmup: int
) -> dict[str, list[float]]:
    """Times per runner, in rounds: times[name][n] of every runner come from round n."""
    times: dict[str, list[float]] = {r.name: [] for r in runners}
    uploads = 1 if status == "succeeded" else 0
    for n in range(warmup + events):
        for runner in runners if n % 2 == 0 else runners[::-1]:
            result, seconds = runner.invoke(event)
            if result.get("status") != status or len(result.get("uploaded", [])) != uploads:
                raise SystemExit(f"{runner.name}: unexpected result {result}")
            if n >= warmup:
                times[runner.name].append(seconds * 1000)
    return times


S3_EVENT = {
    "Records": [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2024-05-01T12:00:00.000Z",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "bench-in"}, "object": {"key": "in/input.bin", "size": INPUT_BYTES}},
        }
    ]
}
# (label, event, the status every answer must have)
EVENTS = (
    ("S3 event: 1 KiB in, `cp`, 1 KiB out", S3_EVENT, "succeeded"),
    (
        "s3:TestEvent: nothing to run",
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "bench-in"},
        "ignored",
    ),
)


def supervisor_bundle(args: argparse.Namespace) -> Path | None:
    if args.no_bundle:
        return None
    if args.bundle:
        return Path(args.bundle)
    from render.terraform.supervisor_bundle import supervisor_bundle

    return supervisor_bundle("x86_64")


def sizes(bundle: Path, unpacked: Path) -> dict[str, int]:
    from render.terraform.images import supervisor_layer

    return {
        f"bundle (`{bundle.name}`)": bundle.stat().st_size,
        "unpacked": sum(p.stat().st_size for p in unpacked.rglob("*") if p.is_file()),
        "supervisor layer (gzip)": supervisor_layer(bundle, "x86_64").layer.size,
    }


def print_sizes(measured: dict[str, int]) -> None:
    print("| frozen supervisor (x86_64) | bytes | MiB | target 20 MB |")
    print("| --- | ---: | ---: | --- |")
    for name, size in measured.items():
        target = verdict(size < SIZE_TARGET_BYTES) if name.startswith("supervisor layer") else ""
        print(f"| {name} | {size} | {size / 2**20:.1f} | {target} |")


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def print_startup(startups: dict[str, tuple[list[float], list[float]]]) -> None:
    floor = statistics.median(startups["bare client"][0])
    columns = "median (ms) | quartiles (ms) | / floor | CPU time, median (ms) | target 300 ms"
    print(f"| start-up: process start to first `GET next` | {columns} |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, (elapsed, cpu) in startups.items():
        q1, median, q3 = quartiles(elapsed)
        target = "" if name == "bare client" else verdict(median < STARTUP_TARGET_MS)
        ratio, cpu_ms = median / floor, statistics.median(cpu)
        print(f"| {name} | {median:.0f} | {q1:.0f}-{q3:.0f} | {ratio:.1f} | {cpu_ms:.0f} | {target} |")


def print_overhead(label: str, times: dict[str, list[float]]) -> None:
    base = times["zip handler"]
    columns = "median (ms) | quartiles (ms) | overhead: paired difference, median (quartiles) (ms) | / zip handler"
    print(f"| {label} | {columns} | target +10 ms |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, values in times.items():
        q1, median, q3 = quartiles(values)
        ratio = f"{median / statistics.median(base):.2f}"
        if name == "zip handler":
            print(f"| {name} (baseline) | {median:.1f} | {q1:.1f}-{q3:.1f} | | {ratio} | |")
            continue
        d1, overhead, d3 = quartiles([a - b for a, b in zip(values, base, strict=True)])
        target = verdict(overhead <= OVERHEAD_TARGET_MS)
        print(
            f"| {name} | {median:.1f} | {q1:.1f}-{q3:.1f} | {overhead:+.1f} ({d1:+.1f} to {d3:+.1f}) | {ratio} "
            f"| {target} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 starts, 5 events after 1 warm-up")
    parser.add_argument("--starts", type=int, default=21, help="measured starts per entry point")
    parser.add_argument("--events", type=int, default=40, help="timed events per runner")
    parser.add_argument("--warmup", type=int, default=3)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--bundle", help="the supervisor bundle to measure (default: the packaged or a cached build)")
    which.add_argument("--no-bundle", action="store_true", help="leave the frozen supervisor out")
    args = parser.parse_args()
    if args.quick:
        args.starts, args.events, args.warmup = 3, 5, 1
    bundle = supervisor_bundle(args)
    load_before = os.getloadavg()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    server = emulator.start(port=0)
    scratch = Path(tempfile.mkdtemp(prefix="runtime-bench-"))
    runners: list[Runner] = []
    try:
        import boto3

        s3 = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        ).client("s3", endpoint_url=server.endpoint)
        s3.create_bucket(Bucket="bench-in")
        s3.create_bucket(Bucket="bench-out")
        s3.put_object(Bucket="bench-in", Key="in/input.bin", Body=os.urandom(INPUT_BYTES))
        task_root = scratch / "task"
        task_root.mkdir()
        config = {"name": "bench", "script": "script.sh", "output": [{"bucket": "bench-out", "key_prefix": "out"}]}
        (task_root / "function_config.json").write_text(json.dumps(config))
        (task_root / "script.sh").write_text(SCRIPT)
        (scratch / "tmp").mkdir()
        env = base_env(server.endpoint, task_root, scratch / "tmp")

        entry_points: dict[str, list[str]] = {
            "bare client": [sys.executable, "-c", BARE_CLIENT],
            "python -m faas_supervisor": [sys.executable, "-m", "faas_supervisor"],
        }
        frozen = supervisor_command(unpack_supervisor(bundle, scratch / "unpacked")) if bundle else None
        if frozen is not None:
            entry_points["frozen supervisor"] = frozen
        startups = {name: startup_ms(argv, env, args.starts) for name, argv in entry_points.items()}
        runners = [
            Worker(env, scratch / "worker.log"),
            Loop("Runtime API loop, python -m", entry_points["python -m faas_supervisor"], env, scratch / "py.log"),
        ]
        if frozen is not None:
            runners.append(Loop("Runtime API loop, frozen supervisor", frozen, env, scratch / "bin.log"))
        times = {
            label: per_invocation_ms(runners, event, status, args.events, args.warmup)
            for label, event, status in EVENTS
        }
        measured = sizes(bundle, scratch / "unpacked" / contract.SUPERVISOR_HOME.lstrip("/")) if bundle else {}
    finally:
        for runner in runners:
            runner.close()
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    print(
        f"Python {platform.python_version()}, boto3 {boto3.__version__}; {args.starts} starts per entry point, "
        f"{args.events} events after {args.warmup} warm-up events per runner and event; load average "
        f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after ({os.cpu_count()} CPUs).\n"
    )
    print_startup(startups)
    for label, by_runner in times.items():
        print()
        print_overhead(label, by_runner)
    if measured:
        print()
        print_sizes(measured)


if __name__ == "__main__":
    main()
