"""Shared fixtures: an isolated home, a Terraform environment, and a moto server on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from render import emulator
from render.cli import main as faas_render
from render.terraform import terraform_environment

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
SCAR_CORPUS = REPO.parent / "shared" / "reference" / "scar-examples"
NETWORK_CONFIG = REPO / "tests" / "data" / "network.yaml"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the developer's ~/.scar/scar.cfg or AWS profile."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SCAR_CONFIG_FOLDER", raising=False)
    return home


@pytest.fixture(scope="session")
def stand_in_supervisor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fixed bytes in place of the static supervisor binary, so renders are fast and stable.

    The renderer only stages the file and records its sha256; the real binary is built and run
    by the supervisor's own tests.
    """
    path = tmp_path_factory.mktemp("supervisor") / "faas-supervisor"
    path.write_bytes(b"#!/bin/sh\necho stand-in supervisor\n")
    return path


@pytest.fixture(autouse=True)
def supervisor_binary_env(stand_in_supervisor: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAAS_RENDER_SUPERVISOR_BINARY", str(stand_in_supervisor))


def render(fdl: Path, output: Path, *extra: str) -> int:
    return faas_render([str(fdl), "-o", str(output), *extra])


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


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server on 127.0.0.1, set up as the local emulator is (managed IAM policies, no Docker)."""
    running = emulator.start(port=0)
    yield running.endpoint
    running.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment pointing boto3 and terraform at the emulator."""
    values = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return dict(os.environ)
