"""Reading a base image: from a registry (through a mirror for Docker Hub) or from an archive."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from faas_supervisor.image.archive import open_archive
from faas_supervisor.image.base_record import RecordedBase, base_labels
from faas_supervisor.image.errors import ImageError
from faas_supervisor.image.oci import parse_json
from faas_supervisor.image.platform import check_platform, oci_architecture, pick_manifest
from faas_supervisor.image.reference import endpoint
from faas_supervisor.image.registry import Manifest, RegistryClient
from faas_supervisor.image.source import (
    ArchiveSource,
    BlobLocation,
    ImageSource,
    RegistrySource,
    SourceImage,
    diff_ids,
    manifest_kind,
    manifest_parts,
    read_config,
)

log = logging.getLogger(__name__)


@contextmanager
def read_image(source: ImageSource, architecture: str, previous: RecordedBase | None = None) -> Iterator[SourceImage]:
    """The single-platform image of `source` for `architecture` ("x86_64" or "arm64").

    An archive's temporary files (its gzipped layers) last until the context ends. `previous`
    is what the destination's previous image records of its base (base_record).
    """
    if isinstance(source, ArchiveSource):
        with open_archive(source.path, architecture) as image:
            yield image
    else:
        yield registry_image(source, architecture, previous)


def registry_image(source: RegistrySource, architecture: str, previous: RecordedBase | None = None) -> SourceImage:
    """The image, its tag resolved with a HEAD; its manifest not fetched when `previous` recorded that digest."""
    reference, name = source.reference, str(source.reference)
    base_url, repository = endpoint(reference, source.mirror)
    client = RegistryClient(base_url, source.credentials)
    resolved = reference.digest or client.manifest_digest(repository, reference.version)
    if previous is not None and previous.digest == resolved:
        image = _recorded_image(client, repository, previous, architecture, name)
        if image is not None:
            return image
    top = client.get_manifest(repository, resolved or reference.version)
    manifest = _single_platform(client, top, repository, architecture, name)
    document = parse_json(manifest.data, f"{name}: the manifest")
    config_blob, layers = manifest_parts(document, name)
    config_data = b"".join(client.blob_chunks(repository, config_blob))
    config = read_config(config_data, name, len(layers))
    check_platform(config, architecture, name)
    labels = base_labels(top.digest, config_blob)
    return _image(client, repository, name, document, manifest.media_type, config, layers, labels)


def _recorded_image(
    client: RegistryClient, repository: str, previous: RecordedBase, architecture: str, name: str
) -> SourceImage | None:
    """The base the previous image was built on, from what it records: one blob GET, no manifest GET."""
    if previous.architecture != oci_architecture(architecture):
        return None
    config_data = b"".join(client.blob_chunks(repository, previous.config))
    config = parse_json(config_data, f"{name}: the image config")
    document = previous.base_manifest(diff_ids(config, name))
    if document is None:
        log.warning("%s: the previous image's layers do not begin with its recorded base's; read again", name)
        return None
    config_blob, layers = manifest_parts(document, name)
    check_platform(config, architecture, name)
    log.info("%s is still %s, the previous image's base: its manifest is not fetched again", name, previous.digest)
    labels = base_labels(previous.digest, config_blob)
    return _image(client, repository, name, document, document["mediaType"], config, layers, labels)


def _image(
    client: RegistryClient,
    repository: str,
    name: str,
    document: dict[str, Any],
    media_type: str,
    config: dict[str, Any],
    layers: list[dict[str, Any]],
    labels: dict[str, str],
) -> SourceImage:
    return SourceImage(
        name=name,
        manifest=document,
        media_type=media_type,
        config=config,
        layers=layers,
        location=BlobLocation(client.base_url, repository),
        read_blob=lambda blob: client.blob_chunks(repository, blob),
        labels=labels,
    )


def _single_platform(
    client: RegistryClient, manifest: Manifest, repository: str, architecture: str, name: str
) -> Manifest:
    if manifest_kind(manifest.media_type, name) == "manifest":
        return manifest
    chosen = pick_manifest(parse_json(manifest.data, f"{name}: the index"), architecture, name)
    manifest = client.get_manifest(repository, chosen.digest)
    if manifest_kind(manifest.media_type, name) != "manifest":
        raise ImageError(f"{name}: the index entry {chosen.digest} is not an image manifest")
    return manifest
