"""Base images to build on: what they hold, and their blobs as verified streams."""

from __future__ import annotations

import io
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from faas_supervisor.image.auth import Credentials
from faas_supervisor.image.errors import ImageError
from faas_supervisor.image.oci import INDEXES, MANIFESTS, Blob, blob_of, parse_json
from faas_supervisor.image.reference import Reference, parse_reference

MAX_CONFIG = 16 * 1024 * 1024


@dataclass(frozen=True)
class RegistrySource:
    """An image in a registry; Docker Hub images come from `mirror` when one is given."""

    reference: Reference
    mirror: str | None = None
    credentials: Credentials | None = None

    @classmethod
    def parse(cls, text: str, mirror: str | None = None, credentials: Credentials | None = None) -> RegistrySource:
        return cls(parse_reference(text), mirror, credentials)


@dataclass(frozen=True)
class ArchiveSource:
    """A `docker save` tar or an OCI image layout tar (optionally compressed)."""

    path: Path


ImageSource = RegistrySource | ArchiveSource


@dataclass(frozen=True)
class BlobLocation:
    """Where a source's blobs live in a registry (a destination on the same registry can mount them)."""

    base_url: str
    repository: str


@dataclass
class SourceImage:
    """One single-platform image: its manifest, config and layer descriptors, and a way to read its blobs.

    `layers` are the descriptors the new manifest will list: the source's own, except for an
    archive's uncompressed layers, which are gzipped (their diff_ids do not change).
    """

    name: str
    manifest: dict[str, Any]
    media_type: str
    config: dict[str, Any]
    layers: list[dict[str, Any]]
    location: BlobLocation | None
    read_blob: Callable[[Blob], Generator[bytes, None, None]] = field(repr=False)
    labels: dict[str, str] = field(default_factory=dict)  # what the new image records of this base (base_record)

    @property
    def layer_blobs(self) -> list[Blob]:
        return [blob_of(layer, self.name) for layer in self.layers]

    @contextmanager
    def open_layer(self, blob: Blob) -> Iterator[BinaryIO]:
        """A layer as a read-only file (e.g. for `tarfile.open(fileobj=f, mode="r|*")`), verified at its end."""
        with closing(self.read_blob(blob)) as chunks:
            yield io.BufferedReader(_ChunkReader(chunks))


def manifest_parts(document: dict[str, Any], name: str) -> tuple[Blob, list[dict[str, Any]]]:
    """The config blob and the layer descriptors of a single-platform manifest, validated."""
    if document.get("schemaVersion") != 2:
        raise ImageError(f"{name}: unsupported manifest (schemaVersion {document.get('schemaVersion')!r}, expected 2)")
    config = blob_of(document.get("config"), f"{name}: config")
    if config.size > MAX_CONFIG:
        raise ImageError(f"{name}: the image config is {config.size} bytes, more than {MAX_CONFIG}")
    layers = document.get("layers")
    if not isinstance(layers, list):
        raise ImageError(f"{name}: the manifest has no layers list")
    for number, layer in enumerate(layers):
        blob_of(layer, f"{name}: layers[{number}]")
    return config, layers


def manifest_kind(media_type: str, name: str) -> str:
    """Whether `media_type` is a "manifest" or an "index"; anything else (schema 1, an artifact) is refused."""
    if media_type in MANIFESTS:
        return "manifest"
    if media_type in INDEXES:
        return "index"
    raise ImageError(f"{name}: unsupported manifest media type {media_type!r} (expected Docker schema 2 or OCI)")


def diff_ids(config: dict[str, Any], name: str) -> list[str]:
    rootfs = config.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ImageError(f"{name}: the image config has no rootfs.diff_ids list")
    return ids


def read_config(data: bytes, name: str, layer_count: int) -> dict[str, Any]:
    config = parse_json(data, f"{name}: the image config")
    if len(diff_ids(config, name)) != layer_count:
        raise ImageError(f"{name}: the config lists {len(diff_ids(config, name))} diff_ids for {layer_count} layers")
    return config


class _ChunkReader(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks, self._pending, self._offset = chunks, b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._offset >= len(self._pending):
            self._pending, self._offset = next(self._chunks, b""), 0
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending) - self._offset)
        buffer[:size] = memoryview(self._pending)[self._offset : self._offset + size]
        self._offset += size
        return size
