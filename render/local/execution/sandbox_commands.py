"""The command line each sandbox tool runs a `RunSpec` with (render/local/execution/sandbox.py).

Each `*_command(spec, handed)` gives the argv that starts `spec.argv` in `spec.root` through that
tool, the function's environment read from the file descriptor `handed.environment` (handover.py)
and the seccomp filter put in front of it (seccomp_filter.py: by bubblewrap from `handed.seccomp`,
by enter_root.py otherwise; podman applies its own default profile): podman, bubblewrap,
proot, unshare + chroot (enter_root.py drops privileges last), and the host itself (`--on-host`).
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from render.local.execution import cgroups, elf, seccomp_filter
from render.local.execution import network as netns
from render.local.execution.handover import Handed
from render.local.execution.scratch_fs import bin_path as _bin
from render.local.execution.scratch_fs import ext4_steps, on_disk, prepared, reachable
from render.local.execution.scratch_fs import root as _root

MIB = 1024 * 1024
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
NAME_FILES = ("/etc/resolv.conf", "/etc/hosts")
NOBODY = "65534"
LAMBDA_UID = 993  # the user Lambda runs functions as
SHM_MB = 64
ENTER_ROOT = Path(__file__).with_name("enter_root.py")
SETPRIV = ["--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]


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


def address_space(memory_mb: int) -> int:
    """The RLIMIT_AS bound standing for `memory_mb` of memory (see the module's docstring)."""
    return (4 * memory_mb + 1024) * MIB


def _memory_prefix(spec: RunSpec) -> list[str]:
    return [_bin("prlimit"), f"--as={address_space(spec.memory_mb)}", "--"] if spec.memory_mb else []


def _enter(fd: int, root: str, cwd: str, uid: str, proot: bool = False) -> list[str]:
    """enter_root.py's command line (the host's Python, isolated from its environment and site)."""
    calls = ("proot" if proot else "common") if seccomp_filter.available() else "-"
    return [sys.executable, "-I", "-S", str(ENTER_ROOT), str(fd), root, cwd, uid, calls, "--"]


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


def podman_command(spec: RunSpec, handed: Handed) -> list[str]:
    argv = [_bin("podman"), "run", "--rm", "-i", "--network", "host", "--read-only", "--rootfs", str(spec.root)]
    argv += ["--tmpfs", f"/tmp:rw,size={spec.tmp_mb}m,mode=1777", "--workdir", spec.cwd]
    argv += [f"--user={LAMBDA_UID}:{LAMBDA_UID}", "--cap-drop=all", "--security-opt=no-new-privileges"]
    argv += [f"--pids-limit={cgroups.PIDS_MAX}", f"--shm-size={SHM_MB}m"]
    argv += [f"--volume={path}:{path}:ro" for path in NAME_FILES]
    argv += [f"--volume={source}:{target}:ro" for source, target in spec.binds]
    argv.append(f"--env-file=/dev/fd/{handed.environment}")
    if spec.memory_mb:
        argv.append(f"--memory={spec.memory_mb}m")
    if spec.cpus:
        argv.append(f"--cpus={spec.cpus:g}")
    return [*argv, "--", *spec.argv]


def bwrap_command(spec: RunSpec, handed: Handed) -> list[str]:
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
    if handed.seccomp >= 0:
        argv += ["--seccomp", str(handed.seccomp)]
    argv += ["--clearenv", "--args", str(handed.environment), "--chdir", spec.cwd, "--", *spec.argv]
    if _root():  # bubblewrap itself runs as the user: in its namespace, 993 is host uid 993, never 0
        argv = [_bin("setpriv"), f"--reuid={uid}", f"--regid={uid}", *SETPRIV, "--", *argv]
    return prefix + _memory_prefix(spec) + argv


def proot_command(spec: RunSpec, handed: Handed) -> list[str]:
    argv = [_bin("proot"), "-r", str(spec.root), "-b", "/proc", "-b", f"{spec.scratch}:/tmp"]
    for path in (*NAME_FILES, *(f"/dev/{device}" for device in DEVICES)):
        argv += ["-b", path]
    if not _root():  # as root, proot runs as nobody, who may not reach them: bound before (mounts)
        for source, target in spec.binds:
            argv += ["-b", f"{source}:{target}"]
    argv += ["-w", spec.cwd, *spec.argv]
    # As root, a PID namespace of its own: proot binds that namespace's /proc, so the host's processes
    # stay out of sight, and none outlives the run.
    prefix = prepared(spec, int(NOBODY), _bind_steps(spec) if _root() else [], own_proc=True)
    # proot cannot mount anything read-only: started as root, it runs as nobody, who cannot write to
    # root's files. It gets the function's environment (and passes it on) only after that drop.
    argv = _enter(handed.environment, "-", ".", NOBODY if _root() else "-", proot=True) + argv
    return prefix + _memory_prefix(spec) + argv


def unshare_command(spec: RunSpec, handed: Handed) -> list[str]:
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
        f'exec {shlex.join(_enter(handed.environment, str(spec.root), spec.cwd, str(LAMBDA_UID)))} "$@"',
    ]
    # A private mount namespace (unshare's default propagation): nothing is mounted on the host.
    argv = [_bin("unshare"), "--mount", "--pid", "--ipc", "--uts", "--fork", "--kill-child"]
    argv += [_bin("sh"), "-ec", "; ".join(steps), "sandbox"]
    return _memory_prefix(spec) + [*argv, *spec.argv]


def on_host_command(spec: RunSpec, handed: Handed) -> list[str]:
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
