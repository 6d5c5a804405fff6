"""Archives as sources: `docker save` and OCI layout tars give the image the registry gives (but its base record)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from faas_supervisor.image import (
    ArchiveError,
    ArchiveSource,
    AssembledImage,
    DigestMismatch,
    ImageError,
    ImageSource,
    LayerEntry,
    PlatformNotFound,
    RegistryClient,
    RegistryDestination,
    RegistrySource,
    assemble,
    build_layer,
    read_image,
)
from faas_supervisor.image.base_record import LABELS
from faas_supervisor.image.oci import DOCKER_MANIFEST, OCI_MANIFEST

from tests.helpers import LocalRegistry
from tests.supervisor.image_builders import BaseImages, write_docker_save, write_oci_layout

ENTRYPOINT = ["/opt/faas-render/bin/faas-supervisor"]
OURS = [build_layer([LayerEntry(ENTRYPOINT[0], b"supervisor", 0o755)])]


def pulled(reference: str) -> tuple[dict[str, Any], list[bytes]]:
    """The config and the layer blobs of a pushed image, as the registry serves them."""
    with read_image(RegistrySource.parse(reference), "x86_64") as image:
        return image.config, [b"".join(image.read_blob(blob)) for blob in image.layer_blobs]


def build(source: ImageSource, registry: LocalRegistry, architecture: str = "x86_64") -> AssembledImage:
    destination = RegistryDestination(registry.host)
    return assemble(source, destination, f"fn/{uuid.uuid4().hex[:8]}", "v1", architecture, OURS, ENTRYPOINT, {"A": "1"})


def stored_config(registry: LocalRegistry, image: AssembledImage) -> dict[str, Any]:
    with read_image(RegistrySource.parse(f"{registry.host}/{image.repository}@{image.digest}"), "x86_64") as copy:
        return copy.config


@pytest.mark.parametrize(
    ("tag", "write"),
    [
        ("docker", lambda path, config, layers: write_docker_save(path, config, layers, "base:1")),
        ("oci", lambda path, config, layers: write_oci_layout(path, config, layers)),
        ("oci", lambda path, config, layers: write_oci_layout(path, config, layers, compressed=False)),
    ],
    ids=["docker-save", "oci-layout", "oci-layout-uncompressed"],
)
def test_an_archive_gives_the_same_image_as_the_registry(
    registry: LocalRegistry, base_images: BaseImages, tmp_path: Path, tag: str, write: Any
) -> None:
    config, layers = pulled(base_images.ref(tag))
    archive = tmp_path / "image.tar"
    write(archive, config, layers)
    from_registry = build(RegistrySource.parse(base_images.ref(tag)), registry)
    from_archive = build(ArchiveSource(archive), registry)
    assert from_archive.media_type == (DOCKER_MANIFEST if tag == "docker" else OCI_MANIFEST)
    # The same config, but for what the registry build records of its base (the tag's digest): an
    # archive has no tag to resolve again.
    registry_config = stored_config(registry, from_registry)
    assert sorted(registry_config["config"].pop("Labels")) == sorted(LABELS)
    assert stored_config(registry, from_archive) == registry_config
    # Plain layers are gzipped as the base's were (same deterministic gzip): the same layer digests.
    assert json.loads(from_archive.manifest)["layers"] == json.loads(from_registry.manifest)["layers"]


def test_a_gzipped_docker_save_is_read_and_its_scratch_files_removed(
    registry: LocalRegistry, base_images: BaseImages, tmp_path: Path
) -> None:
    config, layers = pulled(base_images.ref("docker"))
    plain = tmp_path / "image.tar"
    write_docker_save(plain, config, layers, "base:1")
    packed = tmp_path / "image.tar.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    before = set(Path(tempfile.gettempdir()).glob("faas-image-*"))
    image = build(ArchiveSource(packed), registry)
    assert image.digest == build(ArchiveSource(plain), registry).digest
    assert set(Path(tempfile.gettempdir()).glob("faas-image-*")) == before


def test_an_archive_of_another_architecture_is_refused(
    registry: LocalRegistry, base_images: BaseImages, tmp_path: Path
) -> None:
    config, layers = pulled(base_images.ref("oci"))
    write_oci_layout(tmp_path / "image.tar", config, layers)
    with pytest.raises(PlatformNotFound, match="is a linux/amd64 image, not linux/arm64"):
        build(ArchiveSource(tmp_path / "image.tar"), registry, "arm64")


def test_a_plain_layer_that_does_not_match_its_diff_id_is_refused(
    registry: LocalRegistry, base_images: BaseImages, tmp_path: Path
) -> None:
    config, layers = pulled(base_images.ref("docker"))
    config["rootfs"]["diff_ids"][1] = "sha256:" + "0" * 64
    write_docker_save(tmp_path / "image.tar", config, layers, "base:1")
    with pytest.raises(ArchiveError, match="1/layer.tar has content sha256:.*its config says sha256:0000"):
        build(ArchiveSource(tmp_path / "image.tar"), registry)


def test_a_blob_of_an_oci_layout_that_does_not_match_its_name_is_refused(
    registry: LocalRegistry, base_images: BaseImages, tmp_path: Path
) -> None:
    config, layers = pulled(base_images.ref("oci"))
    tampered = layers[0][:-1] + bytes([layers[0][-1] ^ 1])
    write_oci_layout(tmp_path / "image.tar", config, [layers[0], layers[1]])
    _replace_member(tmp_path / "image.tar", layers[0], tampered)
    repository = f"fn/{uuid.uuid4().hex[:8]}"
    with pytest.raises(DigestMismatch, match="has content sha256:"):
        assemble(
            ArchiveSource(tmp_path / "image.tar"),
            RegistryDestination(registry.host),
            repository,
            "v1",
            "x86_64",
            OURS,
            ENTRYPOINT,
            {},
        )
    client = RegistryClient(registry.url)
    assert not client.has_blob(repository, "sha256:" + hashlib.sha256(tampered).hexdigest())


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"hello.txt": b"hi"}, "neither an OCI image layout"),
        ({"manifest.json": b"[]"}, "exactly one image"),
        ({"manifest.json": b"{"}, "not valid JSON"),
        ({"manifest.json": b'[{"Config": "c.json", "Layers": []}]'}, "c.json is missing"),
        (
            {"oci-layout": b"{}", "index.json": b'{"manifests": [{"digest": "sha256:../../x", "size": 1}]}'},
            "is not a sha256 digest",
        ),
    ],
)
def test_malformed_archives_are_refused(tmp_path: Path, files: dict[str, bytes], message: str) -> None:
    path = tmp_path / "bad.tar"
    with tarfile.open(path, "w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with pytest.raises(ImageError, match=message), read_image(ArchiveSource(path), "x86_64"):
        pass


def _replace_member(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert data.count(old) == 1
    path.write_bytes(data.replace(old, new))
