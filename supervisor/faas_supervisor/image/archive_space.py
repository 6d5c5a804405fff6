"""The /tmp a build from an image archive takes, and the builder's ephemeral storage that holds it.

The builder downloads the archive into /tmp (a `docker save` or OCI tar needs random access to
find its manifest and blobs), then writes a gzipped copy of each layer stored uncompressed
(archive.open_archive), which is the usual case for `docker save`. The renderer sizes the
builder's /tmp from this, so the numbers are defined once, here.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from faas_supervisor.image.errors import ArchiveError
from faas_supervisor.image.layer_bounds import GZIP_MAGIC

MIB = 1024 * 1024
# Lambda's ephemeral storage, in MB as Lambda counts them (MiB, as its memory).
EPHEMERAL_STORAGE_MB = (512, 10240)
# Beyond the files: the file system's own blocks (a share) and the runtime's files (a fixed amount).
HEADROOM_SHARE = 0.05
HEADROOM_MB = 256


def scratch_bytes(path: Path) -> int:
    """The most bytes a build from the archive at `path` writes to /tmp: the archive itself, plus
    a gzipped copy of every member not gzipped already, at deflate's worst case.

    Call it on an archive that layer_bounds.check_archive has passed (tarfile reads its headers).
    Only the headers and the first two bytes of each member are read, unless the archive itself is
    compressed (then it is decompressed once, in pieces).
    """
    total = path.stat().st_size
    try:
        with tarfile.open(path) as archive:
            while (member := archive.next()) is not None:
                archive.members.clear()  # type: ignore[attr-defined]  # none is needed again
                if member.isfile() and member.size:
                    content = archive.extractfile(member)
                    if content is not None and content.read(len(GZIP_MAGIC)) != GZIP_MAGIC:
                        total += gzip_bound(member.size)
    except (OSError, tarfile.TarError) as error:
        raise ArchiveError(f"{path}: not a readable tar archive ({error})") from None
    return total


def gzip_bound(size: int) -> int:
    """The largest gzip of `size` bytes: zlib's deflateBound plus the gzip header and trailer."""
    return size + (size >> 12) + (size >> 14) + (size >> 25) + 7 + 18


def ephemeral_storage_mb(scratch: int) -> int:
    """The builder's ephemeral storage for `scratch` bytes of files; may exceed what Lambda allows."""
    low, _ = EPHEMERAL_STORAGE_MB
    return max(low, -(-int(scratch * (1 + HEADROOM_SHARE)) // MIB) + HEADROOM_MB)
