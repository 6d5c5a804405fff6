"""Bases in private ECR and ECR as the Docker Hub mirror: the builder logs in with GetAuthorizationToken.

The emulator's ECR registry view demands ECR's login as ECR does (a Basic challenge naming
ecr.amazonaws.com), so these builds pass only when the builder asks the ECR API for a token.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from faas_supervisor import aws as supervisor_aws
from faas_supervisor import contract
from faas_supervisor.image import EcrDestination, RegistryError, RegistrySource, assemble, read_image
from faas_supervisor.image.builder import handler
from faas_supervisor.image.pull import registry_image

from tests.supervisor.conftest import Aws
from tests.supervisor.image_builders import BaseImages, image_layers
from tests.supervisor.test_image_builder import event, read_back


def push_to_ecr(aws: Aws, base_images: BaseImages, repository: str, tag: str) -> str:
    """The test registry's "docker" image (its base layers, no layer of ours) copied into the emulator's ECR."""
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName=repository)
    source = RegistrySource.parse(base_images.ref("docker"))
    with read_image(source, "x86_64") as base:
        entrypoint = base.config["config"]["Entrypoint"]
    return assemble(source, EcrDestination(ecr), repository, tag, "x86_64", [], entrypoint, {}).digest


def host(aws: Aws) -> str:
    return aws.endpoint.removeprefix("http://")


def test_a_private_ecr_base_is_pulled_with_an_ecr_token(aws: Aws, base_images: BaseImages) -> None:
    name = f"bases/private-{uuid.uuid4().hex[:8]}"
    push_to_ecr(aws, base_images, name, "1.0")
    request = event(aws, f"{host(aws)}/{name}:1.0")
    built = handler(request, None)
    manifest, _ = read_back(aws, request["repository"], built["digest"])
    assert [layer["digest"] for layer in manifest["layers"][:2]] == [layer.digest for layer in image_layers("amd64")]


def test_an_ecr_pull_through_cache_serves_docker_hub_under_its_prefix(
    aws: Aws, base_images: BaseImages, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`FAAS_REGISTRY_MIRROR=https://ACCOUNT.dkr.ecr.REGION.amazonaws.com/PREFIX`: `busybox` is PREFIX/library/busybox."""
    prefix = f"hub-{uuid.uuid4().hex[:8]}"
    push_to_ecr(aws, base_images, f"{prefix}/library/busybox", "1.36")
    monkeypatch.setenv(contract.REGISTRY_MIRROR, f"{aws.endpoint}/{prefix}")
    request = event(aws, "busybox:1.36")
    built = handler(request, None)
    manifest, _ = read_back(aws, request["repository"], built["digest"])
    assert [layer["digest"] for layer in manifest["layers"][:2]] == [layer.digest for layer in image_layers("amd64")]


def test_without_the_ecr_api_the_login_fails_with_the_reason(
    aws: Aws, base_images: BaseImages, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"bases/private-{uuid.uuid4().hex[:8]}"
    push_to_ecr(aws, base_images, name, "1.0")
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:9")  # nothing listens there
    supervisor_aws.reset_clients()
    source = RegistrySource.parse(f"{host(aws)}/{name}:1.0")
    with pytest.raises(RegistryError, match=r"^\S+ the manifest .*: ecr:GetAuthorizationToken: Could not connect"):
        registry_image(source, "x86_64")


def denied(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, operation)


def test_a_new_roles_first_denials_are_waited_out() -> None:
    """IAM propagation: the call is tried again while denied, within a bounded time, then the denial stands."""
    answers: list[Any] = [denied("DescribeRepositories"), denied("DescribeRepositories"), "described"]
    slept: list[float] = []

    def call() -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert supervisor_aws.while_iam_propagates(call, "describing", seconds=60, sleep=slept.append) == "described"
    assert slept == [1.0, 2.0]

    slept.clear()
    with pytest.raises(ClientError):
        supervisor_aws.while_iam_propagates(lambda: call_denied(), "describing", seconds=3.5, sleep=slept.append)
    assert slept == [1.0, 2.0]  # the next wait (4 s) would pass the 3.5 s bound: the denial stands


def call_denied() -> None:
    raise denied("DescribeRepositories")


def test_other_errors_are_not_retried() -> None:
    slept: list[float] = []
    missing = ClientError({"Error": {"Code": "RepositoryNotFoundException", "Message": "no"}}, "DescribeRepositories")

    def call() -> None:
        raise missing

    with pytest.raises(ClientError):
        supervisor_aws.while_iam_propagates(call, "describing", sleep=slept.append)
    assert slept == []
