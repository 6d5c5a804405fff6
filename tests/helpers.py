"""What the tests share besides fixtures: paths, running the CLIs, Terraform, the emulator's environment."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from faas_supervisor import contract

import tools.registry
from render.cli import main as faas_render_main
from render.faas_cli import main as faas_main
from render.terraform.run import terraform_environment
from tools.base_images import PushedImage
from tools.registry import LocalRegistry, RegistryUnavailable
from tools.registry import free_port as free_port  # re-exported: tests take it from here

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
SCAR_CORPUS = REPO.parent / "shared" / "reference" / "scar-examples"
NETWORK_CONFIG = REPO / "tests" / "data" / "network.yaml"
EXAMPLE_FILES = {
    "hello": EXAMPLES / "hello" / "hello.yaml",
    "plant-classification": EXAMPLES / "plant-classification" / "plants.yaml",
    "video-process": EXAMPLES / "video-process" / "video-process.yaml",
}


def render(fdl: Path, output: Path, *extra: str) -> int:
    """faas-render in this process."""
    return faas_render_main([str(fdl), "-o", str(output), *extra])


def render_in_process(fdl: Path, root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """faas-render in its own process, as a user runs it."""
    command = [sys.executable, "-m", "render.cli", str(fdl), "-o", str(root), *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def run_faas(*args: str) -> Result:
    """A `faas` command in this process, its output captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = faas_main(list(args))
    return Result(code, out.getvalue(), err.getvalue())


def requires_terraform() -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")


def terraform(
    directory: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["terraform", *args],
        cwd=directory,
        env=terraform_environment(env),
        text=True,
        capture_output=True,
        check=check,
        timeout=900,
    )


def aws_variables(endpoint: str) -> dict[str, str]:
    """The environment that points boto3, the faas commands and Terraform at an emulator."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }


def start_registry(folder: Path) -> LocalRegistry:
    """A real registry on a free loopback port (tools/registry.py); the test is skipped without docker-registry."""
    try:
        return tools.registry.start_registry(folder)
    except RegistryUnavailable as error:
        pytest.skip(str(error))


@dataclass(frozen=True)
class Mirror:
    """A registry serving Docker Hub's names (`library/alpine:3.20`...): give `url` to --registry-mirror."""

    url: str
    images: dict[str, PushedImage]  # by Docker Hub name, "alpine:3.20"
    cache: Path  # the .debs, their resolution and the layers built of them


def write_bundle(path: Path, program: bytes) -> Path:
    """A supervisor bundle (contract.SUPERVISOR_BUNDLE's form) holding only `program`: a stand-in."""
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo(contract.SUPERVISOR_NAME)
        info.mode, info.size = 0o755, len(program)
        tar.addfile(info, io.BytesIO(program))
    return path


def unpack_supervisor(bundle: Path, root: Path) -> Path:
    """Unpack a supervisor bundle (contract.SUPERVISOR_BUNDLE) where an image has it, under `root`."""
    home = root / contract.SUPERVISOR_HOME.lstrip("/")
    home.mkdir(parents=True, exist_ok=True)
    with tarfile.open(bundle) as tar:
        tar.extractall(home, filter="data")
    return home


def supervisor_command(home: Path) -> list[str]:
    """The command running an unpacked supervisor wherever it is: through the loader in its lib/ (an
    image runs contract.SUPERVISOR_PATH itself, whose interpreter is that loader at SUPERVISOR_HOME)."""
    (loader,) = (home / "lib").glob("ld-linux-*")
    return [str(loader), str(home / contract.SUPERVISOR_NAME)]


def fargate_fdl(instance_types: str) -> str:
    """A batch function on a FARGATE profile naming `instance_types` (a YAML list's inside)."""
    return f"""\
functions:
  aws:
  - lambda:
      name: on-fargate
      execution_mode: batch
      init_script: run.sh
      container: {{image: alpine}}
      input: [{{storage_provider: s3, path: fargate-test/in}}]
    batch:
      vcpus: 1
      memory: 2048
      compute_resources:
        type: FARGATE
        instance_types: [{instance_types}]
        subnets: [subnet-1]
        security_group_ids: [sg-1]
"""
