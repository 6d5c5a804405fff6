"""The image builder's Lambda handler against the emulator (its ECR keeps blobs) and a real registry.

Layers are staged in S3 as Terraform stages them; the pushed image is read back through the ECR
API (BatchGetImage, then the config by its download URL).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from faas_supervisor import contract, logs
from faas_supervisor.image import ImageError, Layer, LayerEntry, RegistryClient, RegistryError, build_layer
from faas_supervisor.image.build_request import BuildRequest, BuildRequestError
from faas_supervisor.image.builder import _docker_hub_hint, handler
from faas_supervisor.image.oci import OCI_MANIFEST

from tests.helpers import LocalRegistry
from tests.supervisor.conftest import Aws
from tests.supervisor.image_builders import (
    BASE_CMD,
    BASE_ENTRYPOINT,
    BaseImages,
    base_config,
    image_layers,
    push_image,
    write_oci_layout,
)
from tests.supervisor.registry_front import registry_front

SUPERVISOR_LAYER = build_layer([LayerEntry(contract.SUPERVISOR_PATH, os.urandom(64 * 1024), 0o755)], "supervisor")
FUNCTION_LAYER = build_layer(
    [
        LayerEntry(f"{contract.IMAGE_TASK_ROOT}/{contract.CONFIG_FILE_NAME}", b'{"name": "hello"}', 0o755),
        LayerEntry(f"{contract.IMAGE_TASK_ROOT}/script.sh", b"#!/bin/sh\necho hello\n", 0o755),
    ],
    "function",
)
OURS = [SUPERVISOR_LAYER, FUNCTION_LAYER]
ENVIRONMENT = {"LAMBDA_TASK_ROOT": contract.IMAGE_TASK_ROOT}


@pytest.fixture(scope="module")
def hub_image(registry: LocalRegistry) -> str:
    """`busybox:1.36` as Docker Hub names it: library/busybox in the test registry, which stands for the mirror."""
    layers = image_layers("amd64")
    push_image(
        RegistryClient(registry.url), "library/busybox", "1.36", layers, base_config("amd64", layers), OCI_MANIFEST
    )
    return "busybox:1.36"


def stage(aws: Aws, layers: list[Layer], bucket: str | None = None) -> list[dict[str, Any]]:
    """Each layer's blob as an S3 object, and its entry in the builder's event."""
    bucket = bucket or aws.bucket("artifacts")
    entries = []
    for layer in layers:
        key = f"images/layers/{layer.digest.removeprefix('sha256:')}.tar.gz"
        aws.client("s3").put_object(Bucket=bucket, Key=key, Body=layer.blob)
        entries.append(
            {
                "bucket": bucket,
                "key": key,
                "digest": layer.digest,
                "diff_id": layer.diff_id,
                "size": layer.size,
                "comment": layer.comment,
            }
        )
    return entries


def event(aws: Aws, base: str | None = None, **fields: Any) -> dict[str, Any]:
    """A builder event for a new ECR repository, with OURS staged in S3."""
    repository = f"functions/fn-{uuid.uuid4().hex[:8]}"
    aws.client("ecr").create_repository(repositoryName=repository)
    return {
        "repository": repository,
        "tag": "faas-0123abcd",
        "architecture": "x86_64",
        "base": base,
        "base_archive": None,
        "credentials_secret": None,
        "layers": stage(aws, OURS),
        "entrypoint": list(contract.IMAGE_ENTRYPOINT),
        "environment": ENVIRONMENT,
        **fields,
    }


def read_back(aws: Aws, repository: str, digest: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest (BatchGetImage) and the config (its download URL) of the pushed image."""
    ecr = aws.client("ecr")
    (image,) = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageDigest": digest}])["images"]
    manifest = json.loads(image["imageManifest"])
    url = ecr.get_download_url_for_layer(repositoryName=repository, layerDigest=manifest["config"]["digest"])
    with urllib.request.urlopen(url["downloadUrl"], timeout=30) as response:
        return manifest, json.load(response)


def test_a_docker_hub_base_comes_through_the_mirror_and_a_second_build_sends_no_layer(
    aws: Aws, registry: LocalRegistry, hub_image: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(contract.REGISTRY_MIRROR, registry.url)
    caplog.set_level(logging.INFO, logger="faas_supervisor")
    request = event(aws, hub_image)
    first = handler(request, None)
    repository_uri = aws.client("ecr").describe_repositories(repositoryNames=[request["repository"]])["repositories"][
        0
    ]["repositoryUri"]
    assert first["repository_uri"] == repository_uri
    assert first["image_uri"] == f"{repository_uri}@{first['digest']}"
    assert (first["blobs_sent"], first["blobs_skipped"]) == (5, 0)  # two base layers, ours, the config
    manifest, config = read_back(aws, request["repository"], first["digest"])
    base = image_layers("amd64")
    assert [layer["digest"] for layer in manifest["layers"]] == [layer.digest for layer in [*base, *OURS]]
    assert config["rootfs"]["diff_ids"] == [layer.diff_id for layer in [*base, *OURS]]
    assert config["config"]["Entrypoint"] == list(contract.IMAGE_ENTRYPOINT)
    assert config["config"]["Cmd"] == BASE_ENTRYPOINT + BASE_CMD
    assert f"LAMBDA_TASK_ROOT={contract.IMAGE_TASK_ROOT}" in config["config"]["Env"]
    (tagged,) = aws.client("ecr").describe_images(repositoryName=request["repository"])["imageDetails"]
    assert (tagged["imageDigest"], tagged["imageTags"]) == (first["digest"], ["faas-0123abcd"])

    again = handler(request, None)  # Terraform may invoke it again with the same event
    assert again["digest"] == first["digest"]
    assert (again["blobs_sent"], again["bytes_sent"], again["blobs_skipped"]) == (0, 0, 5)
    assert f"base image busybox:1.36 from registry-1.docker.io through the mirror {registry.url}" in caplog.text
    assert "supervisor" in caplog.text and "digest and diff_id verified" in caplog.text
    assert "0 blobs sent (0 bytes), 5 already there" in caplog.text


def test_a_base_archive_in_s3_is_downloaded_used_and_removed(
    aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "lambda-tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    base = image_layers("arm64")
    archive = tmp_path / "image.tar"
    write_oci_layout(archive, base_config("arm64", base), [layer.blob for layer in base], compressed=False)
    bucket = aws.bucket("artifacts")
    aws.client("s3").put_object(Bucket=bucket, Key="images/base.tar", Body=archive.read_bytes())
    request = event(aws, base_archive={"bucket": bucket, "key": "images/base.tar"}, architecture="arm64")
    result = handler(request, None)
    manifest, config = read_back(aws, request["repository"], result["digest"])
    assert config["architecture"] == "arm64"
    assert config["rootfs"]["diff_ids"] == [layer.diff_id for layer in [*base, *OURS]]
    assert [layer["digest"] for layer in manifest["layers"]][2:] == [layer.digest for layer in OURS]
    assert config["config"]["Entrypoint"] == list(contract.IMAGE_ENTRYPOINT)
    assert list(scratch.iterdir()) == []


def test_an_immutable_tag_takes_the_same_image_again_but_no_other(
    aws: Aws, registry: LocalRegistry, hub_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(contract.REGISTRY_MIRROR, registry.url)
    repository = f"functions/immutable-{uuid.uuid4().hex[:8]}"
    aws.client("ecr").create_repository(repositoryName=repository, imageTagMutability="IMMUTABLE")
    request = event(aws, hub_image, repository=repository)
    first = handler(request, None)
    assert handler(request, None)["digest"] == first["digest"]
    changed = {**request, "environment": {**ENVIRONMENT, "GREETING": "hello"}}
    with pytest.raises(RegistryError, match=f"the tag already names {first['digest']} and cannot be moved"):
        handler(changed, None)


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ("content", r"layer supervisor \(s3://.*\): its content is sha256:\w+ \(\d+ bytes\), not sha256:"),
        ("diff_id", r"layer supervisor \(s3://.*\): its uncompressed content is sha256:\w+, not sha256:0+; refused"),
        ("size", r"layer supervisor \(s3://.*\): \d+ bytes, not 1 as announced; refused"),
    ],
)
def test_a_layer_that_does_not_match_its_digests_is_refused_before_anything_is_pushed(
    aws: Aws, registry: LocalRegistry, hub_image: str, monkeypatch: pytest.MonkeyPatch, change: str, refusal: str
) -> None:
    monkeypatch.setenv(contract.REGISTRY_MIRROR, registry.url)
    request = event(aws, hub_image)
    staged = request["layers"][0]
    if change == "content":
        tampered = bytearray(SUPERVISOR_LAYER.blob)
        tampered[-20] ^= 1
        aws.client("s3").put_object(Bucket=staged["bucket"], Key=staged["key"], Body=bytes(tampered))
    elif change == "diff_id":
        staged["diff_id"] = "sha256:" + "0" * 64
    else:
        staged["size"] = 1
    with pytest.raises(ImageError, match=refusal):
        handler(request, None)
    assert aws.client("ecr").describe_images(repositoryName=request["repository"])["imageDetails"] == []


def test_a_missing_base_is_named(
    aws: Aws, registry: LocalRegistry, hub_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(contract.REGISTRY_MIRROR, registry.url)
    request = event(aws, "busybox:no-such-tag")
    with pytest.raises(RegistryError) as refused:
        handler(request, None)
    message = str(refused.value)
    assert message.startswith(
        f"cannot build {request['repository']}:faas-0123abcd on base image busybox:no-such-tag from registry-1.docker.io "
        f"through the mirror {registry.url}: "
        "fetching the manifest of library/busybox:no-such-tag: "
    )
    assert "404" in message and "MANIFEST_UNKNOWN" in message
    assert "Docker Hub limits" not in message  # a mirror was used


def test_an_unusable_mirror_is_named(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contract.REGISTRY_MIRROR, "http://mirror.example.com")
    with pytest.raises(ImageError, match="^FAAS_REGISTRY_MIRROR: refusing plain HTTP to mirror.example.com"):
        handler(event(aws, "busybox:1.36"), None)


def test_a_missing_s3_object_is_named(aws: Aws) -> None:
    bucket = aws.bucket("artifacts")
    request = event(aws, base_archive={"bucket": bucket, "key": "images/none.tar"})
    with pytest.raises(ImageError, match=f"^cannot read base_archive s3://{bucket}/images/none.tar: it does not exist"):
        handler(request, None)
    request["layers"][1]["key"] = "layers/none.tar.gz"
    missing = f"s3://{request['layers'][1]['bucket']}/layers/none.tar.gz"
    with pytest.raises(ImageError, match=f"^cannot read layer {missing}: it does not exist"):
        handler(request, None)


def test_registry_credentials_come_from_a_secret(
    aws: Aws, registry: LocalRegistry, base_images: BaseImages, caplog: pytest.LogCaptureFixture
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    secret = aws.client("secretsmanager").create_secret(
        Name=f"registry-{uuid.uuid4().hex[:8]}", SecretString=json.dumps({"username": "user", "password": password})
    )["ARN"]
    caplog.set_level(logging.DEBUG)  # from here on: the builder's own records, botocore's included
    with registry_front(registry.host, "basic", password) as front:
        base = f"127.0.0.1:{front.port}/{base_images.repository}:docker"
        with pytest.raises(RegistryError, match="the registry requires credentials and none were given"):
            handler(event(aws, base), None)
        result = handler(event(aws, base, credentials_secret=secret), None)
    assert result["blobs_sent"] == 5
    assert front.cdn_authorizations  # the blobs came through the front
    assert password not in caplog.text
    assert logs.QUIET_NOTE in caplog.text  # botocore's records of GetSecretValue were hidden whole


@pytest.mark.parametrize(
    ("secret_value", "problem"),
    [
        ("not json", "expected a JSON string"),
        (json.dumps({"username": "user"}), "expected a JSON string"),
    ],
)
def test_an_unusable_secret_is_named(aws: Aws, secret_value: str, problem: str) -> None:
    name = f"registry-{uuid.uuid4().hex[:8]}"
    aws.client("secretsmanager").create_secret(Name=name, SecretString=secret_value)
    with pytest.raises(ImageError, match=f"credentials_secret {name}: {problem}"):
        handler(event(aws, "127.0.0.1:1/base:1", credentials_secret=name), None)
    with pytest.raises(ImageError, match="cannot read credentials_secret no-such-secret: .*ResourceNotFoundException"):
        handler(event(aws, "127.0.0.1:1/base:1", credentials_secret="no-such-secret"), None)


def test_a_missing_repository_is_named(aws: Aws) -> None:
    request = {**event(aws, "alpine:3.20"), "repository": "no-such-repository"}
    with pytest.raises(RegistryError, match="ECR repository no-such-repository: .*RepositoryNotFoundException"):
        handler(request, None)


VALID: dict[str, Any] = {
    "repository": "functions/fn",
    "tag": "faas-01ab",
    "architecture": "arm64",
    "base": "alpine:3.20",
    "layers": [{"bucket": "b", "key": "k", "digest": "sha256:" + "a" * 64, "diff_id": "sha256:" + "b" * 64, "size": 3}],
    "entrypoint": list(contract.IMAGE_ENTRYPOINT),
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"repository": ""}, 'repository: expected a non-empty string, got ""'),
        ({"tag": "faas:1"}, "tag: 'faas:1' is not an image tag"),
        ({"architecture": "amd64"}, "architecture: 'amd64' is not x86_64 or arm64"),
        ({"base": None}, "base: give exactly one of base"),
        ({"base_archive": {"bucket": "b", "key": "k"}}, "base: give exactly one of base"),
        ({"base": "Alpine"}, "base: invalid image reference 'Alpine'"),
        (
            {"layers": [{**VALID["layers"][0], "digest": "md5:1"}]},
            r"layers\[0\].digest: 'md5:1' is not a sha256 digest",
        ),
        ({"layers": [{**VALID["layers"][0], "size": "3"}]}, r"layers\[0\].size: expected the blob's size in bytes"),
        (
            {"layers": [{**VALID["layers"][0], "bucket": None}]},
            r"layers\[0\].bucket: expected a non-empty string, got nothing",
        ),
        ({"entrypoint": "/bin/sh"}, "entrypoint: expected a list"),
        ({"entrypoint": []}, "entrypoint: expected the image's entry point"),
        ({"environment": {"A=B": "1"}}, "environment.A=B: expected a variable name"),
        ({"tags": ["x"]}, "tags: unknown field"),
    ],
)
def test_a_malformed_event_names_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(BuildRequestError, match=f"^invalid builder event: {message}"):
        handler({**VALID, **change}, None)


def test_a_valid_event_parses() -> None:
    request = BuildRequest.parse({**VALID, "environment": ENVIRONMENT, "credentials_secret": "arn:secret"})
    assert (request.base, request.base_archive, request.credentials_secret) == ("alpine:3.20", None, "arn:secret")
    assert request.entrypoint == contract.IMAGE_ENTRYPOINT and request.layers[0].location.key == "k"


def test_a_failed_docker_hub_pull_says_how_to_avoid_the_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach Docker Hub: the hint is checked on the error a rate-limited pull gives."""
    monkeypatch.delenv(contract.REGISTRY_MIRROR, raising=False)
    limited = RegistryError(
        "fetching the manifest of library/alpine:3.20: GET https://registry-1.docker.io/v2/library/alpine/manifests/3.20"
        " answered 429 Too Many Requests: TOOMANYREQUESTS You have reached your pull rate limit."
    )
    hint = " (Docker Hub limits anonymous pulls: set FAAS_REGISTRY_MIRROR or give credentials_secret)"
    assert _docker_hub_hint(BuildRequest.parse(VALID), limited) == hint
    assert _docker_hub_hint(BuildRequest.parse({**VALID, "base": "ghcr.io/o/x:1"}), limited) == ""
    monkeypatch.setenv(contract.REGISTRY_MIRROR, "http://127.0.0.1:5000")
    assert _docker_hub_hint(BuildRequest.parse(VALID), limited) == ""


def test_the_contract_names_this_handler() -> None:
    module, _, name = contract.BUILDER_HANDLER.rpartition(".")
    assert getattr(importlib.import_module(module), name) is handler


def test_the_builder_imports_only_the_standard_library_and_boto3() -> None:
    """It runs from a plain Lambda zip: faas_supervisor beside the runtime's own boto3."""
    probe = (
        "import sys; before = set(sys.modules); import faas_supervisor.image.builder; "
        "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert set(loaded) <= {
        "faas_supervisor",
        "boto3",
        "botocore",
        "urllib3",
        "dateutil",
        "jmespath",
        "six",
        "s3transfer",
    }


TAG_EVENT: dict[str, Any] = {
    "action": "tag",
    "repository": "functions/fn",
    "tag": "faas-in-use",
    "digest": "sha256:" + "c" * 64,
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"action": "build"}, "action: expected 'tag', got \"build\""),
        ({"tag": "in use"}, "tag: 'in use' is not an image tag"),
        ({"digest": "latest"}, "digest: 'latest' is not a sha256 digest"),
        ({"layers": []}, "layers: unknown field"),
    ],
)
def test_a_malformed_tag_event_names_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(BuildRequestError, match=f"^invalid builder event: {message}"):
        handler({**TAG_EVENT, **change}, None)


def test_a_build_event_with_an_action_is_refused() -> None:
    with pytest.raises(BuildRequestError, match="^invalid builder event: action: expected 'tag'"):
        handler({**VALID, "action": "build"}, None)


def test_a_tag_event_for_a_deleted_image_names_the_recovery(aws: Aws) -> None:
    repository = f"fn-{os.urandom(4).hex()}"
    aws.client("ecr").create_repository(repositoryName=repository)
    with pytest.raises(RegistryError, match=r"it was deleted; rebuild it with `terraform apply -replace="):
        handler({**TAG_EVENT, "repository": repository}, None)
