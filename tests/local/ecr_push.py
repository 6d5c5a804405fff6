"""Images pushed through the ECR API with plain boto3: a small config and one gzip layer, real sha256 digests."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(ecr: Any, repository: str, parts: Iterator[bytes], digest: str) -> dict[str, Any]:
    """InitiateLayerUpload, one UploadLayerPart per part, CompleteLayerUpload with `digest`."""
    upload = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
    first = 0
    for part in parts:
        ecr.upload_layer_part(
            repositoryName=repository,
            uploadId=upload,
            partFirstByte=first,
            partLastByte=first + len(part) - 1,
            layerPartBlob=part,
        )
        first += len(part)
    answer: dict[str, Any] = ecr.complete_layer_upload(
        repositoryName=repository, uploadId=upload, layerDigests=[digest]
    )
    return answer


@dataclass(frozen=True)
class Image:
    layer: bytes
    config: bytes
    manifest: str  # as pushed: indented, so a re-serialised copy would not match

    @property
    def digest(self) -> str:
        return digest_of(self.manifest.encode())


def build_image(greeting: str, tar: bytes | None = None, gzipped: bool = True) -> Image:
    """A one-file gzip layer (or `tar` gzipped, whatever it holds; the tar itself when not
    `gzipped`) and its OCI config and manifest."""
    if tar is None:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            content = f"#!/bin/sh\necho {greeting}\n".encode()
            entry = tarfile.TarInfo("hello.sh")
            entry.size, entry.mode, entry.mtime = len(content), 0o755, 0
            archive.addfile(entry, io.BytesIO(content))
        tar = buffer.getvalue()
    layer = gzip.compress(tar, mtime=0) if gzipped else tar
    layer_type = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gzipped else "")
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": ["/hello.sh"]},
            "rootfs": {"type": "layers", "diff_ids": [digest_of(tar)]},
        }
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest_of(config),
            "size": len(config),
        },
        "layers": [{"mediaType": layer_type, "digest": digest_of(layer), "size": len(layer)}],
    }
    return Image(layer, config, json.dumps(manifest, indent=3))


def push_image(ecr: Any, repository: str, image: Image, tag: str) -> dict[str, Any]:
    for blob in (image.layer, image.config):
        push_blob(ecr, repository, iter([blob]), digest_of(blob))
    answer: dict[str, Any] = ecr.put_image(
        repositoryName=repository,
        imageManifest=image.manifest,
        imageManifestMediaType=OCI_MANIFEST,
        imageTag=tag,
        imageDigest=image.digest,
    )
    return answer
