"""Media types, blob descriptors, digests and canonical JSON (OCI image spec, Docker schema 2)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any

from faas_supervisor.image.errors import DigestMismatch, ImageError

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

MANIFESTS = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEXES = (DOCKER_MANIFEST_LIST, OCI_INDEX)
# Types a layer of each manifest family gets: (config, gzip layer).
FAMILY = {DOCKER_MANIFEST: (DOCKER_CONFIG, DOCKER_LAYER_GZIP), OCI_MANIFEST: (OCI_CONFIG, OCI_LAYER_GZIP)}

CHUNK = 1024 * 1024
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Blob:
    """What a manifest says of a blob: enough to fetch, verify and reference it."""

    digest: str
    size: int
    media_type: str

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(value: object) -> bool:
    """Whether `value` is a sha256 digest; the only algorithm registries and Lambda use."""
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


def checked_digest(value: object, what: str) -> str:
    """`value` if it is a sha256 digest."""
    if not isinstance(value, str) or not is_digest(value):
        raise ImageError(f"{what}: {value!r} is not a sha256 digest (sha256:<64 lowercase hex digits>)")
    return value


def blob_of(descriptor: object, what: str) -> Blob:
    """A descriptor from a manifest or index, validated (it may come from an untrusted image)."""
    if not isinstance(descriptor, dict):
        raise ImageError(f"{what}: a descriptor must be a JSON object")
    size, media_type = descriptor.get("size"), descriptor.get("mediaType", "")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ImageError(f"{what}: size must be a non-negative integer, got {size!r}")
    if not isinstance(media_type, str):
        raise ImageError(f"{what}: mediaType must be a string")
    return Blob(checked_digest(descriptor.get("digest"), what), size, media_type)


def canonical_json(document: object) -> bytes:
    """Sorted keys, no spaces, ASCII: the same document always gives the same bytes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def parse_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError) as error:
        raise ImageError(f"{what} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise ImageError(f"{what} is not a JSON object")
    return document


def verified(chunks: Iterable[bytes], blob: Blob, where: str) -> Generator[bytes, None, None]:
    """`chunks`, passed on while their size and sha256 are checked against `blob`.

    The error comes before the last chunk is passed on, so a destination never completes an
    upload of wrong content; a stream longer than announced is cut as soon as it overflows.
    """
    digest, received, pending = hashlib.sha256(), 0, b""
    for chunk in chunks:
        received += len(chunk)
        if received > blob.size:
            raise DigestMismatch(f"{where}: blob {blob.digest} is larger than its announced {blob.size} bytes")
        digest.update(chunk)
        if pending:
            yield pending
        pending = chunk
    actual = "sha256:" + digest.hexdigest()
    if received != blob.size or actual != blob.digest:
        raise DigestMismatch(
            f"{where}: blob {blob.digest} ({blob.size} bytes) has content {actual} ({received} bytes); refused"
        )
    if pending:
        yield pending
