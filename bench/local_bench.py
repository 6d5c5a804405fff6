"""A burst of small uploads through an image function under `faas local`: events per second, cold starts, memory.

    python bench/local_bench.py [--quick] [--events 200] [--concurrency N] [--uploaders 4]

`faas local` runs as a user runs it (its own process, `python -m render.faas_cli local`, on a
free port, the sandbox it detects). A function like examples/hello (its script: `basename`,
`wc`, a greeting into the output folder) is deployed straight through boto3
(tests/local/image_deployment.py): its image is busybox plus the real static supervisor
(render.terraform.supervisor_bundle, built on first use) plus the function layer, pushed into the
emulator's ECR. Then --events small text files are uploaded by --uploaders threads with boto3,
as fast as the emulator takes them, and the bench follows `faas local`'s activity (what `faas
put` does) until every run has finished. Measured: from the first upload to the last run's end
(events per second = events / that time), the runs' cold starts (progress lines saying "(cold
start)"), and the peak memory of `faas local` and all its children (the sum of their RSS, from
/proc every 50 ms). Every output is checked. --quick (20 events) is what the test suite runs.

The previous figure: 200 uploads to examples/hello took 91 s, 2.3 events/s, with every script
run on the host by a fresh process, one at a time. Target: at least 20 events/s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from render.local.activity import activity, follow  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from tests.local.image_deployment import Deployment  # noqa: E402

HELLO = """\
set -eu
name=$(basename "$INPUT_FILE_PATH")
{
  echo "${GREETING:-Hello}, ${name}!"
  echo "It has $(wc -l < "$INPUT_FILE_PATH") line(s)."
} > "$TMP_OUTPUT_DIR/${name%.*}.greeting.txt"
"""
BUCKET = "bench-local"
BASELINE_EVENTS, BASELINE_SECONDS = 200, 91.0  # sequential, host processes
TARGET = 20.0
SAMPLE_S = 0.05


def tree_rss(root: int) -> int:
    """Bytes of resident memory of `root` and every process below it."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


class PeakMemory:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.peak = max(self.peak, tree_rss(self.pid))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def start_faas_local(folder: Path, concurrency: int) -> tuple[subprocess.Popen[bytes], str, Path]:
    port, log = free_port(), folder / "faas-local.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    command = [sys.executable, "-m", "render.faas_cli", "local", "--port", str(port), "--concurrency", str(concurrency)]
    with log.open("w") as output:
        process = subprocess.Popen(command, env=env, cwd=REPO, stdout=output, stderr=subprocess.STDOUT)
    while "listening on" not in log.read_text():
        if process.poll() is not None:
            raise SystemExit(f"faas local did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return process, f"http://127.0.0.1:{port}", log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, help="uploads (default: 200; --quick: 20)")
    parser.add_argument("--quick", action="store_true", help="20 uploads: a smoke test")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 1, help="faas local --concurrency")
    parser.add_argument("--uploaders", type=int, default=4, help="threads uploading (default: 4)")
    args = parser.parse_args()
    events: int = args.events or (20 if args.quick else 200)

    from render.terraform.supervisor_bundle import supervisor_bundle

    supervisor = supervisor_bundle("x86_64")
    folder = Path(tempfile.mkdtemp(prefix="local-bench-"))
    folder.chmod(0o755)
    load_before = os.getloadavg()
    process, endpoint, log = start_faas_local(folder, args.concurrency)
    try:
        deployment = Deployment(endpoint, supervisor, folder, BUCKET)
        deployment.setup()
        deployment.function("hello", HELLO, environment={"GREETING": "Hello"})
        s3 = deployment.client("s3")
        start = activity(endpoint)
        assert start is not None, "not faas local"
        memory = PeakMemory(process.pid)
        began = time.monotonic()

        def upload(n: int) -> None:
            s3.put_object(Bucket=BUCKET, Key=f"in-hello/file-{n:04d}.txt", Body=f"line {n}\nline two\n".encode())

        with ThreadPoolExecutor(args.uploaders) as pool:
            list(pool.map(upload, range(events)))
        summary = follow(endpoint, start, progress=lambda line: None)
        seconds = time.monotonic() - began
        peak = memory.stop()
        if summary.runs != events or summary.failed:  # what faas local said is the only clue
            tail = "\n".join(log.read_text().splitlines()[-40:])
            raise SystemExit(f"{summary}, not {events} clean runs; faas local said, last:\n{tail}")
        for n in range(events):
            body = s3.get_object(Bucket=BUCKET, Key=f"out-hello/file-{n:04d}.greeting.txt")["Body"].read()
            assert body == f"Hello, file-{n:04d}.txt!\nIt has 2 line(s).\n".encode(), body
        said = log.read_text()
        cold = sum("(cold start)" in line for line in said.splitlines() if line.startswith("[hello] finished"))
        sandbox = next((line for line in said.splitlines() if line.startswith(("sandbox:", "notice:"))), "?")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)

    rate = events / seconds
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, faas local --concurrency {args.concurrency}, "
        f"{args.uploaders} uploading threads; {sandbox}; load average {load_before[0]:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after.\n"
    )
    print("| mode | events | seconds | events/s | cold starts | peak RSS, faas local + children (MiB) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| before: host processes, one at a time | {BASELINE_EVENTS} | {BASELINE_SECONDS:.0f} | "
        f"{BASELINE_EVENTS / BASELINE_SECONDS:.1f} | {BASELINE_EVENTS} | - |"
    )
    print(
        f"| image, warm instances, side by side | {events} | {seconds:.1f} | {rate:.1f} | {cold} | {peak / 2**20:.0f} |"
    )
    verdict = "met" if rate >= TARGET else "NOT met"
    print(f"\ntarget {TARGET:.0f} events/s: {verdict}")


if __name__ == "__main__":
    main()
