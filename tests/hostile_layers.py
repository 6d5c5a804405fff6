"""Hostile image layers, built at test time and small on disk: size bombs and headers tarfile would read whole.

Each is streamed through gzip as it is made, so a layer that unpacks to gigabytes is never held
in memory or on disk here (`diff_id` is hashed on the way).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import tarfile
from collections.abc import Iterable, Iterator

from faas_supervisor.image import Layer
from faas_supervisor.image.oci import sha256_digest

BLOCK = tarfile.BLOCKSIZE
MIB = 1024 * 1024
GIB = 1024 * MIB
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def streamed_layer(parts: Iterable[bytes], comment: str) -> Layer:
    """A gzipped layer of the concatenated `parts`, each a gzip member of its own (a valid gzip stream):
    a part repeated (the same object) is compressed once, so a bomb costs its hashing only."""
    plain, blob = hashlib.sha256(), bytearray()
    for part in parts:
        plain.update(part)
        blob += _gzip_member(part)
    return Layer(bytes(blob), sha256_digest(bytes(blob)), "sha256:" + plain.hexdigest(), comment)


@functools.lru_cache(maxsize=4)
def _gzip_member(part: bytes) -> bytes:
    return gzip.compress(part, compresslevel=9, mtime=0)


def _header(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, pax: dict[str, str] | None = None) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mode = size, kind, 0o644
    if pax:
        info.pax_headers = pax
        return info.tobuf(tarfile.PAX_FORMAT)
    return info.tobuf(tarfile.GNU_FORMAT)


def _repeated(byte: bytes, size: int) -> Iterator[bytes]:
    piece = _piece(byte)
    while size > 0:
        yield piece if size >= MIB else piece[:size]
        size -= MIB


@functools.lru_cache(maxsize=4)
def _piece(byte: bytes) -> bytes:
    return byte * MIB


def _padding(size: int) -> bytes:
    return bytes(-size % BLOCK)


def _end() -> bytes:
    return bytes(2 * BLOCK)


def gzip_bomb(files: int, each: int) -> Layer:
    """`files` files of `each` zero bytes."""

    def parts() -> Iterator[bytes]:
        for number in range(files):
            yield _header(f"hostile/zeros-{number}", each)
            yield from _repeated(b"\0", each)
            yield _padding(each)
        yield _end()

    return streamed_layer(parts(), f"gzip bomb: {files} x {each} bytes")


def sparse_file(apparent: int) -> Layer:
    """One GNU sparse 1.0 file (as GNU tar --sparse --format=pax writes it) of `apparent` bytes, 512 of them data."""
    sparse_map = f"1\n{apparent - BLOCK}\n{BLOCK}\n".encode()
    data = sparse_map + _padding(len(sparse_map)) + b"x" * BLOCK
    pax = {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.name": "hostile/sparse",
        "GNU.sparse.realsize": str(apparent),
    }
    return streamed_layer([_header("hostile/GNUSparseFile.0/sparse", len(data), pax=pax), data, _end()], "sparse")


def long_name(size: int) -> Layer:
    """A GNU long name (`././@LongLink`) of `size` bytes before an empty file: tarfile reads the name whole."""
    parts = [_header("././@LongLink", size, tarfile.GNUTYPE_LONGNAME), *_repeated(b"a", size), _padding(size)]
    return streamed_layer([*parts, _header("x"), _end()], f"long name of {size} bytes")


def pax_header(size: int) -> Layer:
    """A PAX extended header of `size` bytes (one `comment` record) before an empty file."""

    def parts() -> Iterator[bytes]:
        record_head = f"{size} comment=".encode()
        yield _header("././@PaxHeader", size, tarfile.XHDTYPE)
        yield record_head
        yield from _repeated(b"a", size - len(record_head) - 1)
        yield b"\n" + _padding(size)
        yield _header("x")
        yield _end()

    return streamed_layer(parts(), f"PAX header of {size} bytes")


def empty_files(count: int) -> Layer:
    return streamed_layer([*(_header(f"f/{number}") for number in range(count)), _end()], f"{count} empty files")


def long_name_chain(count: int) -> Layer:
    """`count` GNU long names in a row (tarfile reads each through one more level of recursion)."""
    names = [_header("././@LongLink", 2, tarfile.GNUTYPE_LONGNAME) + b"n\0" + _padding(2) for _ in range(count)]
    return streamed_layer([*names, _header("x"), _end()], f"{count} long names in a row")


def zstd_layer() -> Layer:
    """A blob that starts as zstd does: it cannot be read here."""
    blob = ZSTD_MAGIC + bytes(60)
    return Layer(blob, sha256_digest(blob), sha256_digest(b""), "zstd")
