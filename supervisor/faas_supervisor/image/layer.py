"""Deterministic layers: the same entries always give the same tar, gzip and digests."""

from __future__ import annotations

import gzip
import hashlib
import io
import posixpath
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO

from faas_supervisor.image.errors import ImageError
from faas_supervisor.image.oci import CHUNK, sha256_digest

_GZIP_LEVEL = 6


@dataclass(frozen=True)
class LayerEntry:
    """A file (or, with `symlink`, a symbolic link; with `folder`, a folder of that `mode`) at `path`."""

    path: str
    data: bytes = b""
    mode: int = 0o644
    symlink: str | None = None
    folder: bool = False


@dataclass(frozen=True)
class Layer:
    """A gzipped layer: `digest` names `blob`, `diff_id` its uncompressed tar."""

    blob: bytes = field(repr=False)
    digest: str
    diff_id: str
    comment: str

    @property
    def size(self) -> int:
        return len(self.blob)


@dataclass(frozen=True)
class Compressed:
    digest: str
    diff_id: str
    size: int


def build_layer(entries: Iterable[LayerEntry], comment: str = "faas-render") -> Layer:
    """A tar of `entries` and their parent folders, sorted, owned by 0:0, dated 0, then gzipped.

    Parent folders not given as entries get mode 0755.
    """
    files = _by_name(entries)
    folders = {parent for name in files for parent in _parents(name)}
    clashes = folders & {name for name, entry in files.items() if not entry.folder}
    if clashes:
        raise ImageError(f"layer path {sorted(clashes)[0]!r} is both a file and a folder")
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(folders | set(files)):
            entry = files.get(name)
            info = _info(name, entry)
            archive.addfile(info, io.BytesIO(entry.data) if entry and info.isfile() else None)
    blob = gzipped(tar.getvalue())
    return Layer(blob, sha256_digest(blob), sha256_digest(tar.getvalue()), comment)


def gzipped(data: bytes) -> bytes:
    out = io.BytesIO()
    compress(io.BytesIO(data), out)
    return out.getvalue()


def compress(source: IO[bytes], target: IO[bytes]) -> Compressed:
    """Gzip `source` into `target` chunk by chunk, deterministically (no name, mtime 0)."""
    plain, packed = hashlib.sha256(), _HashingWriter(target)
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0, compresslevel=_GZIP_LEVEL) as writer:
        while chunk := source.read(CHUNK):
            plain.update(chunk)
            writer.write(chunk)
    return Compressed("sha256:" + packed.digest.hexdigest(), "sha256:" + plain.hexdigest(), packed.size)


class _HashingWriter:
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target, self.digest, self.size = target, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()


def _by_name(entries: Iterable[LayerEntry]) -> dict[str, LayerEntry]:
    files: dict[str, LayerEntry] = {}
    for entry in entries:
        name = _member_name(entry.path)
        if name in files:
            raise ImageError(f"layer path {entry.path!r} is given twice")
        files[name] = entry
    return files


def _member_name(path: str) -> str:
    name = posixpath.normpath("/" + path).lstrip("/")
    if not name or ".." in path.split("/") or name == ".":
        raise ImageError(f"invalid layer path {path!r}: expected a file path inside the image")
    return name


def _parents(name: str) -> list[str]:
    parts = name.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _info(name: str, entry: LayerEntry | None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    if entry is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    elif entry.folder:
        info.type, info.mode = tarfile.DIRTYPE, entry.mode & 0o7777
    elif entry.symlink is not None:
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, entry.symlink, 0o777
    else:
        info.size, info.mode = len(entry.data), entry.mode & 0o7777
    return info
