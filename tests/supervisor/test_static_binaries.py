"""The static supervisor binaries shipped in the wheel (`make binaries`): one per architecture.

Each must be an ELF executable for its machine with no program interpreter (static), under
20 MB, mode 0755, and must run: without configuration it stops at its first check with the
supervisor's failure status. arm64 runs under qemu-user on other machines. A binary that was not
built is skipped.
"""

from __future__ import annotations

import platform
import shutil
import stat
import struct
import subprocess
from pathlib import Path

import pytest

from render.terraform.artifacts import supervisor_sources
from render.terraform.supervisor_binary import packaged_binary

MAX_SIZE = 20_000_000
SUPERVISOR_FAILURE = 125
CONFIG_ERROR = "FAAS_CONFIG_URI is not set"
# Our architecture name: (ELF e_machine, uname -m)
ARCHES = {"x86_64": (62, "x86_64"), "arm64": (183, "aarch64")}
PT_INTERP = 3


@pytest.fixture(params=sorted(ARCHES))
def binary(request: pytest.FixtureRequest) -> tuple[str, Path]:
    path = packaged_binary(request.param)
    if not path.is_file():
        pytest.skip(f"{path} not built (make binaries)")
    return request.param, path


def elf_machine_and_segments(path: Path) -> tuple[int, list[int]]:
    """e_machine and the program header types of a 64-bit little-endian ELF file."""
    with open(path, "rb") as f:
        header = f.read(64)
        assert header[:4] == b"\x7fELF", "not an ELF file"
        assert header[4] == 2 and header[5] == 1, "not 64-bit little-endian"
        (machine,) = struct.unpack_from("<H", header, 0x12)
        (phoff,) = struct.unpack_from("<Q", header, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", header, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return machine, [struct.unpack_from("<I", table, i * phentsize)[0] for i in range(phnum)]


def runner(arch: str) -> list[str] | None:
    """The command prefix that runs `arch` programs here, or None when nothing can."""
    machine = ARCHES[arch][1]
    if platform.machine() == machine:
        return []
    qemu = shutil.which(f"qemu-{machine}-static")
    return [qemu] if qemu else None


def test_elf_for_its_machine_and_static(binary: tuple[str, Path]) -> None:
    arch, path = binary
    machine, segments = elf_machine_and_segments(path)
    assert machine == ARCHES[arch][0]
    assert PT_INTERP not in segments, "has a program interpreter: dynamically linked"


def test_size_and_mode(binary: tuple[str, Path]) -> None:
    _, path = binary
    assert path.stat().st_size < MAX_SIZE
    assert stat.S_IMODE(path.stat().st_mode) == 0o755


def test_runs_and_reports_missing_configuration(binary: tuple[str, Path], tmp_path: Path) -> None:
    arch, path = binary
    prefix = runner(arch)
    if prefix is None:
        machine = ARCHES[arch][1]
        pytest.skip(f"cannot run {arch} programs on {platform.machine()}: qemu-{machine}-static not found")
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)}  # nothing of the supervisor's
    proc = subprocess.run([*prefix, str(path)], env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == SUPERVISOR_FAILURE, proc.stdout + proc.stderr
    assert CONFIG_ERROR in proc.stderr


def test_lambda_zip_leaves_the_binaries_out() -> None:
    if not any(packaged_binary(arch).is_file() for arch in ARCHES):
        pytest.skip("no binary built (make binaries)")
    names = [name for name, _ in supervisor_sources()]
    assert names and all(name.endswith(".py") for name in names)
    assert not [name for name in names if "/bin/" in name]
