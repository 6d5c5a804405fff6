"""The build cache under ``${XDG_CACHE_HOME:-~/.cache}/faas-render/``: keys, locks, atomic publishing.

Every cached item is a folder named after a hash of its inputs. It is built in a staging folder
beside it and renamed into place when complete, so a reader sees either nothing or the whole
item; an flock(2) per item keeps two builds from making the same one at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from freeze import progress

KEY_LENGTH = 16


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "faas-render"


class Hasher:
    """A sha256 over named parts, so moving bytes between parts changes the key."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def text(self, name: str, value: str) -> Hasher:
        return self.data(name, value.encode())

    def data(self, name: str, value: bytes) -> Hasher:
        self._hash.update(f"{name}\0{len(value)}\0".encode() + value)
        return self

    def files(self, name: str, root: Path, paths: Iterable[Path]) -> Hasher:
        for path in sorted(paths):
            self.data(f"{name}/{path.relative_to(root).as_posix()}", path.read_bytes())
        return self

    def key(self) -> str:
        return self._hash.hexdigest()[:KEY_LENGTH]


@contextlib.contextmanager
def locked(name: str, shared: bool = False, wait: bool = True) -> Iterator[bool]:
    """Hold the lock `name` (yields False instead of waiting when `wait` is False and it is busy)."""
    folder = cache_root() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "a") as handle:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                yield False
                return
            progress(f"waiting for another build ({name})")
            fcntl.flock(handle, mode)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def staging_folder(final: Path) -> Path:
    """An empty folder beside `final` (same file system, so publishing is a rename)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path]:
    """A temporary folder in the cache (room for downloads and build trees), removed afterwards."""
    parent = cache_root() / "tmp"
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=parent))
    try:
        yield folder
    finally:
        remove_tree(folder)


def clear_staging(final: Path) -> None:
    """Remove what interrupted builds of `final` left (call with `final`'s lock held)."""
    for leftover in final.parent.glob(f".{final.name}.*.partial"):
        remove_tree(leftover)


def publish(staging: Path, final: Path) -> None:
    """Rename a complete staging folder to `final`, replacing an incomplete leftover."""
    if final.exists():
        remove_tree(final)
    os.replace(staging, final)


def remove_tree(path: Path) -> None:
    # A root filesystem holds read-only folders and device nodes: rmtree copes with both as root.
    shutil.rmtree(path, ignore_errors=True)


def copy_file(source: Path, dest: Path) -> Path:
    """Copy `source` to `dest` atomically (mode 0644)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    shutil.copyfile(source, partial)
    partial.chmod(0o644)
    os.replace(partial, dest)
    return dest


def prune(folder: Path, pattern: str, keep: int, lock_of: str | None = None) -> None:
    """Remove all but the `keep` most recently used items matching `pattern` in `folder`.

    With `lock_of` (a format string taking the item's name), an item whose lock is held by
    another build is left alone.
    """
    items = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in items[keep:]:
        if lock_of is None:
            remove_tree(old)
            continue
        with locked(lock_of.format(old.name), wait=False) as free:
            if free:
                remove_tree(old)


def touch(path: Path) -> None:
    """Mark a cached item as used now (pruning keeps the most recently used)."""
    with contextlib.suppress(OSError):
        os.utime(path)
