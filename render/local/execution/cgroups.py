"""Memory and process bounds per sandboxed run, through cgroups, where this process may create them.

Each run gets a group per controller (memory, pids), nested in this process's own group (so a
bound put on `faas local` itself still holds its functions) under `faas-local/`: cgroup v1's
memory.limit_in_bytes (and memsw, so swap adds nothing) or v2's memory.max, and pids.max. The
run's command enters its groups before it starts anything (`Group.argv`, a shell prefix), so
every process it forks is counted. `Group.release` kills whatever is left in them and removes
them; groups never released (a run killed with its whole process group) are swept later, once
empty. `missing()` names what cannot be bounded here (not root, no controller), for the start line.
`SandboxProcess` is a sandboxed run's handle: its end releases its groups.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024
MARGIN_MB = 64  # the runtime, the sandbox's own processes and /dev/shm, beyond the function's memory
PIDS_MAX = 1024  # Lambda's bound on a function's processes and threads
PARENT = "faas-local"
CONTROLLERS = ("memory", "pids")
STALE_S = 60.0  # a group this old and empty was never released: remove it
RELEASE_TRIES = 50


def _mounts() -> dict[str, Path]:
    """Where each controller's hierarchy is mounted ("" for cgroup v2)."""
    found: dict[str, Path] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mounts").read_text().splitlines():
            _, where, kind, options, *_ = line.split()
            if kind == "cgroup":
                for option in options.split(","):
                    if option in CONTROLLERS:
                        found.setdefault(option, Path(where))
            elif kind == "cgroup2":
                found.setdefault("", Path(where))
    return found


def _own_groups() -> dict[str, Path]:
    """This process's group in each hierarchy that has memory or pids (v1 first, else v2)."""
    mounts = _mounts()
    groups: dict[str, Path] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            for name in names.split(",") if names else [""]:
                if name in mounts:
                    groups[name] = mounts[name] / path.lstrip("/")
    v2 = groups.get("")
    for controller in CONTROLLERS:
        if controller not in groups and v2 is not None and _v2_has(v2, controller):
            groups[controller] = v2
    groups.pop("", None)
    return groups


def _v2_has(group: Path, controller: str) -> bool:
    """Whether children of `group` can get the controller (v2: enabled in its subtree_control)."""
    try:
        if controller in (group / "cgroup.subtree_control").read_text().split():
            return True
        (group / "cgroup.subtree_control").write_text(f"+{controller}")
    except OSError:
        return False
    return True


@dataclass
class _Registry:
    parents: dict[str, Path] = field(default_factory=dict)  # controller: its faas-local folder
    created: dict[Path, float] = field(default_factory=dict)  # group: when (monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    probed: bool = False
    counter: itertools.count[int] = field(default_factory=itertools.count)


_REGISTRY = _Registry()


def _parents() -> dict[str, Path]:
    """The faas-local folder of each controller this process may use (probed once)."""
    with _REGISTRY.lock:
        if not _REGISTRY.probed:
            _REGISTRY.probed = True
            if os.geteuid() == 0:
                for controller, group in _own_groups().items():
                    with contextlib.suppress(OSError):
                        (group / PARENT).mkdir(exist_ok=True)
                        _REGISTRY.parents[controller] = group / PARENT
                atexit.register(_sweep, 0.0)
        return dict(_REGISTRY.parents)


def missing() -> list[str]:
    """What cannot be bounded here, for people (nothing when everything can)."""
    if os.geteuid() != 0:
        return ["memory and process cgroups (only root creates them here)"]
    parents = _parents()
    return [f"the {name} cgroup controller" for name in CONTROLLERS if name not in parents]


def _version(group: Path) -> int:
    return 2 if (group / "cgroup.controllers").exists() else 1


def _write(group: Path, name: str, value: str) -> None:
    (group / name).write_text(value)


@dataclass
class Group:
    """One run's groups; `argv` enters them, `release` ends them."""

    folders: list[Path]
    _oom: bool = False

    @classmethod
    def create(cls, memory_mb: int | None, pids: int | None = None) -> Group | None:
        """New groups bounding memory (memory_mb + MARGIN_MB) and processes; None where cgroups cannot."""
        parents = _parents()
        if not parents:
            return None
        _sweep(STALE_S)
        name = f"{os.getpid()}-{next(_REGISTRY.counter)}"
        folders: list[Path] = []
        try:
            for controller, parent in parents.items():
                folder = parent / name
                if folder not in folders:
                    folder.mkdir()
                    folders.append(folder)
                    with _REGISTRY.lock:
                        _REGISTRY.created[folder] = time.monotonic()
                if controller == "memory" and memory_mb:
                    _limit_memory(folder, (memory_mb + MARGIN_MB) * MIB)
                elif controller == "pids":
                    _write(folder, "pids.max", str(pids or PIDS_MAX))
        except OSError:
            Group(folders).release()
            raise
        return cls(folders)

    def argv(self) -> list[str]:
        """A prefix that moves the command into the groups, then runs it."""
        steps = [f"echo $$ > {shlex.quote(str(folder / 'cgroup.procs'))}" for folder in self.folders]
        return [shutil.which("sh") or "/bin/sh", "-ec", "; ".join([*steps, 'exec "$@"']), "bounds"]

    def out_of_memory(self) -> bool:
        """Whether the kernel killed a process of the run for exceeding its memory."""
        if not self._oom:
            for folder in self.folders:
                for name in ("memory.oom_control", "memory.events"):
                    with contextlib.suppress(OSError):
                        for line in (folder / name).read_text().splitlines():
                            key, _, value = line.partition(" ")
                            self._oom = self._oom or (key == "oom_kill" and int(value) > 0)
        return self._oom

    def release(self) -> None:
        """Kill what is left of the run and remove its groups (the OOM record is kept first)."""
        self.out_of_memory()
        for folder in self.folders:
            if _remove(folder, kill=True):
                with _REGISTRY.lock:
                    _REGISTRY.created.pop(folder, None)


def _limit_memory(folder: Path, limit: int) -> None:
    if _version(folder) == 2:
        _write(folder, "memory.max", str(limit))
        with contextlib.suppress(OSError):
            _write(folder, "memory.swap.max", "0")
            _write(folder, "memory.oom.group", "1")
        return
    _write(folder, "memory.limit_in_bytes", str(limit))
    with contextlib.suppress(OSError):  # absent without swap accounting
        _write(folder, "memory.memsw.limit_in_bytes", str(limit))


def _remove(folder: Path, kill: bool) -> bool:
    for _ in range(RELEASE_TRIES):
        try:
            folder.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            if not kill:
                return False
        with contextlib.suppress(OSError, ValueError):
            for pid in (folder / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.02)
    return False


def _sweep(age_s: float) -> None:
    """Remove this process's groups older than `age_s` that nothing runs in any more."""
    now = time.monotonic()
    with _REGISTRY.lock:
        old = [folder for folder, made in _REGISTRY.created.items() if now - made >= age_s]
    for folder in old:
        if _remove(folder, kill=age_s == 0.0):
            with _REGISTRY.lock:
                _REGISTRY.created.pop(folder, None)


class SandboxProcess(subprocess.Popen[bytes]):
    """A sandboxed run; once it has ended, whatever it left is killed and its cgroups removed."""

    group: Group | None = None

    def poll(self) -> int | None:
        status = super().poll()
        if status is not None:
            self.release()
        return status

    def wait(self, timeout: float | None = None) -> int:
        status = super().wait(timeout)
        self.release()
        return status

    def release(self) -> None:
        if self.group is not None:
            self.group.release()

    def out_of_memory(self) -> bool:
        """Whether the kernel killed one of its processes for exceeding its memory bound."""
        return self.group is not None and self.group.out_of_memory()
