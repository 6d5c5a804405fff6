"""Assembling images in a real registry: platform picked, layers appended, command moved, only missing blobs sent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from faas_supervisor.image import (
    AssembledImage,
    Layer,
    LayerEntry,
    RegistryClient,
    RegistryDestination,
    RegistrySource,
    assemble,
    build_layer,
    read_image,
)
from faas_supervisor.image.oci import DOCKER_MANIFEST, OCI_MANIFEST, blob_of, sha256_digest

from tests.helpers import LocalRegistry
from tests.supervisor.image_builders import BASE_CMD, BASE_ENTRYPOINT, BaseImages, image_layers

SUPERVISOR = "/opt/faas-render/bin/faas-supervisor"
# A payload that does not compress, so byte counts show what was sent.
SUPERVISOR_BYTES = os.urandom(256 * 1024)


def supervisor_layer() -> Layer:
    return build_layer([LayerEntry(SUPERVISOR, SUPERVISOR_BYTES, 0o755)], "supervisor")


def top_layer(script: str) -> Layer:
    return build_layer([LayerEntry("/opt/faas-render/task/script.sh", script.encode(), 0o755)], "script")


def build(
    source: str,
    destination: RegistryDestination,
    repository: str,
    architecture: str = "x86_64",
    script: str = "echo 1",
    **options: Any,
) -> AssembledImage:
    return assemble(
        RegistrySource.parse(source),
        destination,
        repository,
        "latest",
        architecture,
        [supervisor_layer(), top_layer(script)],
        [SUPERVISOR],
        options.pop("env", {"LANG": "C.UTF-8", "FAAS_FUNCTION": "hello"}),
        **options,
    )


def stored(registry: LocalRegistry, repository: str, version: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Manifest, config and media type as the registry serves them."""
    client = RegistryClient(registry.url)
    manifest = client.get_manifest(repository, version)
    document = json.loads(manifest.data)
    config = json.loads(b"".join(client.blob_chunks(repository, blob_of(document["config"], "config"))))
    return document, config, manifest.media_type


@pytest.mark.parametrize(
    ("tag", "architecture", "family", "platform"),
    [
        ("docker", "x86_64", DOCKER_MANIFEST, "amd64"),
        ("oci", "x86_64", OCI_MANIFEST, "amd64"),
        ("multi-oci", "x86_64", OCI_MANIFEST, "amd64"),
        ("multi-oci", "arm64", OCI_MANIFEST, "arm64"),
        ("multi-docker", "x86_64", DOCKER_MANIFEST, "amd64"),
        ("multi-docker", "arm64", DOCKER_MANIFEST, "arm64"),
    ],
)
def test_the_image_is_the_base_of_the_architecture_plus_our_layers(
    registry: LocalRegistry, base_images: BaseImages, tag: str, architecture: str, family: str, platform: str
) -> None:
    repository = f"fn/{uuid.uuid4().hex[:8]}"
    image = build(base_images.ref(tag), RegistryDestination(registry.host), repository, architecture)
    manifest, config, media_type = stored(registry, repository, "latest")
    assert media_type == family == image.media_type
    assert (
        image.digest
        == sha256_digest(image.manifest)
        == RegistryClient(registry.url).get_manifest(repository, "latest").digest
    )
    ours = [supervisor_layer(), top_layer("echo 1")]
    assert [x["digest"] for x in manifest["layers"]] == [x.digest for x in [*image_layers(platform), *ours]]
    assert config["architecture"] == platform
    assert config["rootfs"]["diff_ids"] == [x.diff_id for x in [*image_layers(platform), *ours]]
    assert [h["created_by"] for h in config["history"]][-2:] == ["supervisor", "script"]
    run = config["config"]
    assert run["Entrypoint"] == [SUPERVISOR]
    assert run["Cmd"] == BASE_ENTRYPOINT + BASE_CMD
    assert run["Env"] == ["PATH=/usr/bin:/bin", "LANG=C.UTF-8", "FAAS_FUNCTION=hello"]
    assert run["WorkingDir"] == "/"


def test_working_dir_and_an_image_without_command(registry: LocalRegistry, base_images: BaseImages) -> None:
    repository = f"fn/{uuid.uuid4().hex[:8]}"
    build(base_images.ref("oci"), RegistryDestination(registry.host), repository, working_dir="/tmp", env={})
    # The assembled image is a base like any other: its command is now the supervisor's.
    again = f"fn/{uuid.uuid4().hex[:8]}"
    build(f"{registry.host}/{repository}:latest", RegistryDestination(registry.host), again)
    _, config, _ = stored(registry, again, "latest")
    assert config["config"]["WorkingDir"] == "/tmp"
    assert config["config"]["Cmd"] == [SUPERVISOR, *BASE_ENTRYPOINT, *BASE_CMD]


def test_two_builds_give_one_digest_and_the_second_sends_no_blob(
    other_registry: LocalRegistry, base_images: BaseImages
) -> None:
    repository = f"fn/{uuid.uuid4().hex[:8]}"
    cold = build(base_images.ref("multi-oci"), RegistryDestination(other_registry.host), repository)
    rebuild = build(base_images.ref("multi-oci"), RegistryDestination(other_registry.host), repository)
    assert rebuild.digest == cold.digest
    assert cold.stats.blobs_sent == 5 and cold.stats.bytes_sent > len(SUPERVISOR_BYTES)  # 2 base + 2 ours + config
    assert (rebuild.stats.blobs_sent, rebuild.stats.bytes_sent, rebuild.stats.blobs_skipped) == (0, 0, 5)
    changed = build(base_images.ref("multi-oci"), RegistryDestination(other_registry.host), repository, script="echo 2")
    assert changed.digest != cold.digest
    assert changed.stats.blobs_sent == 2  # the new top layer and the new config
    assert changed.stats.bytes_sent < 100_000
    print(
        f"\nbytes sent: cold {cold.stats.bytes_sent}, rebuild {rebuild.stats.bytes_sent}, top layer changed {changed.stats.bytes_sent}"
    )


def test_base_blobs_are_mounted_within_one_registry(registry: LocalRegistry, base_images: BaseImages) -> None:
    image = build(base_images.ref("docker"), RegistryDestination(registry.host), f"fn/{uuid.uuid4().hex[:8]}")
    assert image.stats.blobs_mounted == 2
    assert image.stats.bytes_sent < len(SUPERVISOR_BYTES) + 10_000  # our layers and config only


def test_read_image_streams_the_layers_of_the_assembled_image(registry: LocalRegistry, base_images: BaseImages) -> None:
    repository = f"fn/{uuid.uuid4().hex[:8]}"
    build(base_images.ref("multi-docker"), RegistryDestination(registry.host), repository, "arm64")
    with read_image(RegistrySource.parse(f"{registry.host}/{repository}"), "arm64") as image:
        assert image.config["architecture"] == "arm64"
        files: dict[str, bytes] = {}
        for blob in image.layer_blobs:
            with image.open_layer(blob) as stream, tarfile.open(fileobj=stream, mode="r|*") as layer:
                for member in layer:
                    reader = layer.extractfile(member) if member.isfile() else None
                    files[member.name] = reader.read() if reader else b""
    assert files["etc/architecture"] == b"arm64"
    assert files[SUPERVISOR.lstrip("/")] == SUPERVISOR_BYTES
    assert files["bin/busybox"] == Path("/bin/busybox").read_bytes()


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_skopeo_copies_the_assembled_image_and_checks_every_digest(
    registry: LocalRegistry, base_images: BaseImages, tmp_path: Path
) -> None:
    repository = f"fn/{uuid.uuid4().hex[:8]}"
    image = build(base_images.ref("multi-oci"), RegistryDestination(registry.host), repository)
    source = f"docker://{registry.host}/{repository}:latest"
    subprocess.run(
        ["skopeo", "copy", "--src-tls-verify=false", source, f"oci:{tmp_path}/copy:x"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    inspected = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", source], check=True, capture_output=True, text=True, timeout=60
    )
    facts = json.loads(inspected.stdout)
    assert (facts["Digest"], facts["Architecture"], facts["Os"]) == (image.digest, "amd64", "linux")
