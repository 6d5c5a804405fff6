"""Assembling a function's image: a base image plus our layers, pushed blob by missing blob."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import closing
from dataclasses import dataclass

from faas_supervisor.image.base_record import recorded_base
from faas_supervisor.image.derive import derive_config, derive_manifest
from faas_supervisor.image.destination import Destination, TransferStats
from faas_supervisor.image.errors import ImageError
from faas_supervisor.image.layer import Layer
from faas_supervisor.image.layer_bounds import (
    BATCH_LIMITS,
    ImageBudget,
    LayerLimits,
    check_image_layers,
    checked_chunks,
)
from faas_supervisor.image.oci import Blob, canonical_json, sha256_digest
from faas_supervisor.image.platform import oci_architecture
from faas_supervisor.image.progress import CopyProgress
from faas_supervisor.image.pull import read_image
from faas_supervisor.image.source import ImageSource, RegistrySource, SourceImage

log = logging.getLogger(__name__)

COPY_WORKERS = 4  # blobs copied at once: each streams in constant memory


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
    for_lambda: bool = False,
) -> AssembledImage:
    """Push `source` + `layers` to `destination` as `repository:tag`, a single-platform image.

    Only the blobs the destination lacks are sent, streamed from the source in constant memory,
    COPY_WORKERS at a time from a registry; the same inputs always give the same digest. Each
    base layer sent is checked against layer_bounds as it streams (Lambda's bounds `for_lambda`,
    else Batch's), its last chunk held back until it passes, so a refused layer never completes
    its upload. A registry base whose tag still names what the destination's previous image
    records (base_record) is not fetched again.
    """
    oci_architecture(architecture)
    if not entrypoint:
        raise ImageError("the image needs an entry point")
    from_registry = isinstance(source, RegistrySource)
    previous = recorded_base(destination, repository) if from_registry else None
    with read_image(source, architecture, previous) as base:
        derived = derive_config(base.config, layers, entrypoint, env, working_dir, base.labels)
        config = canonical_json(derived)
        manifest, config_blob, new_blobs = derive_manifest(base.manifest, base.media_type, config, base.layers, layers)
        check_image_layers([*base.layer_blobs, *new_blobs], for_lambda, f"the image {repository}:{tag}")
        budget = ImageBudget(LayerLimits() if for_lambda else BATCH_LIMITS)
        digest = sha256_digest(manifest)
        ours = {layer.digest: layer.blob for layer in layers} | {config_blob.digest: config}
        wanted = {blob.digest: blob for blob in [*base.layer_blobs, *new_blobs, config_blob]}
        missing = destination.missing_blobs(repository, list(wanted.values()))
        progress = CopyProgress(missing)
        # An archive's blobs are members of one tar file: read one at a time.
        with ThreadPoolExecutor(COPY_WORKERS if from_registry else 1, "faas-copy") as copies:
            sent = {
                copies.submit(_send, blob, ours.get(blob.digest), base, destination, repository, budget): blob
                for blob in missing
            }
            try:
                for done in as_completed(sent):
                    done.result()
                    progress.copied(sent[done])
            except BaseException:
                for future in sent:
                    future.cancel()  # those not started; the ones under way finish, to be reused next time
                raise
        destination.put_manifest(repository, tag, manifest, base.media_type, digest)
    log.info("image %s:%s is %s (base %s, %d layers of ours)", repository, tag, digest, base.name, len(layers))
    return AssembledImage(repository, tag, digest, base.media_type, manifest, config_blob.digest, destination.stats)


def _send(
    blob: Blob, content: bytes | None, base: SourceImage, destination: Destination, repository: str, budget: ImageBudget
) -> None:
    if content is not None:
        destination.push_blob(repository, blob, [content])
    elif not (base.location and destination.mount_blob(repository, blob, base.location)):
        # a mounted blob stays in the registry it is in; one copied is read, and checked, here
        with closing(base.read_blob(blob)) as chunks:
            checked = checked_chunks(chunks, blob.size, budget, f"base layer {blob.digest}")
            destination.push_blob(repository, blob, checked)
