"""The frozen supervisors shipped in the wheel (`make binaries`): one bundle per architecture.

Each is a tar of the folder the supervisor layer puts at contract.SUPERVISOR_HOME: the program
(an ELF executable for its machine, mode 0755, whose interpreter is the loader in the bundle's
own lib/) and lib/, nothing else. Unpacked there in an otherwise empty root (no C library, no
shell, no /etc), it must run: without configuration it stops at its first check with the
supervisor's failure status. arm64 runs under qemu-user (binfmt_misc) on other machines. A
bundle that was not built is skipped.
"""

from __future__ import annotations

import platform
import shutil
import struct
import subprocess
import tarfile
from pathlib import Path

import pytest
from faas_supervisor import contract

from render.local.execution.elf import interpreter
from render.terraform.artifacts import supervisor_sources
from render.terraform.supervisor_bundle import packaged_bundle
from tests.helpers import unpack_supervisor

MAX_SIZE = 30_000_000
SUPERVISOR_FAILURE = 125
CONFIG_ERROR = "FAAS_CONFIG_URI is not set"
# Our architecture name: (ELF e_machine, uname -m)
ARCHES = {"x86_64": (62, "x86_64"), "arm64": (183, "aarch64")}


@pytest.fixture(params=sorted(ARCHES))
def bundle(request: pytest.FixtureRequest) -> tuple[str, Path]:
    path = packaged_bundle(request.param)
    if not path.is_file():
        pytest.skip(f"{path} not built (make binaries)")
    return request.param, path


def test_program_for_its_machine_with_the_bundled_loader(bundle: tuple[str, Path]) -> None:
    arch, path = bundle
    with tarfile.open(path) as tar:
        program = tar.getmember(contract.SUPERVISOR_NAME)
        reader = tar.extractfile(program)
        assert reader is not None
        data = reader.read()
        names = tar.getnames()
    (machine,) = struct.unpack_from("<H", data, 0x12)
    loader = interpreter(data)
    assert machine == ARCHES[arch][0]
    assert program.mode & 0o777 == 0o755
    assert loader and loader.startswith(f"{contract.SUPERVISOR_HOME}/lib/ld-")
    assert loader.removeprefix(f"{contract.SUPERVISOR_HOME}/") in names
    assert {"lib/libc.so.6", "lib/libpython3.11.so.1.0"} <= set(names)
    assert all(name == contract.SUPERVISOR_NAME or name.split("/")[0] == "lib" for name in names)


def test_size(bundle: tuple[str, Path]) -> None:
    assert bundle[1].stat().st_size < MAX_SIZE


def can_run(arch: str) -> bool:
    machine = ARCHES[arch][1]
    handler = Path(f"/proc/sys/fs/binfmt_misc/qemu-{machine}")
    return platform.machine() == machine or (handler.is_file() and handler.read_text().startswith("enabled"))


def test_runs_in_an_empty_root_and_reports_missing_configuration(bundle: tuple[str, Path], tmp_path: Path) -> None:
    arch, path = bundle
    if not can_run(arch):
        pytest.skip(f"cannot run {arch} programs on {platform.machine()}: no binfmt_misc handler (qemu-user-static)")
    root = tmp_path / "root"
    unpack_supervisor(path, root)
    (root / "tmp").mkdir()
    program = shutil.which("bwrap")
    if program is None:
        pytest.skip("bubblewrap is not installed (Debian: apt-get install bubblewrap)")
    bwrap = [program, "--bind", str(root), "/", "--proc", "/proc", "--clearenv", "--setenv", "PATH", "/bin"]
    proc = subprocess.run([*bwrap, contract.SUPERVISOR_PATH], capture_output=True, text=True, timeout=600, check=False)
    assert sorted(p.name for p in root.iterdir()) == ["opt", "proc", "tmp"]
    assert proc.returncode == SUPERVISOR_FAILURE, proc.stdout + proc.stderr
    assert CONFIG_ERROR in proc.stderr


def test_lambda_zip_leaves_the_bundles_out() -> None:
    if not any(packaged_bundle(arch).is_file() for arch in ARCHES):
        pytest.skip("no bundle built (make binaries)")
    names = [name for name, _ in supervisor_sources()]
    assert names and all(name.endswith(".py") for name in names)
    assert not [name for name in names if "/bin/" in name]
