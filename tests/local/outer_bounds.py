"""Outer bounds for tests that try to exhaust the machine: cgroups of the test's own, a small loop-mounted file system.

The tests write these bounds themselves (not the code under test), so a bound that does not hold
hits them and not the shared machine. Both need root; callers skip without them.
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _own_group(controller: str) -> Path | None:
    mounts = {}
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, where, kind, options, *_ = line.split()
        if kind == "cgroup" and controller in options.split(","):
            mounts[controller] = Path(where)
        elif kind == "cgroup2":
            mounts.setdefault("", Path(where))
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        key = controller if controller in names.split(",") else "" if not names else None
        if key is not None and key in mounts and (key or controller in _v2_controllers(mounts[key], path)):
            return mounts[key] / path.lstrip("/")
    return None


def _v2_controllers(mount: Path, path: str) -> list[str]:
    with contextlib.suppress(OSError):
        return (mount / path.lstrip("/") / "cgroup.subtree_control").read_text().split()
    return []


def outer_groups(name: str, memory: int, pids: int) -> list[Path]:
    """Memory and pids groups of `name` below this process's, their limits read back; [] where it cannot have them."""
    groups: list[Path] = []
    for controller, limits in (
        ("memory", {"memory.limit_in_bytes": memory, "memory.max": memory}),
        ("pids", {"pids.max": pids}),
    ):
        parent = _own_group(controller)
        if parent is None:
            return groups
        group = parent / name
        if group not in groups:
            group.mkdir(exist_ok=True)
            groups.append(group)
        for file, value in limits.items():
            if (group / file).exists():
                (group / file).write_text(str(value))
                assert int((group / file).read_text().split()[0]) <= value
    return groups


def remove_groups(groups: list[Path]) -> None:
    for group in groups:
        for nested in sorted((path for path in group.rglob("*") if path.is_dir()), reverse=True):
            with contextlib.suppress(OSError):
                nested.rmdir()  # groups the code under test nested in the outer ones
        with contextlib.suppress(OSError):
            group.rmdir()


def entering(groups: list[Path], argv: list[str]) -> list[str]:
    """`argv`, started by a shell that first moves itself into `groups`; the repository stays importable
    (a test module run as the child imports tests.*)."""
    enter = "; ".join(f"echo $$ > {group / 'cgroup.procs'}" for group in groups)
    path = f"export PYTHONPATH={shlex.quote(str(REPO))}${{PYTHONPATH:+:$PYTHONPATH}}"
    return ["sh", "-ec", f'{enter}; {path}; exec "$@"', "outer", *argv]


def scratch_fs_available() -> bool:
    return shutil.which("mkfs.ext4") is not None


@contextlib.contextmanager
def scratch_fs(image: Path, mounted: Path, size_mb: int) -> Iterator[Path]:
    """A fresh ext4 of `size_mb` in the file `image`, loop-mounted (nosuid, nodev) at `mounted`."""
    mounted.mkdir(mode=0o755)
    subprocess.run(["truncate", "-s", f"{size_mb}M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    subprocess.run(["mount", "-o", "loop,nosuid,nodev", str(image), str(mounted)], check=True)
    try:
        mounted.chmod(0o755)
        yield mounted
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(["umount", str(mounted)], check=True, capture_output=True)
