"""checkov over the modules and a rendered example: no failed check, and every skip says why.

checkov pins old versions of boto3 and other libraries, so it lives in its own virtual
environment: point CHECKOV at its executable (or put `checkov` on PATH); without it the scans
are skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import EXAMPLE_FILES, NETWORK_CONFIG, REPO, render

SKIP_COMMENT = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def checkov_executable() -> str | None:
    return os.environ.get("CHECKOV") or shutil.which("checkov")


requires_checkov = pytest.mark.skipif(
    checkov_executable() is None, reason="checkov is not installed (set CHECKOV to its executable)"
)


def scan(directory: Path) -> dict[str, Any]:
    executable = checkov_executable()
    assert executable
    result = subprocess.run(
        [executable, "--directory", str(directory), "--framework", "terraform", "--output", "json", "--skip-download"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_every_checkov_skip_gives_a_reason() -> None:
    skips = []
    for path in sorted((REPO / "modules").rglob("*.tf")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = SKIP_COMMENT.search(line)
            if match:
                skips.append(match)
                assert match.group(2) and len(match.group(2).strip()) > 20, f"{path}:{number}: skip without a reason"
    assert skips, "expected the documented checkov skips in modules/"


@requires_checkov
def test_modules_and_rendered_examples_pass_checkov(tmp_path: Path) -> None:
    """One scan (checkov takes seconds to start) of the modules with their examples, and each
    example FDL rendered as a self-contained root."""
    shutil.copytree(REPO / "modules", tmp_path / "modules", ignore=shutil.ignore_patterns(".terraform*"))
    for example, fdl in EXAMPLE_FILES.items():
        assert render(fdl, tmp_path / example, "--config", str(NETWORK_CONFIG)) == 0
    report = scan(tmp_path)
    results = report["results"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]}): {c['check_name']}"
        for c in results["failed_checks"]
    ]
    assert not failed, "\n".join(failed)
    assert report["summary"]["parsing_errors"] == 0
    scanned = {c["file_abs_path"] for c in results["passed_checks"]}
    for folder in ["modules", *EXAMPLE_FILES]:
        assert any(path.startswith(f"{tmp_path / folder}/") for path in scanned), f"checkov checked nothing in {folder}"
    assert all(c["check_result"]["suppress_comment"] for c in results["skipped_checks"])
