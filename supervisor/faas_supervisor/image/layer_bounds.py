"""Layer tars read within bounds: the one reader every place that reads an image layer goes through.

A layer's bytes (gzip or plain tar; zstd and the rest are refused, as nothing here can read them)
are decompressed here and their tar headers walked here, before tarfile or a registry sees them:
- a GNU long name or link, a PAX header and a sparse map are at most `header_bytes` long, and a
  member has at most `extensions` of them (tarfile reads each whole into memory, recursively);
- an image has at most `members` members and unpacks to at most `unpacked_bytes`, counted as
  written: a sparse file counts its holes, since it is written out whole;
- a layer unpacks to at most `ratio` times its compressed size plus `allowance` (a gzip bomb);
- numbers tarfile would read differently from us (a global PAX `size`, a `size` beside a sparse
  size, sparse headers on anything but a file) refuse the layer instead.
Each refusal names the layer, the member and the number exceeded. The walk mirrors what
tarfile (3.11-3.13) does with each header, so what tarfile reads is what was checked.
"""

from __future__ import annotations

import re
import struct
import tarfile
import threading
import zlib
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from faas_supervisor.image.errors import ImageError
from faas_supervisor.image.oci import DOCKER_LAYER_GZIP, OCI_LAYER_GZIP, Blob

BLOCK = tarfile.BLOCKSIZE
GIB = 1024**3
# Lambda: "10 GB (maximum uncompressed image size, including all layers)"; GB as in its 10,240 MB.
LAMBDA_IMAGE_BYTES = 10 * GIB
INFLATE_PIECE = 256 * 1024  # at most this much output per decompression step, whatever the input
GZIP_MAGIC = b"\x1f\x8b"
OTHER_COMPRESSIONS = {b"\x28\xb5\x2f\xfd": "zstd", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}
EXTENSION_TYPES = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)
SIZE_KEYS = ("size", "GNU.sparse.size", "GNU.sparse.realsize")
_PAX_RECORD = re.compile(rb"(\d+) ([^=]+)=")  # tarfile's own pattern


@dataclass(frozen=True)
class LayerLimits:
    """The bounds; the defaults are what local mode and the builder of a Lambda image apply."""

    unpacked_bytes: int = LAMBDA_IMAGE_BYTES
    members: int = 1_000_000
    header_bytes: int = 64 * 1024
    extensions: int = 8
    ratio: int = 100
    allowance: int = 16 * 1024 * 1024

    def describe(self) -> str:
        return (
            f"at most {self.unpacked_bytes} bytes unpacked and {self.members} members per image, "
            f"{self.ratio} x a layer's compressed size + {self.allowance} bytes per layer, "
            f"{self.header_bytes}-byte long names, PAX headers and sparse maps"
        )


# Batch has no image size limit of its own: a Batch-only image may unpack to 10 times Lambda's.
BATCH_LIMITS = replace(LayerLimits(), unpacked_bytes=10 * LAMBDA_IMAGE_BYTES)


class LayerRefused(ImageError):
    """A layer outside the bounds, or one that cannot be read within them; names the number exceeded."""


def check_image_layers(layers: Sequence[Blob], for_lambda: bool, where: str) -> None:
    """What an image's manifest alone shows, checked before a build copies anything.

    A zstd layer cannot be checked here, so it is refused. Lambda takes gzip layers only (it
    rejects others with UnsupportedImageLayerDetected), and images of at most 10 GB unpacked, of
    which the layers' compressed sizes are a lower bound.
    """
    for blob in layers:
        if "zstd" in blob.media_type:
            raise LayerRefused(
                f"{where}: layer {blob.digest} is zstd-compressed ({blob.media_type}): only gzip and plain tar "
                "layers can be checked; rebuild the base image with gzip compression"
            )
        if for_lambda and blob.media_type not in (DOCKER_LAYER_GZIP, OCI_LAYER_GZIP):
            raise LayerRefused(
                f"{where}: layer {blob.digest} is {blob.media_type}, and Lambda accepts gzip layers only; "
                "push the base image with gzip-compressed layers, or give it as container.image_file "
                "(whose plain layers are gzipped)"
            )
    total = sum(blob.size for blob in layers)
    if for_lambda and total > LAMBDA_IMAGE_BYTES:
        raise LayerRefused(
            f"{where}: its {len(layers)} layers are {total} bytes compressed, more than Lambda's image size limit "
            f"of {LAMBDA_IMAGE_BYTES} bytes (10 GB, all layers unpacked)"
        )


class ImageBudget:
    """What the layers of one image have used so far, against `limits`; its layers may be checked in parallel."""

    def __init__(self, limits: LayerLimits | None = None) -> None:
        self.limits = limits or LayerLimits()
        self.unpacked = 0  # bytes written, sparse holes counted
        self.members = 0
        self._lock = threading.Lock()

    def charge(self, size: int) -> tuple[int, int]:
        """One more member of `size` bytes: the image's members and unpacked bytes with it, kept
        only within the limits (a refused member does not count against the layers in flight)."""
        with self._lock:
            members, unpacked = self.members + 1, self.unpacked + size
            if members <= self.limits.members and unpacked <= self.limits.unpacked_bytes:
                self.members, self.unpacked = members, unpacked
            return members, unpacked


class LayerCheck:
    """One layer pushed through piece by piece: `feed` answers its plain tar bytes once they are checked."""

    def __init__(self, budget: ImageBudget, compressed_size: int, where: str) -> None:
        self.budget, self.limits, self.where = budget, budget.limits, where
        self.compressed_size = compressed_size
        self.layer_bound = self.limits.ratio * compressed_size + self.limits.allowance
        self.plain = 0  # tar bytes out of the decompression
        self.unpacked = 0  # this layer's share of budget.unpacked
        self._inflate: Any = None  # zlib decompressor of the current gzip member
        self._kind = ""  # "gzip" or "tar", from the first bytes
        self._head = b""  # the first bytes, until the kind is known
        self._walk = _TarWalk(self)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The plain tar bytes of `data` (the next compressed bytes), each piece checked before it is given."""
        if not self._kind:
            self._head += data
            if len(self._head) < 6:
                return
            data, self._head = self._head, b""
            self._kind = self._detect(data)
        if self._kind == "tar":
            yield from self._checked(data)
            return
        while data:
            if self._inflate is None:
                data = data.lstrip(b"\0")  # gzip may be padded with zeros between and after members
                if not data:
                    return
                self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
            try:
                piece = self._inflate.decompress(data, INFLATE_PIECE)
            except zlib.error as error:
                raise LayerRefused(f"{self.where}: not a valid gzip stream ({error})") from None
            data = self._inflate.unconsumed_tail
            if self._inflate.eof:
                data, self._inflate = self._inflate.unused_data, None
            yield from self._checked(piece)

    def finish(self) -> None:
        """The end of the layer: its last gzip member complete, its last tar member whole."""
        if not self._kind and self._head:  # a layer of fewer bytes than a magic number
            self._kind = self._detect(self._head)
            if self._kind == "tar":
                for _ in self._checked(self._head):
                    pass
            else:
                raise LayerRefused(f"{self.where}: the gzip stream is truncated")
        if self._inflate is not None:
            raise LayerRefused(f"{self.where}: the gzip stream is truncated")
        self._walk.finish()

    def _detect(self, head: bytes) -> str:
        if head.startswith(GZIP_MAGIC):
            return "gzip"
        for magic, name in OTHER_COMPRESSIONS.items():
            if head.startswith(magic):
                raise LayerRefused(
                    f"{self.where}: a {name}-compressed layer: only gzip and plain tar layers can be read "
                    "(and Lambda accepts gzip layers only); rebuild the base image with gzip compression"
                )
        return "tar"

    def _checked(self, piece: bytes) -> Iterator[bytes]:
        if not piece:
            return
        self.plain += len(piece)
        self._check_layer(self.plain, "its tar stream reaches")
        self._walk.feed(piece)
        yield piece

    def _check_layer(self, size: int, what: str) -> None:
        if size > self.layer_bound:
            raise LayerRefused(
                f"{self.where}: {what} {size} bytes, more than this layer's bound of {self.layer_bound} "
                f"({self.limits.ratio} x its {self.compressed_size} compressed bytes + {self.limits.allowance})"
            )

    def charge(self, name: str, size: int) -> None:
        """A member about to be written: `size` bytes (sparse holes included)."""
        self._check_layer(self.unpacked + size, f"member {name!r} ({size} bytes) brings what the layer unpacks to")
        members, unpacked = self.budget.charge(size)
        if members > self.limits.members:
            raise LayerRefused(f"{self.where}: member {name!r}: the image has more than {self.limits.members} members")
        self.unpacked += size
        if unpacked > self.limits.unpacked_bytes:
            raise LayerRefused(
                f"{self.where}: member {name!r} ({size} bytes) brings the image to {unpacked} bytes unpacked, "
                f"more than its bound of {self.limits.unpacked_bytes}"
            )


class _TarWalk:
    """The tar headers of a plain stream, parsed as the bytes pass, as tarfile will parse them."""

    def __init__(self, check: LayerCheck) -> None:
        self.check, self.limits, self.where = check, check.limits, check.where
        self._buf = bytearray()
        self._want = BLOCK  # bytes to collect into _buf before _on_record
        self._on_record = self._header
        self._skip = 0  # data bytes to pass over before the next record
        self._done = False
        self._pax: dict[str, str] = {}  # the next member's PAX records
        self._extensions = 0  # extension headers before the next member
        self._sparse_blocks = 0
        self._member = ""

    def feed(self, data: bytes) -> None:
        view, at = memoryview(data), 0
        while at < len(view) and not self._done:
            if self._skip:
                step = min(self._skip, len(view) - at)
                self._skip -= step
                at += step
                continue
            step = min(self._want - len(self._buf), len(view) - at)
            self._buf += view[at : at + step]
            at += step
            if len(self._buf) == self._want:
                record, self._buf = bytes(self._buf), bytearray()
                self._on_record(record)

    def finish(self) -> None:
        if not self._done and (self._skip or self._buf or self._on_record != self._header):
            raise LayerRefused(f"{self.where}: the tar stream ends inside member {self._member!r}")

    def _refuse(self, reason: str) -> LayerRefused:
        return LayerRefused(f"{self.where}: member {self._member!r}: {reason}")

    def _expect(self, size: int, handler: Any, skip: int = 0) -> None:
        self._want, self._on_record, self._skip = size, handler, skip

    def _header(self, block: bytes) -> None:
        if block.count(0) == BLOCK:
            self._done = True  # tarfile stops at the first zero block
            return
        self._member = _text(block[0:100])
        if _number(block[148:156], self) not in _checksums(block):
            raise self._refuse("bad header checksum")
        kind, size = block[156:157], _number(block[124:136], self)
        if kind in EXTENSION_TYPES:
            self._extension(kind, size)
            return
        pax, self._pax, self._extensions = self._pax, {}, 0
        if kind == tarfile.AREGTYPE and block[0:100].split(b"\0", 1)[0].endswith(b"/"):
            kind = tarfile.DIRTYPE  # tarfile reads an old-style folder so
        has_data = kind in tarfile.REGULAR_TYPES or kind not in tarfile.SUPPORTED_TYPES
        stored = self._pax_number(pax, "size") if "size" in pax else size
        written = stored
        sparse = [key for key in ("GNU.sparse.size", "GNU.sparse.realsize", "GNU.sparse.map") if key in pax]
        sparse_10 = not sparse and pax.get("GNU.sparse.major") == "1" and pax.get("GNU.sparse.minor") == "0"
        if sparse or sparse_10 or kind == tarfile.GNUTYPE_SPARSE:
            # tarfile takes a member's size from whichever of these keys comes last: have one only.
            if kind not in tarfile.REGULAR_TYPES:
                raise self._refuse(f"sparse file headers on a member of type {kind!r}")
            if "size" in pax or len({pax[key] for key in SIZE_KEYS[1:] if key in pax}) > 1:
                raise self._refuse("a sparse file with two different sizes")
        if kind == tarfile.GNUTYPE_SPARSE:
            written = _number(block[483:495], self)
        for key in SIZE_KEYS[1:]:
            if key in pax:
                written = self._pax_number(pax, key)
        self.check.charge(self._member, written if kind in tarfile.REGULAR_TYPES else 0)
        data = _blocks(stored) if has_data else 0
        if kind == tarfile.GNUTYPE_SPARSE and block[482]:
            self._sparse_blocks = 0
            self._expect(BLOCK, lambda extension: self._old_sparse(extension, data))
        elif sparse_10:
            head = min(data, _blocks(self.limits.header_bytes))
            if not head:
                raise self._refuse("a sparse file without its map")
            self._expect(head, lambda record: self._sparse_map(record, data - head))
        else:
            self._expect(BLOCK, self._header, data)

    def _extension(self, kind: bytes, size: int) -> None:
        self._extensions += 1
        if self._extensions > self.limits.extensions:
            raise self._refuse(f"more than {self.limits.extensions} extension headers before one member")
        if size > self.limits.header_bytes:
            what = "a GNU long name or link" if kind in EXTENSION_TYPES[:2] else "a PAX header"
            raise self._refuse(f"{what} of {size} bytes, more than the bound of {self.limits.header_bytes}")
        if not size:
            return
        if kind in EXTENSION_TYPES[:2]:
            self._expect(BLOCK, self._header, _blocks(size))
        else:
            self._expect(_blocks(size), lambda record: self._pax_records(record[:size], kind == tarfile.XGLTYPE))

    def _pax_records(self, data: bytes, is_global: bool) -> None:
        records: dict[str, str] = {}
        at = 0
        while match := _PAX_RECORD.match(data, at):
            length = int(match.group(1))
            if length == 0:
                raise self._refuse("a PAX record of length 0")
            key = match.group(2).decode("utf-8", "surrogateescape")
            records[key] = data[match.end(2) + 1 : match.start(1) + length - 1].decode("utf-8", "surrogateescape")
            at += length
        if is_global:
            ruled = sorted(key for key in records if key == "size" or key.startswith("GNU.sparse."))
            if ruled:
                raise self._refuse(f"a global PAX header sets {ruled[0]!r}")
        else:
            self._pax.update(records)
        self._expect(BLOCK, self._header)

    def _pax_number(self, pax: dict[str, str], key: str) -> int:
        value = pax[key]
        if not value.isdigit():
            raise self._refuse(f"PAX {key} {value[:40]!r} is not a number")
        return int(value)

    def _old_sparse(self, extension: bytes, data: int) -> None:
        self._sparse_blocks += 1
        if self._sparse_blocks * BLOCK > self.limits.header_bytes:
            raise self._refuse(f"a sparse map of more than {self.limits.header_bytes} bytes")
        if not extension[504]:
            self._expect(BLOCK, self._header, data)

    def _sparse_map(self, head: bytes, after: int) -> None:
        """GNU sparse 1.0: the map (a count, then offset and size lines) must fit in the bounded head."""
        count, _, lines = head.partition(b"\n")
        numbers = lines.split(b"\n")
        if not count.strip().isdigit() or len(numbers) <= 2 * int(count):
            raise self._refuse(f"a sparse map longer than {len(head)} bytes, or not a map")
        self._expect(BLOCK, self._header, after)


def _blocks(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _number(field: bytes, walk: _TarWalk) -> int:
    """A numeric header field as tarfile reads it (octal, or GNU base-256); negative ones are refused."""
    if field[0] == 0o200:
        return int.from_bytes(field[1:], "big")
    if field[0] == 0o377:
        raise walk._refuse("a negative number in a header")
    try:
        return int(field.split(b"\0", 1)[0].decode("ascii").strip() or "0", 8)
    except (UnicodeDecodeError, ValueError):
        raise walk._refuse("an invalid header") from None


def _checksums(block: bytes) -> tuple[int, int]:
    return 256 + sum(struct.unpack_from("148B8x356B", block)), 256 + sum(struct.unpack_from("148b8x356b", block))


class _CheckedStream:
    """The plain tar bytes of a compressed file, checked: what tarfile reads (mode "r|")."""

    def __init__(self, source: IO[bytes], check: LayerCheck) -> None:
        self._source, self._check = source, check
        self._pending, self._ended = b"", False
        self._pieces: Iterator[bytes] = iter(())

    def read(self, size: int = -1) -> bytes:
        out = bytearray(self._pending)
        while size < 0 or len(out) < size:
            piece = next(self._pieces, None)
            if piece is None:
                if self._ended:
                    break
                data = self._source.read(INFLATE_PIECE)
                if not data:
                    self._ended = True
                    self._check.finish()
                self._pieces = self._check.feed(data) if data else iter(())
                continue
            out += piece
        cut = len(out) if size < 0 else size
        self._pending = bytes(out[cut:])
        return bytes(out[:cut])

    def drain(self) -> None:
        """Read (and check) what is left, so that the source verifies its digest at its end."""
        while self.read(INFLATE_PIECE):
            pass


@contextmanager
def bounded_members(
    source: IO[bytes], compressed_size: int, budget: ImageBudget, where: str
) -> Iterator[Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]]:
    """The members of a layer, each checked (with its header) before tarfile reads it.

    `source` gives the layer as stored (gzip or plain tar); the members come with their TarFile,
    to read a file's content with `extractfile`. The rest of `source` is read at the end.
    """
    stream = _CheckedStream(source, LayerCheck(budget, compressed_size, where))
    with tarfile.open(fileobj=stream, mode="r|") as archive:  # type: ignore[call-overload]
        yield _members(archive)
    stream.drain()


def _members(archive: tarfile.TarFile) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
    while (member := archive.next()) is not None:
        # tarfile keeps every member it has read (a million would take gigabytes); a stream needs none.
        archive.members.clear()  # type: ignore[attr-defined]
        yield archive, member


def checked_chunks(
    chunks: Iterable[bytes], compressed_size: int, budget: ImageBudget, where: str
) -> Generator[bytes, None, None]:
    """`chunks` (a layer as stored) passed on while the layer is checked; the last is passed only
    once the whole layer is, so a destination never completes an upload of a refused layer."""
    check, pending = LayerCheck(budget, compressed_size, where), b""
    for chunk in chunks:
        for _ in check.feed(chunk):
            pass
        if pending:
            yield pending
        pending = chunk
    check.finish()
    if pending:
        yield pending


def check_archive(path: Path, limits: LayerLimits, where: str) -> None:
    """An image archive's own tar (`docker save` or OCI layout, gzipped or not) within `limits`:
    read once through the checks, before tarfile reads its headers (it reads them all at open)."""
    with path.open("rb") as file:
        chunks = iter(lambda: file.read(INFLATE_PIECE), b"")
        for _ in checked_chunks(chunks, path.stat().st_size, ImageBudget(limits), where):
            pass
