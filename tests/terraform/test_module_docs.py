"""The modules are publishable: READMEs in sync with the code, versions, examples, license, changelog."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

TOOL = REPO / "tools" / "module_docs.py"
MODULES = ["batch", "failures", "iam", "image", "image-builder", "lambda", "storage"]


def module_docs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, check=False)


def test_readme_references_are_in_sync_with_the_code() -> None:
    result = module_docs("--check")
    assert result.returncode == 0, result.stderr + "\nrun: python tools/module_docs.py"


def test_check_names_a_stale_readme_and_regenerating_fixes_it(tmp_path: Path) -> None:
    module = tmp_path / "iam"
    shutil.copytree(REPO / "modules" / "iam", module)
    variables = module / "variables.tf"
    variables.write_text(variables.read_text().replace("Whether to create the role", "Create the role"))
    stale = module_docs("--check", str(module))
    assert stale.returncode == 1 and f"{module / 'README.md'}: out of date" in stale.stderr
    assert module_docs(str(module)).returncode == 0
    assert "| `create_job_role` | Create the role of the function's Batch jobs" in (module / "README.md").read_text()
    assert module_docs("--check", str(module)).returncode == 0


def test_missing_markers_or_descriptions_are_reported(tmp_path: Path) -> None:
    module = tmp_path / "lambda"
    shutil.copytree(REPO / "modules" / "lambda", module)
    readme = module / "README.md"
    readme.write_text(readme.read_text().replace("<!-- BEGIN_TF_DOCS -->", ""))
    result = module_docs("--check", str(module))
    assert result.returncode == 2 and "needs the markers" in result.stderr
    shutil.copy(REPO / "modules" / "lambda" / "README.md", readme)
    outputs = module / "outputs.tf"
    outputs.write_text(outputs.read_text().replace('  description = "Name of the Lambda function."\n', ""))
    result = module_docs("--check", str(module))
    assert result.returncode == 2 and "output function_name needs a description" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("module", MODULES)
def test_module_has_the_standard_structure(module: str) -> None:
    directory = REPO / "modules" / module
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (directory / name).is_file(), name
    assert (directory / "examples" / "basic" / "main.tf").is_file()
    assert list((directory / "tests").glob("*.tftest.hcl"))
    versions = (directory / "versions.tf").read_text()
    assert 'required_version = ">= ' in versions and 'version = ">= 5.' in versions
    readme = (directory / "README.md").read_text()
    for link in ("](../../VERSIONING.md)", "](../../CHANGELOG.md)", "](examples/basic/main.tf)", "## Usage"):
        assert link in readme, link
    assert f"app.terraform.io/example-org/faas-render/aws//modules/{module}" in readme


def test_repository_has_license_changelog_and_versioning_policy() -> None:
    assert "Apache License" in (REPO / "LICENSE").read_text() and "Version 2.0" in (REPO / "LICENSE").read_text()
    assert "license = Apache-2.0" in (REPO / "setup.cfg").read_text()
    assert "## [Unreleased]" in (REPO / "CHANGELOG.md").read_text()
    versioning = (REPO / "VERSIONING.md").read_text()
    assert "vX.Y.Z" in versioning and "What is a breaking change for a module" in versioning
