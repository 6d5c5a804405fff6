"""Base images for the image tests, built here and pushed with the package's own client.

Each is a static busybox layer plus a one-file marker layer naming its architecture, with a
config whose Entrypoint/Cmd/Env are known, in Docker schema 2 and OCI media types, alone or
behind an index. The archive writers turn the same blobs into `docker save` and OCI layout tars.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from faas_supervisor.image import Layer, LayerEntry, RegistryClient, build_layer
from faas_supervisor.image.oci import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    FAMILY,
    OCI_INDEX,
    OCI_MANIFEST,
    Blob,
    canonical_json,
    sha256_digest,
)

from tests.helpers import LocalRegistry

BUSYBOX = Path("/bin/busybox")
BASE_ENTRYPOINT = ["/bin/sh", "-c"]
BASE_CMD = ["echo base image"]
BASE_ENV = ["PATH=/usr/bin:/bin", "LANG=C"]
CREATED = "2024-05-01T00:00:00Z"


@cache
def busybox_layer() -> Layer:
    if not BUSYBOX.is_file():
        pytest.skip("busybox-static is not installed (/bin/busybox)")
    entries = [
        LayerEntry("/bin/busybox", BUSYBOX.read_bytes(), 0o755),
        LayerEntry("/bin/sh", symlink="busybox"),
        LayerEntry("/bin/echo", symlink="busybox"),
    ]
    return build_layer(entries, "busybox")


@cache
def marker_layer(architecture: str) -> Layer:
    return build_layer([LayerEntry("/etc/architecture", architecture.encode())], f"marker {architecture}")


def base_config(architecture: str, layers: list[Layer], variant: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "architecture": architecture,
        "os": "linux",
        "created": CREATED,
        "config": {"Entrypoint": BASE_ENTRYPOINT, "Cmd": BASE_CMD, "Env": BASE_ENV, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": CREATED, "created_by": layer.comment} for layer in layers],
    }
    if variant:
        config["variant"] = variant
    return config


def image_layers(architecture: str) -> list[Layer]:
    return [busybox_layer(), marker_layer(architecture)]


def push_image(
    client: RegistryClient, repository: str, tag: str, layers: list[Layer], config: dict[str, Any], media_type: str
) -> Blob:
    """Push the blobs and the manifest; the manifest's descriptor."""
    config_type, layer_type = FAMILY[media_type]
    config_data = canonical_json(config)
    config_blob = Blob(sha256_digest(config_data), len(config_data), config_type)
    for data, blob in [(config_data, config_blob), *((x.blob, Blob(x.digest, x.size, layer_type)) for x in layers)]:
        if not client.has_blob(repository, blob.digest):
            client.push_blob(repository, blob, [data])
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config_blob.descriptor(),
        "layers": [Blob(x.digest, x.size, layer_type).descriptor() for x in layers],
    }
    data = canonical_json(manifest)
    return Blob(client.put_manifest(repository, tag, data, media_type), len(data), media_type)


def push_index(
    client: RegistryClient, repository: str, tag: str, entries: list[tuple[Blob, dict[str, str]]], media_type: str
) -> str:
    index = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [{**blob.descriptor(), "platform": platform} for blob, platform in entries],
    }
    return client.put_manifest(repository, tag, canonical_json(index), media_type)


@dataclass(frozen=True)
class BaseImages:
    """References of the pushed base images (all in repository `base/busybox`)."""

    host: str
    repository: str = "base/busybox"

    def ref(self, tag: str) -> str:
        return f"{self.host}/{self.repository}:{tag}"


AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}
ARM_V7 = {"os": "linux", "architecture": "arm", "variant": "v7"}


def push_base_images(registry: LocalRegistry) -> BaseImages:
    """Tags: docker, oci (amd64 only); multi-oci, multi-docker (amd64 + arm64); no-arm64 (amd64 + arm/v7)."""
    client, images = RegistryClient(registry.url), BaseImages(registry.host)
    pushed: dict[tuple[str, str], Blob] = {}
    for media_type, name in ((DOCKER_MANIFEST, "docker"), (OCI_MANIFEST, "oci")):
        for architecture, variant in (("amd64", None), ("arm64", "v8"), ("arm", "v7")):
            layers = image_layers(architecture)
            config = base_config(architecture, layers, variant)
            tag = name if architecture == "amd64" else f"{name}-{architecture}"
            pushed[name, architecture] = push_image(client, images.repository, tag, layers, config, media_type)
    for name, index_type in (("oci", OCI_INDEX), ("docker", DOCKER_MANIFEST_LIST)):
        entries = [(pushed[name, "amd64"], AMD64), (pushed[name, "arm64"], ARM64)]
        push_index(client, images.repository, f"multi-{name}", entries, index_type)
    push_index(
        client,
        images.repository,
        "no-arm64",
        [(pushed["oci", "amd64"], AMD64), (pushed["oci", "arm"], ARM_V7)],
        OCI_INDEX,
    )
    return images


def write_docker_save(path: Path, config: dict[str, Any], layers: list[bytes], tag: str) -> None:
    """A classic `docker save` tar of gzipped `layers`: manifest.json, <config id>.json, <n>/layer.tar (plain tars)."""
    config_data = canonical_json(config)
    config_name = sha256_digest(config_data).removeprefix("sha256:") + ".json"
    layer_names = [f"{n}/layer.tar" for n in range(len(layers))]
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": layer_names}]
    files = {"manifest.json": json.dumps(manifest).encode(), config_name: config_data}
    files |= {name: gzip.decompress(layer) for name, layer in zip(layer_names, layers, strict=True)}
    _write_tar(path, files)


def write_oci_layout(path: Path, config: dict[str, Any], layers: list[bytes], compressed: bool = True) -> None:
    """An OCI image layout tar; with `compressed=False` its layers are plain tars (media type .tar)."""
    config_type, layer_type = FAMILY[OCI_MANIFEST]
    config_data = canonical_json(config)
    blobs = {sha256_digest(config_data): config_data}
    descriptors = []
    for layer in layers:
        data = layer if compressed else gzip.decompress(layer)
        blobs[sha256_digest(data)] = data
        media_type = layer_type if compressed else layer_type.removesuffix("+gzip")
        descriptors.append(Blob(sha256_digest(data), len(data), media_type).descriptor())
    config_blob = Blob(sha256_digest(config_data), len(config_data), config_type)
    manifest = canonical_json(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_blob.descriptor(), "layers": descriptors}
    )
    blobs[sha256_digest(manifest)] = manifest
    index = {"schemaVersion": 2, "manifests": [Blob(sha256_digest(manifest), len(manifest), OCI_MANIFEST).descriptor()]}
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": json.dumps(index).encode()}
    files |= {f"blobs/sha256/{digest.removeprefix('sha256:')}": data for digest, data in blobs.items()}
    _write_tar(path, files)


def _write_tar(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def write_sparse_docker_save(path: Path, zeros: int) -> None:
    """A `docker save` tar whose one plain layer holds a file of `zeros` zero bytes: `zeros` bytes
    long, a few KiB on disk (the zeros are holes). Its config's diff_id is not the layer's."""
    inner = _header("big", zeros)
    inner_size = len(inner) + _blocks(zeros) + 2 * tarfile.BLOCKSIZE
    config = base_config("x86_64", [])
    config["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64]
    files = {
        "manifest.json": json.dumps([{"Config": "config.json", "RepoTags": ["big:1"], "Layers": ["0/layer.tar"]}]),
        "config.json": json.dumps(config),
    }
    with path.open("wb") as out:
        for name, text in files.items():
            data = text.encode()
            out.write(_header(name, len(data)) + data.ljust(_blocks(len(data)), b"\0"))
        out.write(_header("0/layer.tar", inner_size) + inner)
        out.seek(inner_size - len(inner) + 2 * tarfile.BLOCKSIZE, io.SEEK_CUR)  # the rest is zeros
        out.truncate()


def _header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode = size, 0o644
    return info.tobuf(format=tarfile.GNU_FORMAT)


def _blocks(size: int) -> int:
    return -(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
