"""Reading a base image: from a registry (through a mirror for Docker Hub) or from an archive."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from faas_supervisor.image.archive import open_archive
from faas_supervisor.image.errors import ImageError
from faas_supervisor.image.oci import parse_json
from faas_supervisor.image.platform import check_platform, pick_manifest
from faas_supervisor.image.reference import endpoint
from faas_supervisor.image.registry import Manifest, RegistryClient
from faas_supervisor.image.source import (
    ArchiveSource,
    BlobLocation,
    ImageSource,
    RegistrySource,
    SourceImage,
    manifest_kind,
    manifest_parts,
    read_config,
)


@contextmanager
def read_image(source: ImageSource, architecture: str) -> Iterator[SourceImage]:
    """The single-platform image of `source` for `architecture` ("x86_64" or "arm64").

    An archive's temporary files (its gzipped layers) last until the context ends.
    """
    if isinstance(source, ArchiveSource):
        with open_archive(source.path, architecture) as image:
            yield image
    else:
        yield registry_image(source, architecture)


def registry_image(source: RegistrySource, architecture: str) -> SourceImage:
    reference, name = source.reference, str(source.reference)
    client = RegistryClient(endpoint(reference, source.mirror), source.credentials)
    manifest = _single_platform(client, reference.repository, reference.version, architecture, name)
    document = parse_json(manifest.data, f"{name}: the manifest")
    config_blob, layers = manifest_parts(document, name)
    config_data = b"".join(client.blob_chunks(reference.repository, config_blob))
    config = read_config(config_data, name, len(layers))
    check_platform(config, architecture, name)
    return SourceImage(
        name=name,
        manifest=document,
        media_type=manifest.media_type,
        config=config,
        layers=layers,
        location=BlobLocation(client.base_url, reference.repository),
        read_blob=lambda blob: client.blob_chunks(reference.repository, blob),
    )


def _single_platform(client: RegistryClient, repository: str, version: str, architecture: str, name: str) -> Manifest:
    manifest = client.get_manifest(repository, version)
    if manifest_kind(manifest.media_type, name) == "manifest":
        return manifest
    chosen = pick_manifest(parse_json(manifest.data, f"{name}: the index"), architecture, name)
    manifest = client.get_manifest(repository, chosen.digest)
    if manifest_kind(manifest.media_type, name) != "manifest":
        raise ImageError(f"{name}: the index entry {chosen.digest} is not an image manifest")
    return manifest
