"""Our supervisor against faas-supervisor 1.5.8 (the runtime SCAR deploys), side by side.

    python bench/supervisor_bench.py [--events 30] [--warmup 3] [--imports 21] [--venv DIR] [--quick]

One run, one moto server (render.local.emulator.start(port=0)), one 1 MiB input object, one S3 event,
one trivial script (`cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"`), for both supervisors:

- per-event time: each handler lives in its own long-lived worker process, the way Lambda keeps
  a warm instance (ours: `faas_supervisor.lambda_function.lambda_handler` imported from the
  Lambda zip's files; theirs: `faassupervisor.supervisor.main`, the handler SCAR configures).
  The workers get the same event in turn (alternating which goes first); the time is the
  handler call measured inside the worker (download 1 MiB, run the script, upload 1 MiB, plus
  the supervisor's own work). After every event the output object is checked (size) and
  deleted, outside the timing, so each event must write it again. Reported: median and
  quartiles of --events events after --warmup events. A third worker, the "floor", does the
  same work with no supervisor (one boto3 client: download_file, `/bin/sh` script, upload_file).
- cold import: median of --imports fresh interpreters: `import boto3`, then the handler module
  (what the handler costs beyond boto3, which the Lambda runtime already has), and the handler
  module alone (ours imports boto3 lazily, theirs at import).
- artifact size: ours is the Lambda zip as the renderer builds it (render.terraform.artifacts:
  supervisor_sources + function_config.json + script, deterministic_zip); theirs is (a) the
  wheel on PyPI, (b) its `faassupervisor` sources zipped the same way as ours, (c) the same plus
  the packages it imports that the Lambda Python runtime lacks (requests, PyYAML, webdavclient3,
  lxml, ...), i.e. what a layer must hold for it to import. SCAR's layer also unpacks the
  `extra/` folder of the faas-supervisor source archive from GitHub (udocker): not measured.

Which paths are compared: SCAR runs the script through udocker by default; the path that runs it
directly is faas-supervisor's Lambda container-image path (AWS_EXECUTION_ENV=AWS_Lambda_Image:
`Container.invoke_function`, `/bin/sh <init_script>`), selected here. Ours runs the script
directly when udocker is absent (as here). Their configuration is the FDL environment variable
(base64 YAML), which faas-supervisor decodes and parses again on every configuration lookup.

faas-supervisor 1.5.8 goes into its own venv (default
${XDG_CACHE_HOME:-~/.cache}/faas-render/bench/faas-supervisor-1.5.8-py<X.Y>), created on first
use. Its wheel declares `webdavclient3==3.14.6requests`, which no pip can satisfy (pip < 23.3
finds no such version, pip >= 23.3 rejects the specifier): it is installed with --no-deps and
its dependencies named explicitly (webdavclient3 3.14.6, requests, PyYAML, boto3 pinned to the
version in this environment, so both sides use the same boto3).

--quick (3 events after 1 warm-up, 3 interpreters per import figure) checks that the benchmark
still runs; its figures mean little. It measures faas-supervisor too, creating its venv if need
be; only when that venv cannot be created (no access to PyPI) does it say so on stderr and leave
their cells '-'.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from faas_supervisor.config import CONFIG_FILE_NAME, parse_config  # noqa: E402

from render.local import emulator  # noqa: E402
from render.terraform.artifacts import deterministic_zip, supervisor_sources  # noqa: E402

THEIR_VERSION = "1.5.8"
INPUT_BYTES = 1024 * 1024
SCRIPT = 'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"\n'
# Distributions their handler imports that the Lambda Python runtime does not provide
# (it has boto3, botocore, s3transfer, jmespath, python-dateutil, six, urllib3).
THEIR_LAYER_DISTS = (
    "faas-supervisor",
    "webdavclient3",
    "requests",
    "PyYAML",
    "lxml",
    "idna",
    "certifi",
    "charset-normalizer",
)

WORKER = r"""
import json, os, subprocess, sys, tempfile, time
proto = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # prints and the script's stdout go nowhere
which, spec = sys.argv[1], json.loads(sys.argv[2])


class Context:
    function_name = "bench"
    memory_limit_in_mb = 1024
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "2024/01/01/[$LATEST]bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"

    def __init__(self, request_id):
        self.aws_request_id = request_id
        self._end = time.monotonic() + 900

    def get_remaining_time_in_millis(self):
        return int((self._end - time.monotonic()) * 1000)


if which == "ours":
    from faas_supervisor.lambda_function import lambda_handler as handler
    origin = sys.modules["faas_supervisor"].__file__
elif which == "theirs":
    from faassupervisor.supervisor import main as handler
    origin = sys.modules["faassupervisor"].__file__
else:  # the floor: the same transfers and script, no supervisor
    import boto3
    s3 = boto3.client("s3")
    origin = "boto3 " + boto3.__version__

    def handler(event, context):
        rec = event["Records"][0]["s3"]
        with tempfile.TemporaryDirectory() as work:
            os.mkdir(work + "/in"); os.mkdir(work + "/out")
            path = work + "/in/" + rec["object"]["key"].rsplit("/", 1)[-1]
            s3.download_file(rec["bucket"]["name"], rec["object"]["key"], path)
            env = dict(os.environ, INPUT_FILE_PATH=path, TMP_OUTPUT_DIR=work + "/out")
            subprocess.run(["/bin/sh", spec["script"]], env=env, check=True)
            for name in os.listdir(work + "/out"):
                s3.upload_file(work + "/out/" + name, spec["bucket"], spec["prefix"] + "/" + name)
        return {"statusCode": 200}

proto.write(json.dumps({"origin": origin}) + "\n")
for line in sys.stdin:
    message = json.loads(line)
    context = Context(message["request_id"])
    start = time.perf_counter()
    try:
        result, error = handler(message["event"], context), None
    except BaseException as exc:  # theirs exits (SystemExit) on S3 errors
        result, error = None, repr(exc)
    seconds = time.perf_counter() - start
    proto.write(json.dumps({"seconds": seconds, "error": error, "result": result}, default=str) + "\n")
"""

IMPORT_PROBE = """
import sys, time
t0 = time.perf_counter()
if {with_boto3}:
    import boto3
t1 = time.perf_counter()
import {module}
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t1) * 1000, "boto3" in sys.modules)
"""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "faas-render" / "bench"


def their_venv(folder: Path) -> Path:
    """A venv with faas-supervisor 1.5.8 (created once); returns its python."""
    python = folder / "bin" / "python"
    marker = folder / ".complete"
    if marker.exists():
        return python
    import boto3

    print(f"creating {folder} (faas-supervisor {THEIR_VERSION}) ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-deps", f"faas-supervisor=={THEIR_VERSION}"], check=True)
    deps = ["webdavclient3==3.14.6", "requests", "PyYAML", f"boto3=={boto3.__version__}"]
    subprocess.run([*pip, *deps], check=True)
    wheels = folder / "wheel"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "-d",
            str(wheels),
            f"faas-supervisor=={THEIR_VERSION}",
        ],
        check=True,
    )
    marker.write_text("ok\n")
    return python


def base_env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FAAS_", "PYTHON"))}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_LAMBDA_FUNCTION_NAME="bench",
    )
    return env


class Worker:
    def __init__(self, name: str, python: Path, env: dict[str, str], spec: dict[str, Any], log: Path) -> None:
        self.name = name
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [str(python), "-W", "ignore", "-c", WORKER, name, json.dumps(spec)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.origin = self._read()["origin"]

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"worker {self.name} died; see {self.log.name}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"event": event, "request_id": str(uuid.uuid4())}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.log.close()


def s3_event(bucket: str, key: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2024-05-01T12:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key, "size": INPUT_BYTES},
                },
            }
        ]
    }


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def import_times(python: Path, module: str, env: dict[str, str], runs: int) -> dict[str, Any]:
    def probe(with_boto3: bool) -> tuple[float, float, bool]:
        code = IMPORT_PROBE.format(with_boto3=with_boto3, module=module)
        command = [str(python), "-W", "ignore", "-c", code]
        subprocess.run(command, env=env, check=True, capture_output=True)  # pyc files written
        boto, handler, loaded = [], [], False
        for _ in range(runs):
            out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout.split()
            boto.append(float(out[0]))
            handler.append(float(out[1]))
            loaded = loaded or out[2] == "True"
        return statistics.median(boto), statistics.median(handler), loaded

    boto_ms, after_ms, _ = probe(True)
    _, alone_ms, loads_boto3 = probe(False)
    return {"boto3": boto_ms, "after_boto3": after_ms, "alone": alone_ms, "loads_boto3": loads_boto3}


def their_layer_files(python: Path) -> list[tuple[str, bytes, int]]:
    code = (
        "import json, sys\nfrom importlib import metadata\nout = []\n"
        "for name in sys.argv[1:]:\n"
        "    dist = metadata.distribution(name)\n"
        "    for f in dist.files or []:\n"
        "        p = str(f)\n"
        "        if '.dist-info/' in p or '__pycache__' in p or p.startswith('..'):\n"
        "            continue\n"
        "        out.append([p, str(f.locate())])\n"
        "print(json.dumps(out))\n"
    )
    listed = json.loads(
        subprocess.run([str(python), "-c", code, *THEIR_LAYER_DISTS], check=True, capture_output=True, text=True).stdout
    )
    return [(f"python/{rel}", Path(path).read_bytes(), 0o644) for rel, path in listed]


def artifact_sizes(python: Path, task_zip: bytes, venv: Path) -> dict[str, int]:
    ours_supervisor = deterministic_zip([(n, c, 0o644) for n, c in supervisor_sources()])
    wheel = next((venv / "wheel").glob("faas_supervisor-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        sources = [
            (name, archive.read(name), 0o644)
            for name in archive.namelist()
            if name.startswith("faassupervisor/") and name.endswith(".py")
        ]
    return {
        "ours_zip": len(task_zip),
        "ours_supervisor_only": len(ours_supervisor),
        "their_wheel": wheel.stat().st_size,
        "their_sources_zip": len(deterministic_zip(sources)),
        "their_layer_zip": len(deterministic_zip(their_layer_files(python))),
    }


def fmt_ratio(ours: float, theirs: float) -> str:
    if not theirs:
        return "-"
    ratio = ours / theirs
    return f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.4f}"


def install_theirs(venv: Path, quick: bool) -> Path | None:
    """faas-supervisor's python; in --quick mode None (said on stderr) when it cannot be installed."""
    try:
        return their_venv(venv)
    except (subprocess.CalledProcessError, OSError) as exc:
        if not quick:
            raise
        print(
            f"faas-supervisor {THEIR_VERSION} could not be installed into {venv} ({exc}): "
            "--quick measures our side only",
            file=sys.stderr,
            flush=True,
        )
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, help="timed events per supervisor (default: 30)")
    parser.add_argument("--warmup", type=int, help="untimed events first (default: 3)")
    parser.add_argument("--imports", type=int, help="fresh interpreters per import figure (default: 21)")
    parser.add_argument("--venv", type=Path, help="where faas-supervisor's venv lives (default: in the cache)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 events, 1 warm-up, 3 interpreters: a smoke test (skips faas-supervisor only if it cannot be installed)",
    )
    args = parser.parse_args()
    events: int = args.events or (3 if args.quick else 30)
    warmup: int = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    imports: int = args.imports or (3 if args.quick else 21)

    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    venv = args.venv or cache_dir() / f"faas-supervisor-{THEIR_VERSION}-py{py}"
    their_python = install_theirs(venv, args.quick)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    running = emulator.start(port=0)
    endpoint = running.endpoint
    workers: list[Worker] = []
    try:
        import boto3

        s3 = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        ).client("s3", endpoint_url=endpoint)
        for bucket in ("bench-in", "bench-out-ours", "bench-out-theirs", "bench-out-floor"):
            s3.create_bucket(Bucket=bucket)
        data = random.Random(0).randbytes(INPUT_BYTES)
        s3.put_object(Bucket="bench-in", Key="in/input.bin", Body=data)
        event = s3_event("bench-in", "in/input.bin")

        scratch = Path(tempfile.mkdtemp(prefix="supervisor-bench-"))
        # Ours: the Lambda zip's content (the renderer's own functions), unpacked as Lambda does.
        config = {
            "name": "bench",
            "execution_mode": "lambda",
            "log_level": "INFO",
            "script": "script.sh",
            "container": {"timeout_threshold": 10, "environment": {}},
            "input": [{"bucket": "bench-in", "key_prefix": "in"}],
            "output": [{"bucket": "bench-out-ours", "key_prefix": "out"}],
        }
        entries = [(n, c, 0o644) for n, c in supervisor_sources()]
        entries += [
            (CONFIG_FILE_NAME, parse_config(config, "bench").to_json(), 0o644),
            ("script.sh", SCRIPT.encode(), 0o755),
        ]
        task_zip = deterministic_zip(entries)
        task_root = scratch / "task"
        with zipfile.ZipFile(io.BytesIO(task_zip)) as archive:
            archive.extractall(task_root)
        ours_env = {**base_env(endpoint), "LAMBDA_TASK_ROOT": str(task_root), "PYTHONPATH": str(task_root)}

        # Theirs: the FDL variable, as SCAR sets it, and its container-image (direct) path.
        script = scratch / "script.sh"
        script.write_text(SCRIPT)
        fdl = (
            "name: bench\nexecution_mode: lambda\nlog_level: INFO\n"
            f"init_script: {script}\n"
            "container:\n  timeout_threshold: 10\n  environment:\n    Variables: {}\n"
            "input:\n- storage_provider: s3\n  path: bench-in/in\n"
            "output:\n- storage_provider: s3\n  path: bench-out-theirs/out\n"
        )
        their_env = {
            **base_env(endpoint),
            "AWS_EXECUTION_ENV": "AWS_Lambda_Image",
            "FDL": base64.b64encode(fdl.encode()).decode(),
        }
        floor_spec = {"script": str(script), "bucket": "bench-out-floor", "prefix": "out"}

        workers = [Worker("ours", Path(sys.executable), ours_env, {}, scratch / "ours.log")]
        if their_python:
            workers.append(Worker("theirs", their_python, their_env, {}, scratch / "theirs.log"))
        workers.append(Worker("floor", Path(sys.executable), base_env(endpoint), floor_spec, scratch / "floor.log"))
        if not workers[0].origin.startswith(str(task_root)):
            raise SystemExit(f"ours imported from {workers[0].origin}, not from the unpacked zip")
        buckets = {"ours": "bench-out-ours", "theirs": "bench-out-theirs", "floor": "bench-out-floor"}
        times: dict[str, list[float]] = {w.name: [] for w in workers}
        for n in range(warmup + events):
            order = workers if n % 2 == 0 else workers[::-1]
            for worker in order:
                answer = worker.invoke(event)
                result = answer["result"] or {}
                status = result.get("statusCode", 200) if isinstance(result, dict) else 200
                if answer["error"] or status != 200 or (result.get("status") not in (None, "succeeded")):
                    raise SystemExit(f"{worker.name} failed: {answer}; see {worker.log.name}")
                head = s3.head_object(Bucket=buckets[worker.name], Key="out/input.bin")
                if head["ContentLength"] != INPUT_BYTES:
                    raise SystemExit(f"{worker.name}: output of {head['ContentLength']} bytes")
                s3.delete_object(Bucket=buckets[worker.name], Key="out/input.bin")
                if n >= warmup:
                    times[worker.name].append(answer["seconds"] * 1000)
        origins = {w.name: w.origin for w in workers}
        for worker in workers:
            worker.close()
        workers = []

        ours_imports = import_times(Path(sys.executable), "faas_supervisor.lambda_function", ours_env, imports)
        their_imports = (
            import_times(their_python, "faassupervisor.supervisor", their_env, imports) if their_python else None
        )
        sizes = artifact_sizes(their_python, task_zip, venv) if their_python else ours_sizes(task_zip)
    finally:
        for worker in workers:
            worker.proc.kill()
        running.stop()
    shutil.rmtree(scratch, ignore_errors=True)  # kept when a worker failed: its log is there

    theirs_from = (
        f"faas-supervisor {THEIR_VERSION} from {origins['theirs']}"
        if "theirs" in origins
        else f"faas-supervisor {THEIR_VERSION} not installed (its cells are '-')"
    )
    print(
        f"Python {platform.python_version()}, boto3 {boto3.__version__} on both sides, {theirs_from}, "
        f"ours from the unpacked Lambda zip; "
        f"{events} events after {warmup} warm-up events, {imports} interpreters per import figure.\n"
    )
    report(times, ours_imports, their_imports, sizes)


def ours_sizes(task_zip: bytes) -> dict[str, int]:
    """Our artifact sizes alone (faas-supervisor not installed)."""
    ours_supervisor = deterministic_zip([(n, c, 0o644) for n, c in supervisor_sources()])
    return {"ours_zip": len(task_zip), "ours_supervisor_only": len(ours_supervisor)}


def report(
    times: dict[str, list[float]],
    ours_imports: dict[str, Any],
    their_imports: dict[str, Any] | None,
    sizes: dict[str, int],
) -> None:
    """The three markdown tables; faas-supervisor's cells are '-' when it was not measured."""
    print("| per event (1 MiB in, `cp`, 1 MiB out) | median (ms) | quartiles (ms) | ours / theirs |")
    print("| --- | ---: | ---: | ---: |")
    medians: dict[str, float] = {}
    for name, label in (
        ("ours", "ours (direct)"),
        ("theirs", "faas-supervisor 1.5.8 (AWS_Lambda_Image path)"),
        ("floor", "floor: boto3 + `/bin/sh`, no supervisor"),
    ):
        if name not in times:
            print(f"| {label} | - | - | - |")
            continue
        q1, median, q3 = quartiles(times[name])
        medians[name] = median
        ratio = fmt_ratio(medians["ours"], median) if name == "theirs" else ""
        print(f"| {label} | {median:.1f} | {q1:.1f}-{q3:.1f} | {ratio} |")
    over_ours = medians["ours"] - medians["floor"]
    print(f"| ours minus the floor (the supervisor's own cost) | {over_ours:.1f} | | |")
    if "theirs" in medians:
        over_theirs = medians["theirs"] - medians["floor"]
        ratio = fmt_ratio(over_ours, over_theirs) if over_theirs > 0 else "-"
        print(f"| theirs minus the floor | {over_theirs:.1f} | | {ratio} |")
    else:
        print("| theirs minus the floor | - | | - |")
    print()

    def theirs(key: str, digits: int) -> str:
        return f"{their_imports[key]:.{digits}f}" if their_imports else "-"

    def import_ratio(key: str) -> str:
        return fmt_ratio(ours_imports[key], their_imports[key]) if their_imports else "-"

    their_boto3 = ("yes" if their_imports["loads_boto3"] else "no") if their_imports else "-"
    print("| cold import (median, ms) | ours | faas-supervisor 1.5.8 | ours / theirs |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| `import boto3` | {ours_imports['boto3']:.0f} | {theirs('boto3', 0)} | |")
    print(
        f"| handler module after boto3 | {ours_imports['after_boto3']:.1f} | {theirs('after_boto3', 1)} "
        f"| {import_ratio('after_boto3')} |"
    )
    print(
        f"| handler module alone (imports boto3: ours {'yes' if ours_imports['loads_boto3'] else 'no'}, "
        f"theirs {their_boto3}) | {ours_imports['alone']:.1f} | {theirs('alone', 1)} | {import_ratio('alone')} |"
    )
    print()

    def size_row(label: str, key: str) -> str:
        if key not in sizes:
            return f"| {label} | - | - |"
        return f"| {label} | {sizes[key]} | {fmt_ratio(sizes['ours_zip'], sizes[key])} |"

    print("| artifact | bytes | ours / this |")
    print("| --- | ---: | ---: |")
    print(f"| ours: Lambda zip (supervisor + config + script) | {sizes['ours_zip']} | 1.00 |")
    print(f"| ours: supervisor files only | {sizes['ours_supervisor_only']} | |")
    print(size_row("theirs: wheel on PyPI", "their_wheel"))
    print(size_row("theirs: `faassupervisor` sources, zipped as ours", "their_sources_zip"))
    print(
        size_row(
            f"theirs: sources + imports the Lambda runtime lacks ({', '.join(THEIR_LAYER_DISTS[1:])})",
            "their_layer_zip",
        )
    )


if __name__ == "__main__":
    main()
