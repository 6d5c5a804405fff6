"""Check a faas-render wheel before release: platform independent, carrying both frozen supervisors.

    python supervisor/build/check_wheel.py dist/faas_render-X.Y.Z-py3-none-any.whl

Lists the supervisors (size, sha256) and fails unless the wheel is tagged py3-none-any and holds
faas_supervisor/bin/linux-{x86_64,arm64}/faas-supervisor.tar, each a folder whose program
``faas-supervisor`` (mode 0755) is an ELF executable for the right machine whose interpreter is
the loader in the folder's own lib/, the tar under 30 MB; and holds none of the builder.
"""

from __future__ import annotations

import hashlib
import io
import struct
import sys
import tarfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the contract is standard library only
from faas_supervisor.contract import SUPERVISOR_HOME as HOME  # noqa: E402
from faas_supervisor.contract import SUPERVISOR_NAME as PROGRAM  # noqa: E402

EXPECTED_TAG = "py3-none-any"
MAX_SIZE = 30_000_000
PT_INTERP = 3
BUNDLES = {  # path in the wheel: ELF e_machine
    "faas_supervisor/bin/linux-x86_64/faas-supervisor.tar": 62,
    "faas_supervisor/bin/linux-arm64/faas-supervisor.tar": 183,
}
BUILDER_MODULES = ("build_static.py", "freeze.py", "rootfs.py", "cache.py", "check_wheel.py", "entry.py")


def interpreter(data: bytes) -> str | None:
    """The PT_INTERP path of a 64-bit little-endian ELF file."""
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        kind, _, offset, _, _, size = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if kind == PT_INTERP:
            return data[offset : offset + size].rstrip(b"\0").decode()
    return None


def program_problems(tar: tarfile.TarFile, machine: int) -> list[str]:
    try:
        member = tar.getmember(PROGRAM)
    except KeyError:
        return [f"no {PROGRAM}"]
    reader = tar.extractfile(member)
    data = reader.read() if reader else b""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return [f"{PROGRAM}: not a 64-bit little-endian ELF file"]
    problems = []
    (found,) = struct.unpack_from("<H", data, 0x12)
    if found != machine:
        problems.append(f"{PROGRAM}: ELF machine {found}, expected {machine}")
    if member.mode & 0o777 != 0o755:
        problems.append(f"{PROGRAM}: mode {member.mode & 0o777:04o}, expected 0755")
    loader = interpreter(data) or ""
    if not loader.startswith(f"{HOME}/lib/") or loader.removeprefix(f"{HOME}/") not in tar.getnames():
        problems.append(f"{PROGRAM}: interpreter {loader!r} is not the loader in the bundle's lib/")
    return problems


def bundle_problems(wheel: zipfile.ZipFile, name: str, machine: int) -> list[str]:
    try:
        data = wheel.read(name)
    except KeyError:
        return ["missing"]
    print(f"  {name}  {len(data) / 1e6:.1f} MB  sha256 {hashlib.sha256(data).hexdigest()}")
    problems = [] if len(data) < MAX_SIZE else [f"{len(data)} bytes, limit {MAX_SIZE}"]
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            return problems + program_problems(tar, machine)
    except tarfile.TarError as error:
        return [*problems, f"not a tar: {error}"]


def wheel_problems(path: Path) -> list[str]:
    problems = []
    if not path.name.endswith(f"-{EXPECTED_TAG}.whl"):
        problems.append(f"{path.name}: not tagged {EXPECTED_TAG}")
    with zipfile.ZipFile(path) as wheel:
        print(f"{path}:")
        for name, machine in BUNDLES.items():
            problems += [f"{name}: {problem}" for problem in bundle_problems(wheel, name, machine)]
        # The builder would land at the top of the wheel (its folder is no package) or under its own path.
        builder = [n for n in wheel.namelist() if n in BUILDER_MODULES or "supervisor/build" in n]
        problems += [f"{name}: builder file shipped" for name in builder]
    return problems


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    problems = [problem for arg in argv for problem in wheel_problems(Path(arg))]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
