"""Path operations confined to one root folder: every component opened relative to its parent's descriptor.

Nothing here follows a symlink on the host. A symlink met on the way is resolved against the root
(an absolute target starts again at the root), and climbing above the root is an error, so a
path can only ever reach something inside the root.
"""

from __future__ import annotations

import os
import stat

MAX_SYMLINK_HOPS = 40
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class EscapeError(Exception):
    """A path, or a link's target, would reach outside the root."""


def split_member(name: str) -> list[str]:
    """The components of a tar member's name; absolute names and `..` components are refused."""
    if name.startswith("/"):
        raise EscapeError("absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise EscapeError("'..' in the path")
    return parts


def symlink_escapes(depth: int, target: str) -> bool:
    """Whether a relative `target`, read from a folder `depth` levels below the root, climbs above it."""
    if target.startswith("/"):
        return False
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


class Folder:
    """An open folder inside the root, and how deep it is."""

    def __init__(self, fd: int, depth: int) -> None:
        self.fd = fd
        self.depth = depth

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_folder(root_fd: int, parts: list[str], create: bool) -> Folder:
    """The folder at `parts` below the root (created with mode 755 where missing when `create`)."""
    stack = [os.dup(root_fd)]
    pending = list(parts)
    hops = 0
    try:
        while pending:
            name = pending.pop(0)
            if name in ("", "."):
                continue
            if name == "..":
                if len(stack) == 1:
                    raise EscapeError("a symlink on the way climbs above the root")
                os.close(stack.pop())
                continue
            mode = _lstat_mode(stack[-1], name, create)
            if stat.S_ISLNK(mode):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise EscapeError("too many levels of symlinks")
                target = os.readlink(name, dir_fd=stack[-1])
                if target.startswith("/"):
                    _close_all(stack[1:])
                    del stack[1:]
                pending[:0] = target.split("/")
                continue
            if not stat.S_ISDIR(mode):
                raise NotADirectoryError(f"{name} is not a folder")
            stack.append(os.open(name, DIRECTORY_FLAGS, dir_fd=stack[-1]))
    except BaseException:
        _close_all(stack)
        raise
    _close_all(stack[:-1])
    return Folder(stack[-1], len(stack) - 1)


def _lstat_mode(dir_fd: int, name: str, create: bool) -> int:
    try:
        return os.lstat(name, dir_fd=dir_fd).st_mode
    except FileNotFoundError:
        if not create:
            raise
        os.mkdir(name, 0o755, dir_fd=dir_fd)
        return os.lstat(name, dir_fd=dir_fd).st_mode


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def lstat_mode(dir_fd: int, name: str) -> int | None:
    try:
        return os.lstat(name, dir_fd=dir_fd).st_mode
    except FileNotFoundError:
        return None


def remove(dir_fd: int, name: str) -> None:
    """Remove `name` (a whole tree for a folder) without following symlinks; nothing there is fine."""
    mode = lstat_mode(dir_fd, name)
    if mode is None:
        return
    if not stat.S_ISDIR(mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    fd = os.open(name, DIRECTORY_FLAGS, dir_fd=dir_fd)
    try:
        empty(fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def empty(fd: int, keep: frozenset[str] = frozenset()) -> None:
    """Remove what the open folder `fd` holds, except the entries named in `keep`."""
    for entry in os.listdir(fd):
        if entry not in keep:
            remove(fd, entry)
