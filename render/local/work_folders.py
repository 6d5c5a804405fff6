"""The work folders local mode keeps in the temporary folder, and the ones a dead process left.

`faas local` (its runs' unpacked images, instances' scratch, its ECR's blobs) and `faas put` or
`faas invoke` running functions themselves make folders named `faas-local-*`. A stop removes
them; a crash (kill -9, the OOM killer) does not. Each holds, from its creation, a marker naming
its owner: the process id and that process's start time (a pid reused by another process is not
the owner). `remove_stale`, at `faas local`'s start, removes the folders whose owner is gone. A
folder without a marker (just being made, or not made here), one another user owns, and one whose
owner cannot be told dead are left alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PREFIX = "faas-local-"
MARKER = ".faas-local-owner"


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat's 22nd field), None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the command name, in parentheses, may hold spaces
    return fields[19] if len(fields) > 19 else None


def owner_mark(pid: int) -> str:
    return f"{pid} {process_start(pid) or '-'}"


def is_running(mark: str) -> bool:
    """Whether the process a marker names still runs (an unreadable marker: assume it does)."""
    pid_text, _, started = mark.strip().partition(" ")
    if not pid_text.isdigit():
        return True
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it runs
        pass
    now = process_start(pid)
    return started in ("", "-") or now is None or now == started


def work_folder(prefix: str, base: Path | None = None) -> Path:
    """A new folder `base/PREFIX...` marked as this process's (`prefix` starts with PREFIX)."""
    if not prefix.startswith(PREFIX):
        raise ValueError(f"work folders are named {PREFIX}*: {prefix!r}")
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    (folder / MARKER).write_text(owner_mark(os.getpid()))
    return folder


def remove_folder(folder: Path) -> None:
    """Remove the folder and everything in it, read-only folders (unpacked images) included."""
    try:
        shutil.rmtree(folder)
        return
    except FileNotFoundError:
        return
    except OSError:
        pass
    for parent, folders, _ in os.walk(folder):
        for name in folders:
            path = os.path.join(parent, name)
            if not os.path.islink(path):  # chmod follows links: never one out of the folder
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o700)
    shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Removed:
    folder: Path
    size: int  # bytes


def folder_size(folder: Path) -> int:
    total = 0
    for parent, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(parent, name)).st_blocks * 512
    return total


def stale_folders(bases: Iterable[Path]) -> list[Path]:
    """This user's work folders under `bases` whose owner process is gone."""
    found = []
    for base in dict.fromkeys(bases):
        try:
            entries = list(base.iterdir())
        except OSError:
            continue
        for folder in entries:
            if not folder.name.startswith(PREFIX):
                continue
            try:
                status = folder.lstat()
                mark = (folder / MARKER).read_text() if folder.is_dir() and not folder.is_symlink() else None
            except (OSError, UnicodeDecodeError):
                continue
            if mark is not None and status.st_uid == os.geteuid() and not is_running(mark):
                found.append(folder)
    return found


def remove_stale(bases: Iterable[Path]) -> list[Removed]:
    """Remove the work folders dead processes left under `bases`; what was removed."""
    removed = []
    for folder in stale_folders(bases):
        size = folder_size(folder)
        remove_folder(folder)
        removed.append(Removed(folder, size))
    return removed
