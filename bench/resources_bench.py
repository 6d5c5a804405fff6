"""Terraform resources per function: shared compute environments (ours) against SCAR's design.

SCAR creates a compute environment and a job queue for every Batch function. The same layout is
measured here by rendering the same functions with compute settings that differ per function
(max_v_cpus = 2 + index), so no two can share; our design renders the FDL as written, where
functions with equal settings share one compute environment and queue. Both roots are planned
against the local emulator and the planned resources counted.

    python bench/resources_bench.py [--sizes 1 10 50] [--quick]

--quick (one function) checks that the benchmark still runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fdl_factory import NETWORK, write_fdl  # noqa: E402

from render.local import emulator  # noqa: E402
from render.terraform.run import terraform_environment  # noqa: E402
from tests.helpers import write_bundle  # noqa: E402

COUNTED = ("aws_batch_compute_environment", "aws_batch_job_queue")


def planned_resources(fdl: Path, network: Path, root: Path, env: dict[str, str]) -> Counter[str]:
    subprocess.run(
        [sys.executable, "-m", "render.cli", str(fdl), "-o", str(root), "--config", str(network)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    tf_env = terraform_environment(env)
    for command in (["init", "-input=false"], ["plan", "-input=false", "-out=tfplan"]):
        subprocess.run(["terraform", *command], cwd=root, env=tf_env, check=True, stdout=subprocess.DEVNULL)
    shown = subprocess.run(
        ["terraform", "show", "-json", "tfplan"], cwd=root, env=tf_env, check=True, capture_output=True, text=True
    ).stdout
    changes = json.loads(shown)["resource_changes"]
    return Counter(c["type"] for c in changes if c["mode"] == "managed" and "create" in c["change"]["actions"])


def scar_layout(fdl: Path) -> Path:
    """The same functions, each Batch function with its own compute settings (so its own environment)."""
    counter = iter(range(10**6))
    items = fdl.read_text().split("  - lambda:\n")
    rewritten = [items[0]] + [
        item
        + (
            f"    batch:\n      compute_resources:\n        max_v_cpus: {2 + next(counter)}\n"
            if "execution_mode: batch" in item
            else ""
        )
        for item in items[1:]
    ]
    path = fdl.with_name(fdl.stem + "-scar.yaml")
    path.write_text("  - lambda:\n".join(rewritten))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", help="Batch functions per FDL file (default: 1 10 50)")
    parser.add_argument("--quick", action="store_true", help="one function only: a smoke test")
    args = parser.parse_args()
    sizes: list[int] = args.sizes or ([1] if args.quick else [1, 10, 50])
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    running = emulator.start(port=0)
    endpoint = running.endpoint
    try:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            network = folder / "network.yaml"
            network.write_text(NETWORK)
            stand_in = write_bundle(folder / "faas-supervisor.tar", b"stand-in")
            env = {
                **os.environ,
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_DEFAULT_REGION": "us-east-1",
                "FAAS_RENDER_SUPERVISOR_BUNDLE": str(stand_in),
                "HOME": scratch,
            }
            print(
                "| Batch functions | resources (ours) | per function | resources (SCAR layout) | per function "
                "| compute environments + queues (ours / SCAR) |"
            )
            print("| ---: | ---: | ---: | ---: | ---: | ---: |")
            for size in sizes:
                fdl = write_fdl(folder / f"n{size}", size, batch_every=1)
                ours = planned_resources(fdl, network, folder / f"ours-{size}", env)
                scar = planned_resources(scar_layout(fdl), network, folder / f"scar-{size}", env)
                shared = (sum(ours[t] for t in COUNTED), sum(scar[t] for t in COUNTED))
                print(
                    f"| {size} | {sum(ours.values())} | {sum(ours.values()) / size:.1f} | {sum(scar.values())} "
                    f"| {sum(scar.values()) / size:.1f} | {shared[0]} / {shared[1]} |",
                    flush=True,
                )
    finally:
        running.stop()


if __name__ == "__main__":
    main()
