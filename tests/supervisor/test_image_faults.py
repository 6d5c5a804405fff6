"""What hostile or broken input ends in: content that lies about its digest, missing platforms, bad references, authentication."""

from __future__ import annotations

import logging
import os
import uuid

import pytest
from faas_supervisor.image import (
    Credentials,
    DigestMismatch,
    ImageError,
    InvalidReference,
    LayerEntry,
    PlatformNotFound,
    RegistryClient,
    RegistryDestination,
    RegistryError,
    RegistrySource,
    assemble,
    build_layer,
)
from faas_supervisor.image.oci import OCI_MANIFEST

from tests.helpers import LocalRegistry
from tests.supervisor.image_builders import BaseImages, base_config, busybox_layer, push_image
from tests.supervisor.registry_front import registry_front

ENTRYPOINT = ["/opt/faas-render/bin/faas-supervisor"]
OURS = [build_layer([LayerEntry(ENTRYPOINT[0], b"supervisor", 0o755)])]


def build(source: RegistrySource, destination: RegistryDestination, architecture: str = "x86_64") -> str:
    repository = f"fn/{uuid.uuid4().hex[:8]}"
    return assemble(source, destination, repository, "v1", architecture, OURS, ENTRYPOINT, {}).digest


def unique_image(registry: LocalRegistry) -> tuple[str, str, str]:
    """An image no other test shares: (reference, its own layer's digest, its manifest digest)."""
    repository = f"hostile/{uuid.uuid4().hex[:8]}"
    own = build_layer([LayerEntry("/etc/random", os.urandom(4096))])
    layers = [busybox_layer(), own]
    manifest = push_image(
        RegistryClient(registry.url), repository, "v1", layers, base_config("amd64", layers), OCI_MANIFEST
    )
    return f"{registry.host}/{repository}:v1", own.digest, manifest.digest


@pytest.mark.parametrize("change", ["same size", "longer"])
def test_a_blob_whose_content_does_not_match_its_digest_is_refused(
    registry: LocalRegistry, other_registry: LocalRegistry, change: str
) -> None:
    reference, layer_digest, _ = unique_image(registry)
    stored = registry.blob_file(layer_digest)
    data = stored.read_bytes()
    stored.write_bytes(data[:-1] + bytes([data[-1] ^ 1]) if change == "same size" else data + b"more")
    destination = RegistryDestination(other_registry.host)
    with pytest.raises(DigestMismatch, match=f"blob {layer_digest} .*refused|blob {layer_digest} is larger"):
        build(RegistrySource.parse(reference), destination)
    assert not RegistryClient(other_registry.url).has_blob("fn/any", layer_digest)


def test_a_manifest_that_does_not_match_the_digest_asked_for_is_refused(registry: LocalRegistry) -> None:
    reference, _, manifest_digest = unique_image(registry)
    stored = registry.blob_file(manifest_digest)
    stored.write_bytes(stored.read_bytes().replace(b'"schemaVersion":2', b'"schemaVersion": 2'))
    by_digest = reference.rsplit(":", 1)[0] + "@" + manifest_digest
    with pytest.raises(DigestMismatch, match=f"not {manifest_digest}; refused"):
        build(RegistrySource.parse(by_digest), RegistryDestination(registry.host))


def test_an_index_without_the_platform_names_the_available_ones(
    registry: LocalRegistry, base_images: BaseImages
) -> None:
    with pytest.raises(
        PlatformNotFound, match=r"has no linux/arm64 image \(for arm64\); available: linux/amd64, linux/arm/v7"
    ):
        build(RegistrySource.parse(base_images.ref("no-arm64")), RegistryDestination(registry.host), "arm64")


def test_a_single_platform_base_of_another_architecture_is_refused(
    registry: LocalRegistry, base_images: BaseImages
) -> None:
    with pytest.raises(PlatformNotFound, match="is a linux/amd64 image, not linux/arm64"):
        build(RegistrySource.parse(base_images.ref("docker")), RegistryDestination(registry.host), "arm64")


def test_malformed_references_and_unknown_architectures_are_refused(
    registry: LocalRegistry, base_images: BaseImages
) -> None:
    with pytest.raises(InvalidReference, match="repository names must be lowercase"):
        RegistrySource.parse(f"{registry.host}/Base/BusyBox:1")
    with pytest.raises(ImageError, match="unknown architecture 'amd64': expected x86_64 or arm64"):
        build(RegistrySource.parse(base_images.ref("docker")), RegistryDestination(registry.host), "amd64")


def test_an_unknown_image_names_the_registry_and_its_error(registry: LocalRegistry) -> None:
    with pytest.raises(
        RegistryError,
        match=r"manifests/v9 answered 404 Not Found: MANIFEST_UNKNOWN|answered 404 Not Found: NAME_UNKNOWN",
    ):
        build(RegistrySource.parse(f"{registry.host}/no/such:v9"), RegistryDestination(registry.host))


@pytest.mark.parametrize("credentials", [None, Credentials("user", "token-password")], ids=["anonymous", "credentials"])
def test_bearer_tokens_are_fetched_and_blob_redirects_get_no_authorization(
    registry: LocalRegistry, base_images: BaseImages, credentials: Credentials | None
) -> None:
    direct = build(RegistrySource.parse(base_images.ref("multi-oci")), RegistryDestination(registry.host))
    with registry_front(registry.host, "bearer") as front:
        reference = f"127.0.0.1:{front.port}/{base_images.repository}:multi-oci"
        assert (
            build(RegistrySource.parse(reference, credentials=credentials), RegistryDestination(registry.host))
            == direct
        )
    assert front.token_requests == [{"service": ["front"], "scope": [f"repository:{base_images.repository}:pull"]}]
    assert front.token_authorizations == [credentials.basic() if credentials else None]
    assert front.cdn_authorizations and set(front.cdn_authorizations) == {None}


def test_basic_credentials_go_to_the_registry_only_and_are_never_shown(
    registry: LocalRegistry, base_images: BaseImages, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "s3cret-" + uuid.uuid4().hex
    with registry_front(registry.host, "basic", password) as front:
        reference = f"127.0.0.1:{front.port}/{base_images.repository}:docker"
        with pytest.raises(RegistryError, match="requires credentials and none were given"):
            build(RegistrySource.parse(reference), RegistryDestination(registry.host))
        with pytest.raises(RegistryError, match="answered 401") as refused:
            build(
                RegistrySource.parse(reference, credentials=Credentials("user", "wrong-" + password)),
                RegistryDestination(registry.host),
            )
        credentials = Credentials("user", password)
        build(RegistrySource.parse(reference, credentials=credentials), RegistryDestination(registry.host))
    assert front.cdn_authorizations and set(front.cdn_authorizations) == {None}
    assert password not in str(refused.value) and password not in repr(credentials) and password not in caplog.text


def test_a_base_config_with_a_malformed_command_is_refused(registry: LocalRegistry) -> None:
    layers = [busybox_layer()]
    config = base_config("amd64", layers)
    config["config"]["Entrypoint"] = "/bin/sh -c"
    repository = f"hostile/{uuid.uuid4().hex[:8]}"
    push_image(RegistryClient(registry.url), repository, "v1", layers, config, OCI_MANIFEST)
    with pytest.raises(ImageError, match=r"config.Entrypoint must be a list of strings"):
        build(RegistrySource.parse(f"{registry.host}/{repository}:v1"), RegistryDestination(registry.host))
