"""Measure what the Lambda runtime pays for the supervisor: zip size and handler import time.

    python supervisor/bench_import.py [-n RUNS] [--json]

- zip size: the faas_supervisor sources zipped as the renderer does (deflate level 9, fixed
  timestamps), both the whole package and the Lambda subset (without batch_job.py, __main__.py, runtime_api.py);
- import time: median over RUNS fresh interpreters of `import faas_supervisor.lambda_function`
  after `import boto3` (boto3 is already in the Lambda runtime, so what counts is the time
  beyond it), plus the handler import alone (boto3 must stay unimported: it is imported lazily).

The frozen supervisor's size and start-up are bench/runtime_bench.py's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent / "faas_supervisor"
NOT_IN_LAMBDA = {"__main__.py", "batch_job.py", "runtime_api.py"}

PROBE = """
import sys, time
t0 = time.perf_counter()
if {with_boto3}:
    import boto3
t1 = time.perf_counter()
import faas_supervisor.lambda_function
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t1) * 1000, "boto3" in sys.modules)
"""


def zip_size(files: list[Path]) -> int:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(files):
            info = zipfile.ZipInfo(f"faas_supervisor/{path.relative_to(PACKAGE).as_posix()}", (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes(), compresslevel=9)
    return len(buf.getvalue())


def probe(runs: int, with_boto3: bool) -> tuple[float, float, bool]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")]))
    boto, handler, loaded = [], [], False
    code = PROBE.format(with_boto3=with_boto3)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)  # warm pyc files
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
        b, h, flag = out.split()
        boto.append(float(b))
        handler.append(float(h))
        loaded = loaded or flag == "True"
    return statistics.median(boto), statistics.median(handler), loaded


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--runs", type=int, default=21)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    sources = [p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts]
    lambda_sources = [p for p in sources if p.name not in NOT_IN_LAMBDA]
    boto_ms, handler_after_boto_ms, _ = probe(args.runs, with_boto3=True)
    _, handler_alone_ms, boto_loaded = probe(args.runs, with_boto3=False)
    result = {
        "python": sys.version.split()[0],
        "runs": args.runs,
        "zip_bytes_package": zip_size(sources),
        "zip_bytes_lambda_subset": zip_size(lambda_sources),
        "boto3_import_ms": round(boto_ms, 1),
        "handler_import_after_boto3_ms": round(handler_after_boto_ms, 1),
        "handler_import_alone_ms": round(handler_alone_ms, 1),
        "handler_import_loads_boto3": boto_loaded,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:32} {value}")


if __name__ == "__main__":
    main()
