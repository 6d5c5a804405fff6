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
limits. proot is a compatibility mode, not a boundary: ptrace misses syscalls (openat2 reaches
the host's files) and it shows the host's processes. The handle is a SandboxProcess, a Popen in
its own session: killing its process group stops everything, and its end releases the cgroups.

`ON_HOST` is no sandbox: the command runs on this host, its program and LAMBDA_TASK_ROOT taken
from the root folder by path (the image's supervisor, the image's /var/task), everything else
(its shell, its tools) the host's; only `faas local --on-host` uses it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from render.local.execution import cgroups, elf
from render.local.execution import network as netns
from render.local.execution.cgroups import SandboxProcess
from render.local.execution.handover import HOST_ENVIRONMENT, bwrap_settings, env_file, environment_fd, nul_entries
from render.local.execution.scratch_fs import bin_path as _bin
from render.local.execution.scratch_fs import ext4_steps, on_disk, prepared, reachable
from render.local.execution.scratch_fs import root as _root

MIB = 1024 * 1024
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
NAME_FILES = ("/etc/resolv.conf", "/etc/hosts")
NOBODY = "65534"
LAMBDA_UID = 993  # the user Lambda runs functions as
SHM_MB = 64
PROBE_SECONDS = 10
ENTER_ROOT = Path(__file__).with_name("enter_root.py")
SETPRIV = ["--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]


class SandboxUnavailable(Exception):
    """No sandbox tool works here."""


@dataclass(frozen=True)
class RunSpec:
    root: Path
    argv: list[str]
    env: dict[str, str]
    scratch: Path  # a fresh host folder, /tmp's backing where /tmp is not a file system of its own
    cwd: str = "/"
    tmp_mb: int = 512
    memory_mb: int | None = None
    cpus: float | None = None
    tmp_on_disk: bool = False  # Batch: a large /tmp, never in memory
    network: netns.Network | None = None  # the namespace to run in (Sandbox.own_network); None: the host's
    # Host paths bound read-only over the root, each at a path inside whose mount point the root holds.
    binds: tuple[tuple[Path, str], ...] = ()


@dataclass(frozen=True)
class Sandbox:
    name: str
    wrap: Callable[[RunSpec, int], list[str]] = field(repr=False)  # the spec, the environment's fd
    limits: tuple[str, ...]  # what the sandbox enforces beyond the read-only root
    title: str = ""  # the tool's name for people (its Debian package)
    bounded: bool = True  # cgroups apply (podman has its own; the host none)
    environment: Callable[[dict[str, str]], bytes] | None = nul_entries  # None: the process's own (ON_HOST)
    isolates_network: bool = True  # runs in a network namespace of its own where this process can make one
    internet: bool = True  # whether its runs may reach the internet (faas local --no-internet)

    def describe(self) -> str:
        missing = [*cgroups.missing(), *([] if on_disk() else ["/tmp on disk (needs root and loop devices)"])]
        if self.isolates_network:
            missing += netns.missing()
        gaps = f"; not bounded here: {', '.join(missing)}" if self.bounded and missing else ""
        return f"{self.title or self.name} ({', '.join([*self.limits, *self._network_limits()])}{gaps})"

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
        fd = environment_fd(self.environment(spec.env)) if self.environment else -1
        env = HOST_ENVIRONMENT if self.environment else spec.env
        joined = [_bin("nsenter"), f"--net=/proc/self/fd/{spec.network.fd}", "--"] if spec.network else []
        argv = (group.argv() if group else []) + joined + self.wrap(spec, fd)
        try:
            fds = ((fd,) if fd >= 0 else ()) + ((spec.network.fd,) if spec.network else ())
            process = SandboxProcess(argv, env=env, start_new_session=True, pass_fds=fds, **popen)
        except BaseException:
            if group:
                group.release()
            raise
        finally:
            if fd >= 0:
                os.close(fd)
        process.group = group
        return process

    def _group(self, spec: RunSpec) -> cgroups.Group | None:
        return cgroups.Group.create(spec.memory_mb) if self.bounded else None


def address_space(memory_mb: int) -> int:
    """The RLIMIT_AS bound standing for `memory_mb` of memory (see the module's docstring)."""
    return (4 * memory_mb + 1024) * MIB


def _memory_prefix(spec: RunSpec) -> list[str]:
    return [_bin("prlimit"), f"--as={address_space(spec.memory_mb)}", "--"] if spec.memory_mb else []


def _enter(fd: int, root: str, cwd: str, uid: str) -> list[str]:
    """enter_root.py's command line (the host's Python, isolated from its environment and site)."""
    return [sys.executable, "-I", "-S", str(ENTER_ROOT), str(fd), root, cwd, uid, "--"]


def _bind_steps(spec: RunSpec) -> list[str]:
    """Shell steps (as root, in a private mount namespace) binding spec.binds read-only into spec.root:
    done as root, since the user a sandbox runs as may not reach them (a Python under /root)."""
    mount = shlex.quote(_bin("mount"))
    steps: list[str] = []
    for source, target in spec.binds:
        inside = shlex.quote(f"{spec.root}{target}")
        steps += [f"{mount} --bind {shlex.quote(str(source))} {inside}"]
        steps += [f"{mount} -o remount,bind,ro,nosuid,nodev {inside}"]
    return steps


def _podman(spec: RunSpec, fd: int) -> list[str]:
    argv = [_bin("podman"), "run", "--rm", "-i", "--network", "host", "--read-only", "--rootfs", str(spec.root)]
    argv += ["--tmpfs", f"/tmp:rw,size={spec.tmp_mb}m,mode=1777", "--workdir", spec.cwd]
    argv += [f"--user={LAMBDA_UID}:{LAMBDA_UID}", "--cap-drop=all", "--security-opt=no-new-privileges"]
    argv += [f"--pids-limit={cgroups.PIDS_MAX}", f"--shm-size={SHM_MB}m"]
    argv += [f"--volume={path}:{path}:ro" for path in NAME_FILES]
    argv += [f"--volume={source}:{target}:ro" for source, target in spec.binds]
    argv.append(f"--env-file=/dev/fd/{fd}")
    if spec.memory_mb:
        argv.append(f"--memory={spec.memory_mb}m")
    if spec.cpus:
        argv.append(f"--cpus={spec.cpus:g}")
    return [*argv, "--", *spec.argv]


def _bwrap(spec: RunSpec, fd: int) -> list[str]:
    uid = str(LAMBDA_UID)
    if _root():
        reachable(spec.root, LAMBDA_UID)
        reachable(spec.scratch, LAMBDA_UID)
    argv = [_bin("bwrap"), "--unshare-user", "--uid", uid, "--gid", uid, "--disable-userns", "--cap-drop", "ALL"]
    argv += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--new-session", "--die-with-parent"]
    argv += ["--ro-bind", str(spec.root), "/", "--proc", "/proc", "--dev", "/dev"]
    argv += ["--size", str(SHM_MB * MIB), "--perms", "1777", "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
    mounts = _bind_steps(spec) if _root() else []
    prefix = prepared(spec, LAMBDA_UID, mounts) if spec.tmp_on_disk or on_disk() or mounts else []
    if spec.tmp_on_disk or on_disk():
        argv += ["--bind", str(spec.scratch), "/tmp"]
    else:
        argv += ["--size", str(spec.tmp_mb * MIB), "--perms", "1777", "--tmpfs", "/tmp"]
    for path in NAME_FILES:
        argv += ["--ro-bind", path, path]
    if not _root():  # as root, the user bubblewrap runs as may not reach them: bound before (mounts)
        for source, target in spec.binds:
            argv += ["--ro-bind", str(source), target]
    argv += ["--clearenv", "--args", str(fd), "--chdir", spec.cwd, "--", *spec.argv]
    if _root():  # bubblewrap itself runs as the user: in its namespace, 993 is host uid 993, never 0
        argv = [_bin("setpriv"), f"--reuid={uid}", f"--regid={uid}", *SETPRIV, "--", *argv]
    return prefix + _memory_prefix(spec) + argv


def _proot(spec: RunSpec, fd: int) -> list[str]:
    argv = [_bin("proot"), "-r", str(spec.root), "-b", "/proc", "-b", f"{spec.scratch}:/tmp"]
    for path in (*NAME_FILES, *(f"/dev/{device}" for device in DEVICES)):
        argv += ["-b", path]
    if not _root():  # as root, proot runs as nobody, who may not reach them: bound before (mounts)
        for source, target in spec.binds:
            argv += ["-b", f"{source}:{target}"]
    argv += ["-w", spec.cwd, *spec.argv]
    prefix = prepared(spec, int(NOBODY), _bind_steps(spec) if _root() else [])
    # proot cannot mount anything read-only: started as root, it runs as nobody, who cannot write to
    # root's files. It gets the function's environment (and passes it on) only after that drop.
    argv = _enter(fd, "-", ".", NOBODY if _root() else "-") + argv
    return prefix + _memory_prefix(spec) + argv


def _unshare(spec: RunSpec, fd: int) -> list[str]:
    root = shlex.quote(str(spec.root))
    mount, touch = shlex.quote(_bin("mount")), shlex.quote(_bin("touch"))
    steps = [f"{mount} --bind {root} {root}"]
    steps += [f"{mount} --bind {path} {root}{path}" for path in NAME_FILES]
    steps += _bind_steps(spec)
    steps += [
        f"{mount} -t proc -o nosuid,nodev,noexec proc {root}/proc",
        f"{mount} --bind {root}/proc/sys {root}/proc/sys",
        f"{mount} -o remount,bind,ro {root}/proc/sys",
    ]
    if on_disk():
        steps += ext4_steps(spec, f"{root}/tmp")
    else:
        steps += [f"{mount} -t tmpfs -o size={spec.tmp_mb}m,mode=1777,nosuid,nodev tmpfs {root}/tmp"]
    steps += [f"{mount} -t tmpfs -o mode=755,size=64k,nosuid tmpfs {root}/dev"]
    for device in DEVICES:
        steps += [f"{touch} {root}/dev/{device}", f"{mount} --bind /dev/{device} {root}/dev/{device}"]
    steps += [
        f"{_bin('mkdir')} -m 1777 {root}/dev/shm",
        f"{mount} -t tmpfs -o size={SHM_MB}m,mode=1777,nosuid,nodev tmpfs {root}/dev/shm",
        f"{mount} -o remount,bind,ro {root}/dev",
        f"{mount} -o remount,bind,ro {root}",
        # chroot and the privilege drop in one step: the image has no tool for the second.
        f'exec {shlex.join(_enter(fd, str(spec.root), spec.cwd, str(LAMBDA_UID)))} "$@"',
    ]
    # A private mount namespace (unshare's default propagation): nothing is mounted on the host.
    argv = [_bin("unshare"), "--mount", "--pid", "--ipc", "--uts", "--fork", "--kill-child"]
    argv += [_bin("sh"), "-ec", "; ".join(steps), "sandbox"]
    return _memory_prefix(spec) + [*argv, *spec.argv]


def _on_host(spec: RunSpec, fd: int) -> list[str]:
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
    return lambda: shutil.which(name) is not None and (not _root() or shutil.which("setpriv") is not None)


def _unshare_works() -> bool:
    return _root() and shutil.which("unshare") is not None


RLIMIT_AS = "memory (as an address-space bound, RLIMIT_AS)"
CGROUPS = "memory and processes (cgroups, as root)"
USER = f"uid {LAMBDA_UID}, no capabilities"
NAMESPACES = "own PID, IPC and UTS namespaces"
PROOT = "a compatibility mode, not a security boundary: the host's processes and (through openat2) files are reachable"
SANDBOXES: tuple[tuple[Sandbox, Callable[[], bool]], ...] = (
    (
        Sandbox(
            "podman",
            _podman,
            ("memory and CPUs (cgroup)", "/tmp size", USER, "the host's network"),
            "podman",
            False,
            env_file,
            isolates_network=False,
        ),
        _podman_works,
    ),
    (
        Sandbox(
            "bwrap",
            _bwrap,
            (USER, NAMESPACES, CGROUPS, RLIMIT_AS, "/tmp and /dev/shm size"),
            "bubblewrap",
            environment=bwrap_settings,
        ),
        _tool("bwrap"),
    ),
    (
        Sandbox("proot", _proot, (PROOT, "runs as nobody when started as root", CGROUPS, RLIMIT_AS), "proot"),
        _tool("proot"),
    ),
    (
        Sandbox(
            "unshare", _unshare, (USER, NAMESPACES, CGROUPS, RLIMIT_AS, "/tmp and /dev/shm size"), "unshare + chroot"
        ),
        _unshare_works,
    ),
)
ON_HOST = Sandbox(
    "host", _on_host, ("none: the host's tools, files, network and limits",), "no sandbox", False, None, False
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
