"""The modules' own `terraform test` suites, and their registry-style examples.

Each module runs in its own copy, all of them at once (each terraform command pays for starting the
provider); the tests then look at one module's result each. `terraform fmt -check` covers the
tests and examples too (tests/terraform/test_validate.py).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers import REPO, requires_terraform, terraform

pytestmark = [requires_terraform(), pytest.mark.terraform]

MODULES = ["batch", "failures", "iam", "image", "image-builder", "lambda", "storage"]
# The placeholder registry address of the examples (see VERSIONING.md).
REGISTRY_SOURCE = re.compile(
    r'^(?P<indent> *)source  = "app\.terraform\.io/example-org/faas-render/aws//modules/(?P<module>[a-z-]+)"\n'
    r'(?P=indent)version = "~> 0\.1\.0"\n',
    re.MULTILINE,
)
Runs = dict[str, subprocess.CompletedProcess[str]]


def in_parallel(step: Callable[[str], subprocess.CompletedProcess[str]]) -> Runs:
    with ThreadPoolExecutor(len(MODULES)) as pool:
        return dict(zip(MODULES, pool.map(step, MODULES), strict=True))


def copy_modules(destination: Path) -> Path:
    shutil.copytree(REPO / "modules", destination, ignore=shutil.ignore_patterns(".terraform*"))
    return destination


@pytest.fixture(scope="module")
def terraform_tests(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    modules = copy_modules(tmp_path_factory.mktemp("terraform-test") / "modules")

    def run(module: str) -> subprocess.CompletedProcess[str]:
        terraform(modules / module, "init", "-backend=false", "-input=false")
        return terraform(modules / module, "test", "-no-color", check=False)

    return in_parallel(run)


@pytest.fixture(scope="module")
def validated_examples(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Registry sources cannot be fetched offline: validate copies whose sources point here."""
    modules = copy_modules(tmp_path_factory.mktemp("examples") / "modules")

    def run(module: str) -> subprocess.CompletedProcess[str]:
        example = modules / module / "examples" / "basic"
        text = (example / "main.tf").read_text()
        local = REGISTRY_SOURCE.sub(lambda m: f'{m.group("indent")}source = "../../../{m.group("module")}"\n', text)
        (example / "main.tf").write_text(local)
        terraform(example, "init", "-backend=false", "-input=false")
        return terraform(example, "validate", "-no-color", check=False)

    return in_parallel(run)


@pytest.mark.parametrize("module", MODULES)
def test_module_terraform_tests_pass_offline(module: str, terraform_tests: Runs) -> None:
    assert sorted(p.name for p in (REPO / "modules" / module / "tests").glob("*.tftest.hcl")) == [
        f"{module}.tftest.hcl"
    ]
    result = terraform_tests[module]
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Success! [1-9]\d* passed, 0 failed", result.stdout), result.stdout


@pytest.mark.parametrize("module", MODULES)
def test_example_calls_modules_through_the_registry(module: str) -> None:
    text = (REPO / "modules" / module / "examples" / "basic" / "main.tf").read_text()
    used = [m.group("module") for m in REGISTRY_SOURCE.finditer(text)]
    assert module in used, "the example must call its module through the registry address"
    assert len(re.findall(r"^module \"", text, re.MULTILINE)) == len(used), "every module block must use it"


@pytest.mark.parametrize("module", MODULES)
def test_example_validates_against_this_checkout(module: str, validated_examples: Runs) -> None:
    result = validated_examples[module]
    assert result.returncode == 0, result.stdout + result.stderr
