"""Amazon ECR as the destination, through the ECR API, against the moto server.

moto keeps only the sizes of the layers it receives (it computes their digest from the parts,
then drops the bytes), so these tests check what ECR records: layer digests, the manifest and
the image digest.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from faas_supervisor.image import (
    AssembledImage,
    EcrDestination,
    Layer,
    LayerEntry,
    RegistryError,
    RegistrySource,
    assemble,
    build_layer,
)
from faas_supervisor.image.ecr import MAX_PART
from faas_supervisor.image.oci import OCI_MANIFEST

from tests.supervisor.conftest import Aws
from tests.supervisor.image_builders import BaseImages

ENTRYPOINT = ["/opt/faas-render/bin/faas-supervisor"]


def layers(script: str) -> list[Layer]:
    return [
        build_layer([LayerEntry(ENTRYPOINT[0], b"supervisor", 0o755)], "supervisor"),
        build_layer([LayerEntry("/opt/faas-render/task/script.sh", script.encode(), 0o755)], "script"),
    ]


def test_an_image_pushed_through_the_ecr_api_is_found_by_its_real_digest(aws: Aws, base_images: BaseImages) -> None:
    ecr = aws.client("ecr")
    repository = f"fn-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=repository)
    source = RegistrySource.parse(base_images.ref("multi-oci"))

    def push(script: str) -> AssembledImage:
        return assemble(source, EcrDestination(ecr), repository, "latest", "arm64", layers(script), ENTRYPOINT, {})

    cold = push("echo 1")
    described = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": "latest"}])["imageDetails"][0]
    assert described["imageDigest"] == cold.digest
    got = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageDigest": cold.digest}])["images"][0]
    assert got["imageManifest"].encode() == cold.manifest
    assert got["imageManifestMediaType"] == OCI_MANIFEST
    assert cold.stats.blobs_sent == 5  # two base layers, ours, the config
    rebuild = push("echo 1")
    assert (rebuild.digest, rebuild.stats.blobs_sent, rebuild.stats.bytes_sent) == (cold.digest, 0, 0)
    changed = push("echo 2")
    assert changed.stats.blobs_sent == 2 and changed.stats.bytes_sent < 100_000
    tags = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": "latest"}])["imageDetails"][0]
    assert tags["imageDigest"] == changed.digest


def test_a_layer_larger_than_a_part_is_sent_in_parts_in_order(aws: Aws, base_images: BaseImages) -> None:
    ecr = aws.client("ecr")
    repository = f"fn-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=repository)
    big = build_layer([LayerEntry("/opt/data.bin", os.urandom(2 * MAX_PART + 1024 * 1024))], "data")
    destination = EcrDestination(ecr)
    source = RegistrySource.parse(base_images.ref("docker"))
    parts: list[int] = []

    def record(params: dict[str, Any], **kwargs: Any) -> None:
        parts.append(len(params["layerPartBlob"]))

    ecr.meta.events.register("provide-client-params.ecr.UploadLayerPart", record)
    try:
        image = assemble(source, destination, repository, "v1", "x86_64", [big], ENTRYPOINT, {})
    finally:
        ecr.meta.events.unregister("provide-client-params.ecr.UploadLayerPart", record)
    assert big.size > 2 * MAX_PART
    # ECR's quota on a part is 10 MiB: every part but the last is exactly that.
    assert max(parts) == MAX_PART == 10 * 1024 * 1024 and sum(parts) >= big.size
    # ECR (and moto) compute the digest of the parts as received: a wrong order or gap would not match.
    found = ecr.batch_check_layer_availability(repositoryName=repository, layerDigests=[big.digest])["layers"]
    assert [(x["layerDigest"], x["layerSize"]) for x in found] == [(big.digest, big.size)]
    assert image.stats.bytes_sent >= big.size


def test_a_missing_repository_is_named(aws: Aws, base_images: BaseImages) -> None:
    with pytest.raises(RegistryError, match="ECR repository no-such-repo: RepositoryNotFoundException"):
        source = RegistrySource.parse(base_images.ref("docker"))
        assemble(source, EcrDestination(aws.client("ecr")), "no-such-repo", "v1", "x86_64", layers("x"), ENTRYPOINT, {})


def test_the_in_use_tag_moves_to_an_older_image_without_a_push(aws: Aws, base_images: BaseImages) -> None:
    """A revert: the builder finds the old image, and the in-use tag (which ECR never expires) goes to it."""
    ecr = aws.client("ecr")
    repository = f"fn-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=repository)
    source = RegistrySource.parse(base_images.ref("multi-oci"))
    old = assemble(source, EcrDestination(ecr), repository, "faas-old", "arm64", layers("echo 1"), ENTRYPOINT, {})
    new = assemble(source, EcrDestination(ecr), repository, "faas-new", "arm64", layers("echo 2"), ENTRYPOINT, {})
    for image in (new, old, old):  # deployed, reverted, tagged again (Terraform may re-invoke)
        destination = EcrDestination(ecr)
        destination.tag_image(repository, image.digest, "faas-in-use")
        assert destination.stats.blobs_sent == 0
        found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": "faas-in-use"}])["imageDetails"]
        assert [x["imageDigest"] for x in found] == [image.digest]
    tags = {
        x["imageDigest"]: set(x.get("imageTags", []))
        for x in ecr.describe_images(repositoryName=repository)["imageDetails"]
    }
    assert tags == {old.digest: {"faas-old", "faas-in-use"}, new.digest: {"faas-new"}}


def test_tagging_a_deleted_image_names_the_recovery(aws: Aws) -> None:
    ecr = aws.client("ecr")
    repository = f"fn-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=repository)
    with pytest.raises(
        RegistryError, match=r"terraform apply -replace=module\.IMAGE_MODULE\.aws_lambda_invocation\.build"
    ):
        EcrDestination(ecr).tag_image(repository, "sha256:" + "1" * 64, "faas-in-use")
