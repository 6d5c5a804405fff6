"""Where assembled images go: the interface, its transfer counters, and a registry destination."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from faas_supervisor.image.auth import Credentials
from faas_supervisor.image.oci import Blob
from faas_supervisor.image.reference import registry_url
from faas_supervisor.image.registry import RegistryClient
from faas_supervisor.image.source import BlobLocation


@dataclass
class TransferStats:
    """What a destination received; `skipped` blobs were already there, `mounted` ones linked in place."""

    blobs_sent: int = 0
    bytes_sent: int = 0
    blobs_skipped: int = 0
    bytes_skipped: int = 0
    blobs_mounted: int = 0
    manifests_put: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def counted(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """`chunks` counted as sent; blobs are sent in parallel, hence the lock."""
        for chunk in chunks:
            with self._lock:
                self.bytes_sent += len(chunk)
            yield chunk
        with self._lock:
            self.blobs_sent += 1

    def mounted(self) -> None:
        with self._lock:
            self.blobs_mounted += 1


class Destination(Protocol):
    stats: TransferStats

    def missing_blobs(self, repository: str, blobs: Sequence[Blob]) -> list[Blob]:
        """The blobs `repository` lacks (the others are counted as skipped)."""

    def mount_blob(self, repository: str, blob: Blob, source: BlobLocation) -> bool:
        """Link a blob from another repository of the same registry; False when that cannot be done."""

    def push_blob(self, repository: str, blob: Blob, chunks: Iterable[bytes]) -> None:
        """Upload a blob from a stream of chunks (consumed once, in constant memory)."""

    def put_manifest(self, repository: str, tag: str, manifest: bytes, media_type: str, digest: str) -> None:
        """Store the manifest under `tag`; `digest` is the sha256 of `manifest`."""

    def latest_image(self, repository: str) -> tuple[bytes, bytes] | None:
        """The manifest and config of the image last pushed to `repository`; None when there is none."""


class RegistryDestination:
    """A registry reached through its HTTP API (local registries, tests)."""

    def __init__(self, registry: str, credentials: Credentials | None = None) -> None:
        """`registry` is host[:port] (HTTPS, or HTTP on loopback) or a base URL."""
        base_url = registry if "://" in registry else registry_url(registry)
        self.client = RegistryClient(base_url, credentials)
        self.stats = TransferStats()

    def missing_blobs(self, repository: str, blobs: Sequence[Blob]) -> list[Blob]:
        missing = []
        for blob in blobs:
            if self.client.has_blob(repository, blob.digest):
                self.stats.blobs_skipped += 1
                self.stats.bytes_skipped += blob.size
            else:
                missing.append(blob)
        return missing

    def mount_blob(self, repository: str, blob: Blob, source: BlobLocation) -> bool:
        if source.base_url != self.client.base_url or source.repository == repository:
            return False
        mounted = self.client.mount_blob(repository, blob.digest, source.repository)
        if mounted:
            self.stats.mounted()
        return mounted

    def push_blob(self, repository: str, blob: Blob, chunks: Iterable[bytes]) -> None:
        self.client.push_blob(repository, blob, self.stats.counted(chunks))

    def put_manifest(self, repository: str, tag: str, manifest: bytes, media_type: str, digest: str) -> None:
        self.client.put_manifest(repository, tag, manifest, media_type)
        self.stats.manifests_put += 1

    def latest_image(self, repository: str) -> tuple[bytes, bytes] | None:
        return None  # the registry API has no push times: which image came last is not known
