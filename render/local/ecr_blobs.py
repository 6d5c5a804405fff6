"""The bytes of what is pushed to the emulator's ECR, on disk: layer uploads in progress and blobs by digest.

A layer upload (InitiateLayerUpload, UploadLayerPart...) appends each part to a file as it arrives,
hashing as it goes, so memory stays constant whatever the layer's size; CompleteLayerUpload moves
the file to `sha256/HEX` under the store's folder, where every repository's blobs are kept once
(which repository holds which digest is moto's record). render/local/moto/ecr.py ties this to moto.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

from render.local.work_folders import remove_folder, work_folder

CHUNK = 1024 * 1024  # reads of a blob being served


def is_digest(text: str) -> bool:
    algorithm, _, hexdigest = text.partition(":")
    return algorithm == "sha256" and len(hexdigest) == 64 and all(c in "0123456789abcdef" for c in hexdigest)


class UploadedParts:
    """A layer upload's bytes so far, in a file; stands in for moto's in-memory `LayerUpload.layer_parts`.

    moto appends each part with `+=` and takes `len()` for the next expected byte: both are here.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._hash = hashlib.sha256()
        self._size = 0
        path.touch()

    def __iadd__(self, data: bytes) -> UploadedParts:
        with self.path.open("ab") as target:
            target.write(data)
        self._hash.update(data)
        self._size += len(data)
        return self

    def __len__(self) -> int:
        return self._size

    @property
    def digest(self) -> str:
        return f"sha256:{self._hash.hexdigest()}"


class BlobStore:
    """A temporary folder of blobs; `remove` deletes it and everything in it."""

    def __init__(self) -> None:
        self.root = work_folder("faas-local-ecr-")
        (self.root / "uploads").mkdir()
        (self.root / "sha256").mkdir()

    def new_upload(self) -> UploadedParts:
        return UploadedParts(self.root / "uploads" / uuid.uuid4().hex)

    def keep(self, parts: UploadedParts) -> str:
        """Make a finished upload a blob; its digest."""
        digest = parts.digest
        parts.path.replace(self.path(digest))
        return digest

    def discard(self, parts: UploadedParts) -> None:
        parts.path.unlink(missing_ok=True)

    def path(self, digest: str) -> Path:
        if not is_digest(digest):
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return self.root / "sha256" / digest.partition(":")[2]

    def has(self, digest: str) -> bool:
        return is_digest(digest) and self.path(digest).is_file()

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def read(self, digest: str) -> Iterator[bytes]:
        """The blob's bytes, a chunk at a time."""
        with self.path(digest).open("rb") as source:
            while chunk := source.read(CHUNK):
                yield chunk

    def remove(self) -> None:
        remove_folder(self.root)
