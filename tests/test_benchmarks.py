"""Every benchmark in bench/ runs in its --quick mode and prints its table, so none can rot unnoticed.

--quick uses tiny sizes; the figures are not checked, only that the script ends well and prints a
markdown table whose rows have as many cells as its header. Together they take more than half a
minute (the resources benchmark plans two Terraform roots; the supervisor comparison creates
faas-supervisor's venv the first time, in the user's cache as the script does by default).
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, requires_terraform

pytestmark = pytest.mark.slow

# Each script's first table starts with this header.
HEADERS = {
    "render_bench.py": "| functions | median time (s) |",
    "resources_bench.py": "| Batch functions | resources (ours) |",
    "supervisor_bench.py": "| per event (1 MiB in, `cp`, 1 MiB out) |",
    "delegation_bench.py": "| event | run | kill |",
    "runtime_bench.py": "| start-up: process start to first `GET next` |",
    "image_bench.py": "| build | seconds | blobs sent | blobs skipped | bytes sent | bytes vs first build |",
    "local_bench.py": "| mode | events | seconds | events/s |",
}


def test_every_benchmark_is_covered() -> None:
    assert sorted(HEADERS) == sorted(p.name for p in (REPO / "bench").glob("*_bench.py"))


def first_table(output: str, header: str) -> list[str]:
    lines = output.splitlines()
    start = next((n for n, line in enumerate(lines) if line.startswith(header)), None)
    assert start is not None, f"no table starting with {header!r} in:\n{output}"
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return table


@pytest.mark.parametrize(
    "script",
    [
        "render_bench.py",
        pytest.param("resources_bench.py", marks=[requires_terraform(), pytest.mark.terraform]),
        "supervisor_bench.py",
        "delegation_bench.py",
        "runtime_bench.py",
        "image_bench.py",
        "local_bench.py",
    ],
)
def test_quick_mode_prints_its_table(script: str, tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("FAAS_RENDER_SUPERVISOR_BUNDLE", None)  # the tests' stand-in: benchmarks run the real one
    # HOME is a fresh folder in tests: keep faas-supervisor's venv where the script keeps it for the user.
    env.setdefault("XDG_CACHE_HOME", str(Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache"))
    command = [sys.executable, str(REPO / "bench" / script), "--quick"]
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    header, separator, *rows = first_table(proc.stdout, HEADERS[script])
    assert separator.startswith("| --- |") or separator.startswith("| ---: |"), separator
    assert rows, proc.stdout
    assert all(row.count("|") == header.count("|") for row in [separator, *rows]), proc.stdout
