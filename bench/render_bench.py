"""Render time and peak memory for FDL files of 1, 10, 100 and 1000 functions.

Each render runs `faas-render` in a fresh process (what a user runs), timed from start to exit;
peak memory is the process's maximum resident set size. Reported: the median of --repeat runs
and the growth factor from one size to the next.

    python bench/render_bench.py [--sizes 1 10 100 1000] [--repeat 5] [--quick]

--quick (1 and 10 functions, one render each) checks that the benchmark still runs; its figures
mean nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fdl_factory import NETWORK, write_fdl  # noqa: E402

from tests.helpers import write_bundle  # noqa: E402


def one_render(fdl: Path, network: Path, output: Path, env: dict[str, str]) -> tuple[float, float]:
    """Seconds and peak MiB of one `faas-render` process."""
    command = [sys.executable, "-m", "render.cli", str(fdl), "-o", str(output), "--config", str(network)]
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"render failed: {process.stderr.read().decode() if process.stderr else ''}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", help="functions per FDL file (default: 1 10 100 1000)")
    parser.add_argument("--repeat", type=int, help="renders per size (default: 5)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one render each: a smoke test")
    args = parser.parse_args()
    sizes: list[int] = args.sizes or ([1, 10] if args.quick else [1, 10, 100, 1000])
    repeat: int = args.repeat or (1 if args.quick else 5)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        network = root / "network.yaml"
        network.write_text(NETWORK)
        # A fixed stand-in keeps compressing the supervisor's layer (about a second) out of the figures.
        stand_in = write_bundle(root / "faas-supervisor.tar", b"stand-in")
        env = {**os.environ, "FAAS_RENDER_SUPERVISOR_BUNDLE": str(stand_in), "HOME": scratch}
        print("| functions | median time (s) | peak memory (MiB) | time growth | memory growth |")
        print("| ---: | ---: | ---: | ---: | ---: |")
        previous: tuple[float, float] | None = None
        for size in sizes:
            fdl = write_fdl(root / f"fdl-{size}", size)
            runs = [one_render(fdl, network, root / f"out-{size}", env) for _ in range(repeat)]
            seconds = statistics.median(r[0] for r in runs)
            memory = statistics.median(r[1] for r in runs)
            growth = f"x{seconds / previous[0]:.1f} | x{memory / previous[1]:.2f}" if previous else "- | -"
            print(f"| {size} | {seconds:.2f} | {memory:.0f} | {growth} |", flush=True)
            previous = (seconds, memory)


if __name__ == "__main__":
    main()
