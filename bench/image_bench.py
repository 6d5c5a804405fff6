"""Image builds against the local emulator: the first build (the base copied), then a script-only change.

examples/hello is rendered with the packaged supervisor; its layers are staged in the emulator's
S3 as Terraform stages them, and the builder (faas_supervisor.image.builder, what Terraform
invokes) assembles the image in the emulator's ECR, the base coming from a registry mirror on
loopback (the python:3.12-alpine stand-in of tools/base_images.py, about 14 MB). Then the script
changes (the rendered function layer changes, nothing else) and the builder runs again; then once
more with nothing changed. Reported: seconds and what was sent, against the first build.

    python bench/image_bench.py [--runs 3] [--quick]

Targets: a script-only change sends under 100 KB and takes under 5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from faas_supervisor import contract  # noqa: E402
from faas_supervisor.image.builder import handler as build  # noqa: E402

from render.local import emulator  # noqa: E402
from render.main import render_fdl  # noqa: E402
from tools.base_images import build_and_push  # noqa: E402
from tools.registry import start_registry  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hello"
BASE = "python:3.12-alpine"
BUCKET = "image-bench-artifacts"


def staged_request(root: Path, s3: Any, repository: str) -> dict[str, Any]:
    """The builder's event for the rendered hello function, its layers put in S3 as Terraform does."""
    layers: list[dict[str, Any]] = []
    for name in ("supervisor-x86_64", "hello"):
        blob = (root / "artifacts" / "layers" / f"{name}.tar.gz").read_bytes()
        digest = hashlib.sha256(blob).hexdigest()
        s3.put_object(Bucket=BUCKET, Key=f"layers/{digest}.tar.gz", Body=blob)
        layers.append(
            {
                "bucket": BUCKET,
                "key": f"layers/{digest}.tar.gz",
                "digest": f"sha256:{digest}",
                "diff_id": "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest(),
                "size": len(blob),
                "comment": f"faas-render: {name}",
            }
        )
    return {
        "repository": repository,
        "tag": f"faas-{layers[1]['digest'][7:31]}",
        "architecture": "x86_64",
        "base": BASE,
        "base_archive": None,
        "credentials_secret": None,
        "layers": layers,
        "entrypoint": list(contract.IMAGE_ENTRYPOINT),
        "environment": {"LAMBDA_TASK_ROOT": contract.IMAGE_TASK_ROOT},
    }


def render(source: Path, root: Path) -> None:
    if root.exists():
        shutil.rmtree(root)
    render_fdl(source / "hello.yaml", root, use_scar_config=False)


def timed_build(request: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    result = build(request, None)
    return time.perf_counter() - started, result


@contextlib.contextmanager
def environment(endpoint: str, mirror: str) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            contract.REGISTRY_MIRROR: mirror,
            contract.LOG_LEVEL: "WARNING",
        }
    )
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3, help="builds of each kind (default 3; the median is shown)")
    parser.add_argument("--quick", action="store_true", help="one build of each kind, to check the benchmark runs")
    options = parser.parse_args(argv)
    runs = 1 if options.quick else options.runs
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    rows: dict[str, list[tuple[float, dict[str, Any]]]] = {"first": [], "script": [], "unchanged": []}
    with tempfile.TemporaryDirectory(prefix="image-bench-") as folder:
        work = Path(folder)
        registry = start_registry(work / "registry")
        running = emulator.start(port=0)
        try:
            build_and_push(registry.url)
            with environment(running.endpoint, registry.url):
                s3, ecr = boto3.client("s3"), boto3.client("ecr")
                s3.create_bucket(Bucket=BUCKET)
                source = work / "hello"
                shutil.copytree(EXAMPLE, source)
                for run in range(runs):
                    repository = f"bench/hello-{run}"
                    ecr.create_repository(repositoryName=repository)
                    (source / "hello.sh").write_text((EXAMPLE / "hello.sh").read_text())
                    render(source, work / "root")
                    rows["first"].append(timed_build(staged_request(work / "root", s3, repository)))
                    (source / "hello.sh").write_text((EXAMPLE / "hello.sh").read_text() + f"# change {run}\n")
                    render(source, work / "root")
                    request = staged_request(work / "root", s3, repository)
                    rows["script"].append(timed_build(request))
                    rows["unchanged"].append(timed_build(request))
        finally:
            running.stop()
            registry.stop()
    first_bytes = statistics.median(r["bytes_sent"] for _, r in rows["first"])
    print(f"Image builds of examples/hello on {BASE} (stand-in), {runs} run(s) each, median:\n")
    print("| build | seconds | blobs sent | blobs skipped | bytes sent | bytes vs first build |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    names = {"first": "first (base copied)", "script": "script-only change", "unchanged": "nothing changed"}
    for kind, measured in rows.items():
        seconds = statistics.median(s for s, _ in measured)
        sent = statistics.median(r["bytes_sent"] for _, r in measured)
        blobs = statistics.median(r["blobs_sent"] for _, r in measured)
        skipped = statistics.median(r["blobs_skipped"] for _, r in measured)
        print(
            f"| {names[kind]} | {seconds:.2f} | {blobs:.0f} | {skipped:.0f} | {sent:,.0f} | {sent / first_bytes:.4f} |"
        )
    script = rows["script"]
    sent, seconds = max(r["bytes_sent"] for _, r in script), max(s for s, _ in script)
    print(f"\nScript-only change: at most {sent:,} bytes and {seconds:.2f} s (targets: 100,000 bytes, 5 s).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
