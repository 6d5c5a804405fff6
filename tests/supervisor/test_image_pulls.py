"""Docker Hub's pull limit: what a build asks of the base's registry, counted at a real registry.

Docker Hub counts a manifest GET as a pull and a HEAD as none. The base sits in the real test
registry behind the loopback front of test_image_transient, which records every request; the
images go to the emulator's ECR, as the builder's do.
"""

from __future__ import annotations

import json
import uuid

from faas_supervisor.image import (
    EcrDestination,
    Layer,
    LayerEntry,
    RegistryClient,
    RegistryDestination,
    RegistrySource,
    assemble,
    build_layer,
)
from faas_supervisor.image.base_record import BASE_CONFIG, BASE_DIGEST
from faas_supervisor.image.derive import derive_config
from faas_supervisor.image.oci import OCI_INDEX, OCI_MANIFEST

from tests.helpers import LocalRegistry
from tests.supervisor.conftest import Aws
from tests.supervisor.image_builders import (
    AMD64,
    ARM64,
    base_config,
    image_layers,
    marker_layer,
    push_image,
    push_index,
)
from tests.supervisor.test_image_builder import read_back
from tests.supervisor.test_image_faults import ENTRYPOINT
from tests.supervisor.test_image_transient import faulty_front

SUPERVISOR = build_layer([LayerEntry(ENTRYPOINT[0], b"supervisor", 0o755)], "supervisor")


def ours(script: bytes) -> list[Layer]:
    return [SUPERVISOR, build_layer([LayerEntry("/var/task/script.sh", script, 0o755)], "function")]


def push_base(registry: LocalRegistry, repository: str, extra: list[Layer]) -> str:
    """An amd64 + arm64 index at `repository:v1` (busybox, a marker, then `extra` layers); its digest."""
    client, entries = RegistryClient(registry.url), []
    for architecture, platform in (("amd64", AMD64), ("arm64", ARM64)):
        layers = [*image_layers(architecture), *extra]
        config = base_config(architecture, layers, platform.get("variant"))
        entries.append((push_image(client, repository, "v1", layers, config, OCI_MANIFEST), platform))
    return push_index(client, repository, "v1", entries, OCI_INDEX)


def manifest_requests(seen: list[str], method: str) -> list[str]:
    return [request for request in seen if request.startswith(f"{method} ") and "/manifests/" in request]


def test_a_rebuild_on_an_unchanged_base_gets_no_manifest(registry: LocalRegistry, aws: Aws) -> None:
    base_repository = f"moving/{uuid.uuid4().hex[:8]}"
    first_base = push_base(registry, base_repository, [])
    ecr = aws.client("ecr")
    repository, fresh = f"fn/{uuid.uuid4().hex[:8]}", f"fn/{uuid.uuid4().hex[:8]}"
    for name in (repository, fresh):
        ecr.create_repository(repositoryName=name)

    def build(script: bytes, into: str = repository) -> tuple[str, list[str]]:
        """The image's digest, and the requests the base's registry received."""
        with faulty_front(registry, []) as (front, faults):
            source = RegistrySource.parse(f"{front}/{base_repository}:v1")
            image = assemble(source, EcrDestination(ecr), into, "t", "x86_64", ours(script), ENTRYPOINT, {})
        return image.digest, faults.seen

    first, seen = build(b"echo one")
    assert len(manifest_requests(seen, "GET")) == 2  # the index, then the amd64 manifest: one pull
    assert read_back(aws, repository, first)[1]["config"]["Labels"][BASE_DIGEST] == first_base

    # Only the script changed: the tag is resolved with a HEAD, the base taken from the previous image.
    second, seen = build(b"echo two")
    assert manifest_requests(seen, "GET") == []
    assert manifest_requests(seen, "HEAD") == [f"HEAD /v2/{base_repository}/manifests/v1"]
    assert second != first
    # What the record gave is the base itself: reading it whole gives the very same image.
    again, seen = build(b"echo two", fresh)
    assert again == second and len(manifest_requests(seen, "GET")) == 2

    # The upstream tag moves: the HEAD answers another digest, so the base is read again.
    moved_base = push_base(registry, base_repository, [marker_layer("moved")])
    third, seen = build(b"echo two")
    assert len(manifest_requests(seen, "GET")) == 2
    assert third not in (first, second)
    manifest, config = read_back(aws, repository, third)
    assert config["config"]["Labels"][BASE_DIGEST] == moved_base != first_base
    assert [layer["digest"] for layer in manifest["layers"][:3]] == [
        layer.digest for layer in [*image_layers("amd64"), marker_layer("moved")]
    ]
    assert json.loads(config["config"]["Labels"][BASE_CONFIG])["size"] > 0


def test_blobs_are_copied_in_parallel(registry: LocalRegistry) -> None:
    base_repository = f"parallel/{uuid.uuid4().hex[:8]}"
    push_base(registry, base_repository, [])
    layers = {layer.digest for layer in image_layers("amd64")}
    destination = RegistryDestination(registry.host)
    with faulty_front(registry, [], together=layers) as (front, faults):
        source = RegistrySource.parse(f"{front}/{base_repository}:v1")
        assemble(source, destination, f"fn/{uuid.uuid4().hex[:8]}", "t", "x86_64", ours(b"x"), ENTRYPOINT, {})
    # The front held both base layers' GETs at once: a copy one blob at a time would have sent one.
    assert faults.most_together == len(layers) == 2
    assert destination.stats.blobs_sent == 5  # the two base layers, our two, the config


def test_a_base_record_is_never_inherited() -> None:
    """A base built here carries its own base's record: the image built on it records its own base, or nothing."""
    inherited = {BASE_DIGEST: "sha256:" + "1" * 64, BASE_CONFIG: "{}", "maintainer": "someone"}
    base = {**base_config("amd64", image_layers("amd64")), "config": {"Labels": inherited}}
    assert derive_config(base, [], ENTRYPOINT, {}, None)["config"]["Labels"] == {"maintainer": "someone"}
    ours = {BASE_DIGEST: "sha256:" + "2" * 64, BASE_CONFIG: '{"digest":"sha256:...","size":1}'}
    assert derive_config(base, [], ENTRYPOINT, {}, None, ours)["config"]["Labels"] == {**ours, "maintainer": "someone"}
