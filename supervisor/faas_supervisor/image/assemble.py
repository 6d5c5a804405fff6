"""Assembling a function's image: a base image plus our layers, pushed blob by missing blob."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass

from faas_supervisor.image.derive import derive_config, derive_manifest
from faas_supervisor.image.destination import Destination, TransferStats
from faas_supervisor.image.errors import ImageError
from faas_supervisor.image.layer import Layer
from faas_supervisor.image.oci import Blob, canonical_json, sha256_digest
from faas_supervisor.image.platform import oci_architecture
from faas_supervisor.image.pull import read_image
from faas_supervisor.image.source import ImageSource, SourceImage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AssembledImage:
    """The pushed image: `digest` is the sha256 of `manifest`, the exact bytes pushed."""

    repository: str
    tag: str
    digest: str
    media_type: str
    manifest: bytes
    config_digest: str
    stats: TransferStats


def assemble(
    source: ImageSource,
    destination: Destination,
    repository: str,
    tag: str,
    architecture: str,
    layers: Sequence[Layer],
    entrypoint: Sequence[str],
    env: Mapping[str, str],
    working_dir: str | None = None,
) -> AssembledImage:
    """Push `source` + `layers` to `destination` as `repository:tag`, a single-platform image.

    Only the blobs the destination lacks are sent, streamed from the source in constant memory;
    the same inputs always give the same digest.
    """
    oci_architecture(architecture)
    if not entrypoint:
        raise ImageError("the image needs an entry point")
    with read_image(source, architecture) as base:
        config = canonical_json(derive_config(base.config, layers, entrypoint, env, working_dir))
        manifest, config_blob, new_blobs = derive_manifest(base.manifest, base.media_type, config, base.layers, layers)
        digest = sha256_digest(manifest)
        ours = {layer.digest: layer.blob for layer in layers} | {config_blob.digest: config}
        wanted = {blob.digest: blob for blob in [*base.layer_blobs, *new_blobs, config_blob]}
        for blob in destination.missing_blobs(repository, list(wanted.values())):
            _send(blob, ours.get(blob.digest), base, destination, repository)
        destination.put_manifest(repository, tag, manifest, base.media_type, digest)
    log.info("image %s:%s is %s (base %s, %d layers of ours)", repository, tag, digest, base.name, len(layers))
    return AssembledImage(repository, tag, digest, base.media_type, manifest, config_blob.digest, destination.stats)


def _send(blob: Blob, content: bytes | None, base: SourceImage, destination: Destination, repository: str) -> None:
    if content is not None:
        destination.push_blob(repository, blob, [content])
    elif not (base.location and destination.mount_blob(repository, blob, base.location)):
        with closing(base.read_blob(blob)) as chunks:
            destination.push_blob(repository, blob, chunks)
