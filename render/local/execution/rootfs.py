"""An image's layers unpacked into a root folder, once per manifest, for the local sandboxes.

`unpack_image` keeps one folder per manifest in a cache (`<cache>/<sha256 of the manifest>/rootfs`
next to the image config); the first caller unpacks into a temporary sibling and renames it into
place, concurrent callers wait on a lock file and reuse the result. Layers apply in order, with
their whiteouts (`.wh.NAME` removes NAME of the lower layers, `.wh..wh..opq` empties the folder
of them). Every path is opened through root_fd, so a layer can only write inside the root;
members that try otherwise (`..`, absolute names, links out of the root, devices, FIFOs) refuse
the whole image with the layer's digest and the member's name. Layers are read through
faas_supervisor.image.layer_bounds, so an image over its bounds (unpacked bytes, members, header
sizes, compression ratio) is refused as well, with the number exceeded, and its partial unpack removed.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from faas_supervisor.image import SourceImage
from faas_supervisor.image.layer_bounds import ImageBudget, LayerLimits, LayerRefused, bounded_members
from faas_supervisor.image.oci import canonical_json, sha256_digest

from render.local.execution import root_fd
from render.local.execution.root_fd import EscapeError, Folder

OPAQUE = ".wh..wh..opq"
WHITEOUT = ".wh."
FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
COPY_CHUNK = 1 << 20
# Where the sandboxes mount things: real folders and files, since a bind over a symlink would
# follow it on the host.
MOUNT_FOLDERS = ("proc", "dev", "tmp", "etc")
MOUNT_FILES = ("etc/resolv.conf", "etc/hosts")


class LayerError(Exception):
    """A layer that cannot be unpacked safely (or at all): names the layer and the member."""


@dataclass(frozen=True)
class UnpackedImage:
    root: Path
    config: dict[str, Any]  # the image config ("config" holds Entrypoint, Cmd, Env, WorkingDir)

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.config.get("config") or {})


def manifest_key(image: SourceImage) -> str:
    """The cache key: the sha256 of the manifest document (its layers' digests and its config's)."""
    return sha256_digest(canonical_json(image.manifest)).removeprefix("sha256:")


def unpack_image(image: SourceImage, cache: Path, limits: LayerLimits | None = None) -> UnpackedImage:
    """The image's root folder in `cache`, unpacked on first use within `limits` (by default layer_bounds')."""
    cache.mkdir(parents=True, exist_ok=True)
    key = manifest_key(image)
    final = cache / key
    with _locked(cache / f".{key}.lock"):
        if not final.is_dir():
            staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=cache))
            try:
                staging.chmod(0o755)  # proot runs as nobody when started as root
                _unpack_into(image, staging, ImageBudget(limits))
                staging.rename(final)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    return UnpackedImage(final / "rootfs", json.loads((final / "config.json").read_text()))


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _unpack_into(image: SourceImage, staging: Path, budget: ImageBudget) -> None:
    root = staging / "rootfs"
    root.mkdir(mode=0o755)
    fd = os.open(root, root_fd.DIRECTORY_FLAGS)
    try:
        for blob in image.layer_blobs:
            with image.open_layer(blob) as stream:
                apply_layer(fd, stream, blob.digest, blob.size, budget)
        _add_mount_points(fd)
    finally:
        os.close(fd)
    (staging / "config.json").write_text(json.dumps(image.config))


def _add_mount_points(root: int) -> None:
    for name in MOUNT_FOLDERS:
        mode = root_fd.lstat_mode(root, name)
        if mode is None or not stat.S_ISDIR(mode):
            root_fd.remove(root, name)
            os.mkdir(name, 0o755, dir_fd=root)
    with root_fd.open_folder(root, ["etc"], create=False) as etc:
        for path in MOUNT_FILES:
            name = path.removeprefix("etc/")
            mode = root_fd.lstat_mode(etc.fd, name)
            if mode is None or not stat.S_ISREG(mode):
                root_fd.remove(etc.fd, name)
                os.close(os.open(name, FILE_FLAGS, 0o644, dir_fd=etc.fd))


def apply_layer(root: int, stream: IO[bytes], digest: str, size: int, budget: ImageBudget) -> None:
    """Apply one layer tar (gzipped or not, `size` bytes as stored) to the root folder open as `root`."""
    made: dict[tuple[int, int], set[str]] = {}  # entries this layer created, per folder (dev, inode)
    member_name = "(the archive)"
    try:
        with bounded_members(stream, size, budget, f"layer {digest}") as members:
            for archive, member in members:
                member_name = member.name
                _apply_member(root, archive, member, made)
    except LayerRefused as error:
        raise LayerError(str(error)) from None
    except (EscapeError, OSError, tarfile.TarError, ValueError) as error:
        raise LayerError(f"layer {digest}: member {member_name!r}: {_describe(error)}") from None


def _describe(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror + (f" ({error.filename})" if error.filename else "")
    return str(error) or type(error).__name__


def _apply_member(root: int, archive: tarfile.TarFile, member: tarfile.TarInfo, made: dict[Any, set[str]]) -> None:
    parts = root_fd.split_member(member.name)
    if not parts:
        return  # the root folder itself
    if member.ischr() or member.isblk() or member.isfifo():
        raise EscapeError("device files and FIFOs are not allowed")
    with root_fd.open_folder(root, parts[:-1], create=True) as folder:
        info = os.fstat(folder.fd)
        here = made.setdefault((info.st_dev, info.st_ino), set())
        name = parts[-1]
        if name == OPAQUE:
            root_fd.empty(folder.fd, keep=frozenset(here))
        elif name.startswith(WHITEOUT + WHITEOUT):
            return  # other aufs metadata
        elif name.startswith(WHITEOUT):
            root_fd.remove(folder.fd, _whited_out(name))
        else:
            _create(root, folder, name, archive, member)
            here.add(name)


def _whited_out(name: str) -> str:
    target = name[len(WHITEOUT) :]
    if target in ("", ".", ".."):
        raise EscapeError("a whiteout without a name")
    return target


def _create(root: int, folder: Folder, name: str, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
    existing = root_fd.lstat_mode(folder.fd, name)
    if member.isdir():
        if existing is None or not stat.S_ISDIR(existing):
            root_fd.remove(folder.fd, name)
            os.mkdir(name, 0o700, dir_fd=folder.fd)
        _chmod(folder.fd, name, (member.mode & 0o1777) | 0o700)
    elif member.issym():
        if root_fd.symlink_escapes(folder.depth, member.linkname):
            raise EscapeError(f"symlink target {member.linkname!r} is outside the root")
        root_fd.remove(folder.fd, name)
        os.symlink(member.linkname, name, dir_fd=folder.fd)
    elif member.islnk():
        _hard_link(root, folder, name, member.linkname)
    elif member.isreg():
        root_fd.remove(folder.fd, name)
        _write_file(folder.fd, name, archive, member)
    else:
        raise EscapeError(f"unsupported member type {member.type!r}")


def _chmod(dir_fd: int, name: str, mode: int) -> None:
    fd = os.open(name, root_fd.DIRECTORY_FLAGS, dir_fd=dir_fd)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _hard_link(root: int, folder: Folder, name: str, linkname: str) -> None:
    try:
        target = root_fd.split_member(linkname)
    except EscapeError as error:
        raise EscapeError(f"hard link target {linkname!r}: {error}") from None
    if not target:
        raise EscapeError("a hard link to the root folder")
    with root_fd.open_folder(root, target[:-1], create=False) as source:
        mode = root_fd.lstat_mode(source.fd, target[-1])
        if mode is None or stat.S_ISDIR(mode):
            raise EscapeError(f"hard link target {linkname!r} is not a file of the image")
        root_fd.remove(folder.fd, name)
        os.link(target[-1], name, src_dir_fd=source.fd, dst_dir_fd=folder.fd, follow_symlinks=False)


def _write_file(dir_fd: int, name: str, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
    source = archive.extractfile(member)
    assert source is not None  # a regular file
    fd = os.open(name, FILE_FLAGS, 0o600, dir_fd=dir_fd)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(source, out, COPY_CHUNK)
        # No setuid or setgid bits: nothing in the root should gain privileges.
        os.fchmod(out.fileno(), member.mode & 0o1777)
