"""Run a command inside an unpacked image's root folder (render/local/execution/rootfs.py), without a container daemon.

`detect()` picks the first tool that works here: podman (when `podman info` answers), bubblewrap,
proot, then `unshare` + `chroot` as root. Every sandbox gives the same view: the root folder
read-only, a writable /tmp of the asked size, /proc, a minimal /dev, the host's
/etc/resolv.conf and /etc/hosts, and the host's network (127.0.0.1 reaches the local emulator).
Under podman the memory limit is its cgroup's (and it applies the CPU limit, which the others
cannot); the others bound the address space (RLIMIT_AS, through prlimit), which is not memory: a
multithreaded program reserves far more than it uses (8 MiB of stack and up to 64 MiB of malloc
arena per thread with glibc), so a 128 MB function's boto3 transfer threads would fail to start
under a bound equal to its memory. address_space() leaves that headroom: it stops runaway
allocations, not a process a little over its memory. proot cannot mount:
its /tmp is the spec's host folder, and its root is read-only only because, started as root, it
runs the command as nobody (the cache folders are world-readable for that). The handle is a
Popen in its own session, so killing its process group stops everything it started.

`ON_HOST` is no sandbox: the command runs on this host, its program and LAMBDA_TASK_ROOT taken
from the root folder by path (the image's supervisor, the image's /var/task), everything else
(its shell, its tools) the host's; only `faas local --on-host` uses it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from render.local.execution import elf

MIB = 1024 * 1024
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
NAME_FILES = ("/etc/resolv.conf", "/etc/hosts")
NOBODY = "65534"
PROBE_SECONDS = 10


class SandboxUnavailable(Exception):
    """No sandbox tool works here."""


@dataclass(frozen=True)
class RunSpec:
    root: Path
    argv: list[str]
    env: dict[str, str]
    scratch: Path  # a fresh host folder, bound on /tmp where the tool has no sized tmpfs
    cwd: str = "/"
    tmp_mb: int = 512
    memory_mb: int | None = None
    cpus: float | None = None


@dataclass(frozen=True)
class Sandbox:
    name: str
    wrap: Callable[[RunSpec], list[str]] = field(repr=False)
    limits: tuple[str, ...]  # what the sandbox enforces beyond the read-only root
    title: str = ""  # the tool's name for people (its Debian package)

    def describe(self) -> str:
        return f"{self.title or self.name} ({', '.join(self.limits)})"

    def command(self, spec: RunSpec) -> list[str]:
        return self.wrap(spec)

    def start(self, spec: RunSpec, **popen: Any) -> subprocess.Popen[bytes]:
        """Start `spec.argv` in the sandbox (popen: stdout, stderr, stdin...)."""
        return subprocess.Popen(self.command(spec), env=spec.env, start_new_session=True, **popen)


def _bin(name: str) -> str:
    """The tool's full path: the sandbox's environment is the function's, whose PATH is the image's."""
    return shutil.which(name) or name


def address_space(memory_mb: int) -> int:
    """The RLIMIT_AS bound standing for `memory_mb` of memory (see the module's docstring)."""
    return (4 * memory_mb + 1024) * MIB


def _memory_prefix(spec: RunSpec) -> list[str]:
    return [_bin("prlimit"), f"--as={address_space(spec.memory_mb)}", "--"] if spec.memory_mb else []


def _podman(spec: RunSpec) -> list[str]:
    argv = [_bin("podman"), "run", "--rm", "-i", "--network", "host", "--read-only", "--rootfs", str(spec.root)]
    argv += ["--tmpfs", f"/tmp:rw,size={spec.tmp_mb}m,mode=1777", "--workdir", spec.cwd]
    argv += [f"--volume={path}:{path}:ro" for path in NAME_FILES]
    argv += [f"--env={name}" for name in spec.env]  # values from podman's own environment
    if spec.memory_mb:
        argv.append(f"--memory={spec.memory_mb}m")
    if spec.cpus:
        argv.append(f"--cpus={spec.cpus:g}")
    return [*argv, "--", *spec.argv]


def _bwrap(spec: RunSpec) -> list[str]:
    argv = [_bin("bwrap"), "--ro-bind", str(spec.root), "/", "--proc", "/proc", "--dev", "/dev"]
    argv += ["--size", str(spec.tmp_mb * MIB), "--perms", "1777", "--tmpfs", "/tmp"]
    for path in NAME_FILES:
        argv += ["--ro-bind", path, path]
    argv += ["--unshare-pid", "--die-with-parent", "--chdir", spec.cwd, "--", *spec.argv]
    return _memory_prefix(spec) + argv


def _proot(spec: RunSpec) -> list[str]:
    argv = [_bin("proot"), "-r", str(spec.root), "-b", "/proc", "-b", f"{spec.scratch}:/tmp"]
    for path in (*NAME_FILES, *(f"/dev/{device}" for device in DEVICES)):
        argv += ["-b", path]
    argv += ["-w", spec.cwd, *spec.argv]
    if os.geteuid() == 0:
        # proot cannot mount anything read-only: an unprivileged user cannot write to root's files.
        os.chown(spec.scratch, int(NOBODY), int(NOBODY))
        argv = [_bin("setpriv"), f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]
    return _memory_prefix(spec) + argv


def _unshare(spec: RunSpec) -> list[str]:
    root = shlex.quote(str(spec.root))
    mount, touch = shlex.quote(_bin("mount")), shlex.quote(_bin("touch"))
    steps = [f"{mount} --bind {root} {root}"]
    steps += [f"{mount} --bind {path} {root}{path}" for path in NAME_FILES]
    steps += [
        f"{mount} -t proc proc {root}/proc",
        f"{mount} -t tmpfs -o size={spec.tmp_mb}m,mode=1777 tmpfs {root}/tmp",
    ]
    steps += [f"{mount} -t tmpfs -o mode=755,size=64k tmpfs {root}/dev"]
    for device in DEVICES:
        steps += [f"{touch} {root}/dev/{device}", f"{mount} --bind /dev/{device} {root}/dev/{device}"]
    steps += [
        f"{mount} -o remount,bind,ro {root}",
        f'exec {shlex.quote(_bin("unshare"))} --root={root} --wd={shlex.quote(spec.cwd)} -- "$@"',
    ]
    # A private mount namespace (unshare's default propagation): nothing is mounted on the host.
    argv = [
        _bin("unshare"),
        "--mount",
        "--pid",
        "--fork",
        "--kill-child",
        "/bin/sh",
        "-ec",
        "; ".join(steps),
        "sandbox",
    ]
    return _memory_prefix(spec) + [*argv, *spec.argv]


def _on_host(spec: RunSpec) -> list[str]:
    program, *arguments = spec.argv
    loader: list[str] = []
    if program.startswith("/") and (spec.root / program.lstrip("/")).is_file():
        program = str(spec.root / program.lstrip("/"))
        # A program whose loader only the image has (the supervisor's) runs through that loader.
        named = elf.file_interpreter(Path(program))
        if named and not Path(named).exists() and (spec.root / named.lstrip("/")).is_file():
            loader = [str(spec.root / named.lstrip("/"))]
    settings = [f"TMPDIR={spec.scratch}", f"HOME={spec.scratch}"]
    if task_root := spec.env.get("LAMBDA_TASK_ROOT"):
        settings.append(f"LAMBDA_TASK_ROOT={spec.root / task_root.lstrip('/')}")
    return [_bin("env"), f"--chdir={spec.scratch}", *settings, *loader, program, *arguments]


def _works(argv: list[str]) -> bool:
    try:
        probe = subprocess.run(argv, capture_output=True, timeout=PROBE_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def _podman_works() -> bool:
    return shutil.which("podman") is not None and _works(["podman", "info"])


def _tool(name: str) -> Callable[[], bool]:
    return lambda: shutil.which(name) is not None


def _unshare_works() -> bool:
    return os.geteuid() == 0 and shutil.which("unshare") is not None


RLIMIT_AS = "memory (as an address-space bound, RLIMIT_AS)"
SANDBOXES: tuple[tuple[Sandbox, Callable[[], bool]], ...] = (
    (Sandbox("podman", _podman, ("memory and CPUs (cgroup)", "/tmp size"), "podman"), _podman_works),
    (Sandbox("bwrap", _bwrap, (RLIMIT_AS, "/tmp size", "own PID namespace"), "bubblewrap"), _tool("bwrap")),
    (Sandbox("proot", _proot, (RLIMIT_AS, "runs as nobody when started as root"), "proot"), _tool("proot")),
    (Sandbox("unshare", _unshare, (RLIMIT_AS, "/tmp size", "own PID namespace"), "unshare + chroot"), _unshare_works),
)
ON_HOST = Sandbox("host", _on_host, ("none: the host's tools, files and limits",), "no sandbox")
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
