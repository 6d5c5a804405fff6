"""Images for the local sandbox tests: layers written member by member (hostile ones too) into OCI archives."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

from faas_supervisor.image import ArchiveSource, Layer
from faas_supervisor.image.oci import sha256_digest

from tests.supervisor.image_builders import base_config, write_oci_layout

Member = tuple[tarfile.TarInfo, bytes]


def file(name: str, data: bytes = b"", mode: int = 0o644) -> Member:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def folder(name: str, mode: int = 0o755) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    return info, b""


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, b""


def special(name: str, kind: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor = kind, 1, 3
    return info, b""


def raw_layer(*members: Member) -> Layer:
    """A gzipped layer holding exactly `members`, in order, unchecked."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    plain = buffer.getvalue()
    blob = gzip.compress(plain, mtime=0)
    return Layer(blob, sha256_digest(blob), sha256_digest(plain), "test layer")


def archive_image(path: Path, layers: list[Layer], compressed: bool = True) -> ArchiveSource:
    """An OCI layout archive of `layers` (plain tars when not `compressed`)."""
    write_oci_layout(path, base_config("amd64", layers), [layer.blob for layer in layers], compressed)
    return ArchiveSource(path)
