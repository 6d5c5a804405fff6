"""Check a faas-render wheel before release: platform independent, carrying both static binaries.

    python supervisor/build/check_wheel.py dist/faas_render-X.Y.Z-py3-none-any.whl

Lists the binaries (size, mode, sha256) and fails unless the wheel is tagged py3-none-any and
holds faas_supervisor/bin/linux-{x86_64,arm64}/faas-supervisor, each mode 0755, static (no
program interpreter), for the right machine and under 20 MB; and holds none of the builder.
"""

from __future__ import annotations

import hashlib
import struct
import sys
import zipfile
from pathlib import Path

EXPECTED_TAG = "py3-none-any"
MAX_SIZE = 20_000_000
PT_INTERP = 3
BINARIES = {  # path in the wheel: ELF e_machine
    "faas_supervisor/bin/linux-x86_64/faas-supervisor": 62,
    "faas_supervisor/bin/linux-arm64/faas-supervisor": 183,
}
BUILDER_MODULES = ("build_static.py", "freeze.py", "rootfs.py", "cache.py", "check_wheel.py", "entry.py")


def elf_problems(data: bytes, machine: int) -> list[str]:
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return ["not a 64-bit little-endian ELF file"]
    problems = []
    (found,) = struct.unpack_from("<H", data, 0x12)
    if found != machine:
        problems.append(f"ELF machine {found}, expected {machine}")
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    if any(struct.unpack_from("<I", data, phoff + i * phentsize)[0] == PT_INTERP for i in range(phnum)):
        problems.append("has a program interpreter (not static)")
    return problems


def binary_problems(wheel: zipfile.ZipFile, name: str, machine: int) -> list[str]:
    try:
        info = wheel.getinfo(name)
    except KeyError:
        return ["missing"]
    data = wheel.read(info)
    mode = (info.external_attr >> 16) & 0o7777
    print(f"  {name}  {len(data) / 1e6:.1f} MB  mode {mode:04o}  sha256 {hashlib.sha256(data).hexdigest()}")
    problems = elf_problems(data, machine)
    if mode != 0o755:
        problems.append(f"mode {mode:04o}, expected 0755")
    if len(data) >= MAX_SIZE:
        problems.append(f"{len(data)} bytes, limit {MAX_SIZE}")
    return problems


def wheel_problems(path: Path) -> list[str]:
    problems = []
    if not path.name.endswith(f"-{EXPECTED_TAG}.whl"):
        problems.append(f"{path.name}: not tagged {EXPECTED_TAG}")
    with zipfile.ZipFile(path) as wheel:
        print(f"{path}:")
        for name, machine in BINARIES.items():
            problems += [f"{name}: {problem}" for problem in binary_problems(wheel, name, machine)]
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
