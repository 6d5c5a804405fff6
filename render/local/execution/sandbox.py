"""Run a command inside an unpacked image's root folder (render/local/execution/rootfs.py), without a container daemon.

`detect()` picks the first tool that works here: podman (when `podman info` answers), bubblewrap,
proot, then `unshare` + `chroot` as root. Every sandbox gives the same view: the root folder
read-only, a writable /tmp of the asked size, /proc, a minimal /dev, the host's
/etc/resolv.conf and /etc/hosts, and the spec's `binds`: host paths bound read-only over the root
(a .zip function's root is a folder of mount points for this host's Python, zip_root.py). As root
they are mounted before the tool runs, in the run's private mount namespace (the user bubblewrap and
proot run as may not reach them: a Python under /root); otherwise the tool binds them. As root,
bubblewrap, proot and unshare run in the spec's own network namespace (network.py: its loopback,
the emulator relayed, the internet when allowed), joined through nsenter before anything else;
otherwise (podman, or not root) the host's network.

Whoever starts it (root included), the command runs as Lambda's unprivileged user (uid 993; proot:
nobody), with no capabilities, an empty bounding set and no_new_privs, in its own PID, mount, IPC
and UTS namespaces: bubblewrap is started as that user (through setpriv when root) in a user
namespace of its own; unshare does its mounts as root, then enter_root.py chroots and drops
everything in one step. The unpack cache is only ever bound read-only. The host-side steps run
with a clean environment; the function's reaches only its program (handover.py).

Bounds: as root, each run is in its own memory and pids cgroups (cgroups.py: the function's memory
plus a margin, Lambda's 1024 processes), and /tmp is an ext4 file system of the asked size on disk
(a loop device in a private mount namespace, its image file unlinked at once), so /tmp never
counts as memory; /dev/shm is a small tmpfs. Without root, /tmp is a sized tmpfs (a Batch job's,
on disk, is an unbounded host folder) and memory is bounded only as address space (RLIMIT_AS,
through prlimit: not memory, since a multithreaded program reserves far more than it uses, hence
address_space()'s headroom); describe() names what is missing. podman applies its own cgroup
limits and seccomp profile; the others put seccomp_filter.py's in front of the program. proot is
a compatibility mode, not a boundary: it translates paths by tracing calls, so a call it does not
know would reach the host's files (its filter refuses those: openat2, statx...); as root it runs
in a PID namespace of its own, otherwise it shows the host's processes. The handle is a
SandboxProcess, a Popen in its own session: killing its process group stops everything, and its
end releases the cgroups.

`ON_HOST` is no sandbox: the command runs on this host, its program and LAMBDA_TASK_ROOT taken
from the root folder by path (the image's supervisor, the image's /var/task), everything else
(its shell, its tools) the host's; only `faas local --on-host` uses it.

Each tool's command line is sandbox_commands.py's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from render.local.execution import cgroups, seccomp_filter
from render.local.execution import network as netns
from render.local.execution.cgroups import SandboxProcess
from render.local.execution.handover import (
    HOST_ENVIRONMENT,
    Handed,
    anonymous_file,
    bwrap_settings,
    env_file,
    nul_entries,
)
from render.local.execution.sandbox_commands import (
    LAMBDA_UID,
    NAME_FILES,
    NOBODY,
    SHM_MB,
    RunSpec,
    address_space,
    bwrap_command,
    on_host_command,
    podman_command,
    proot_command,
    unshare_command,
)
from render.local.execution.scratch_fs import bin_path as _bin
from render.local.execution.scratch_fs import on_disk
from render.local.execution.scratch_fs import root as _root

# What other modules take from here (the commands' own module holds them).
__all__ = ["LAMBDA_UID", "NAME_FILES", "NOBODY", "SHM_MB", "RunSpec", "Sandbox", "address_space", "detect"]
PROBE_SECONDS = 10


class SandboxUnavailable(Exception):
    """No sandbox tool works here."""


@dataclass(frozen=True)
class Sandbox:
    name: str
    wrap: Callable[[RunSpec, Handed], list[str]] = field(repr=False)
    limits: tuple[str, ...]  # what the sandbox enforces beyond the read-only root
    title: str = ""  # the tool's name for people (its Debian package)
    bounded: bool = True  # cgroups apply (podman has its own; the host none)
    environment: Callable[[dict[str, str]], bytes] | None = nul_entries  # None: the process's own (ON_HOST)
    isolates_network: bool = True  # runs in a network namespace of its own where this process can make one
    internet: bool = True  # whether its runs may reach the internet (faas local --no-internet)
    filtered: bool = True  # puts seccomp_filter.py's filter in front of the program (podman: its own)
    seccomp_by_fd: bool = False  # takes that filter on a file descriptor (bubblewrap)

    def describe(self) -> str:
        missing = [*cgroups.missing(), *([] if on_disk() else ["/tmp on disk (needs root and loop devices)"])]
        if self.filtered and not seccomp_filter.available():
            missing.append("a seccomp filter (needs libseccomp2)")
        if self.isolates_network:
            missing += netns.missing()
        gaps = f"; not bounded here: {', '.join(missing)}" if self.bounded and missing else ""
        filtered = ["a seccomp filter"] if self.filtered and seccomp_filter.available() else []
        return f"{self.title or self.name} ({', '.join([*self.limits, *filtered, *self._network_limits()])}{gaps})"

    @property
    def has_own_network(self) -> bool:
        """Whether its runs get a network namespace of their own here (else the host's network)."""
        return self.isolates_network and netns.possible()

    def _network_limits(self) -> list[str]:
        if not self.isolates_network:
            return []  # its limits name its network
        if not netns.possible():
            return ["the host's network"]
        own = "own network: the emulator and its own Runtime API"
        if not self.internet:
            return [f"{own} only (--no-internet)"]
        if not netns.internet_possible():
            return [f"{own} only; no internet (needs pasta: apt-get install passt)"]
        return ["own network: the emulator, its own Runtime API and the internet"]

    def own_network(self, env: dict[str, str], also: Iterable[str] = ()) -> netns.Network | None:
        """A network namespace for a run with environment `env` (and the loopback URLs `also` relayed),
        where this sandbox runs in one (else None)."""
        if not self.has_own_network:
            return None
        return netns.Network(netns.loopback_endpoints(env, also), self.internet)

    def start(self, spec: RunSpec, **popen: Any) -> SandboxProcess:
        """Start `spec.argv` in the sandbox (popen: stdout, stderr, stdin, cwd...)."""
        group = self._group(spec)
        fd = anonymous_file(self.environment(spec.env)) if self.environment else -1
        by_fd = self.seccomp_by_fd and seccomp_filter.available()
        handed = Handed(fd, anonymous_file(seccomp_filter.program()) if by_fd else -1)
        env = HOST_ENVIRONMENT if self.environment else spec.env
        joined = [_bin("nsenter"), f"--net=/proc/self/fd/{spec.network.fd}", "--"] if spec.network else []
        argv = (group.argv() if group else []) + joined + self.wrap(spec, handed)
        try:
            fds = tuple(fd for fd in handed if fd >= 0) + ((spec.network.fd,) if spec.network else ())
            process = SandboxProcess(argv, env=env, start_new_session=True, pass_fds=fds, **popen)
        except BaseException:
            if group:
                group.release()
            raise
        finally:
            for handed_fd in handed:
                if handed_fd >= 0:
                    os.close(handed_fd)
        process.group = group
        return process

    def _group(self, spec: RunSpec) -> cgroups.Group | None:
        return cgroups.Group.create(spec.memory_mb) if self.bounded else None


def _works(argv: list[str]) -> bool:
    try:
        probe = subprocess.run(argv, capture_output=True, timeout=PROBE_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def _podman_works() -> bool:
    return shutil.which("podman") is not None and _works(["podman", "info"])


def _tool(name: str) -> Callable[[], bool]:
    return lambda: shutil.which(name) is not None and (not _root() or shutil.which("setpriv") is not None)


def _unshare_works() -> bool:
    return _root() and shutil.which("unshare") is not None


RLIMIT_AS = "memory (as an address-space bound, RLIMIT_AS)"
CGROUPS = "memory and processes (cgroups, as root)"
USER = f"uid {LAMBDA_UID}, no capabilities"
NAMESPACES = "own PID, IPC and UTS namespaces"
PROOT = "a compatibility mode, not a security boundary: it translates paths by tracing calls" + (
    "; own PID namespace" if _root() else "; the host's processes are visible"
)
SANDBOXES: tuple[tuple[Sandbox, Callable[[], bool]], ...] = (
    (
        Sandbox(
            "podman",
            podman_command,
            ("memory and CPUs (cgroup)", "/tmp size", USER, "the host's network"),
            "podman",
            False,
            env_file,
            isolates_network=False,
            filtered=False,
        ),
        _podman_works,
    ),
    (
        Sandbox(
            "bwrap",
            bwrap_command,
            (USER, NAMESPACES, CGROUPS, RLIMIT_AS, "/tmp and /dev/shm size"),
            "bubblewrap",
            environment=bwrap_settings,
            seccomp_by_fd=True,
        ),
        _tool("bwrap"),
    ),
    (
        Sandbox("proot", proot_command, (PROOT, "runs as nobody when started as root", CGROUPS, RLIMIT_AS), "proot"),
        _tool("proot"),
    ),
    (
        Sandbox(
            "unshare",
            unshare_command,
            (USER, NAMESPACES, CGROUPS, RLIMIT_AS, "/tmp and /dev/shm size"),
            "unshare + chroot",
        ),
        _unshare_works,
    ),
)
ON_HOST = Sandbox(
    "host",
    on_host_command,
    ("none: the host's tools, files, network and limits",),
    "no sandbox",
    False,
    None,
    False,
    filtered=False,
)
PACKAGES = "bubblewrap (or proot, or podman)"


def available() -> list[Sandbox]:
    """Every sandbox that works here, in order of preference."""
    return [sandbox for sandbox, works in SANDBOXES if works()]


def detect() -> Sandbox:
    """The preferred sandbox that works here."""
    for sandbox, works in SANDBOXES:
        if works():
            return sandbox
    raise SandboxUnavailable(
        f"no sandbox to run function images in: install {PACKAGES} (Debian: apt-get install bubblewrap proot)"
    )
