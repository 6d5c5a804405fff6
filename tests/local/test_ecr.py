"""The emulator's ECR keeps what is pushed through the ECR API and gives it back, byte for byte.

A real `faas local` process on a free port; images are pushed with plain boto3 (a small config and
one gzip layer built here, with real sha256 digests) and read back through the ECR API, the
download URLs, the registry view (`/v2/`, behind ECR's login, also with skopeo when it is installed), and Terraform's
`data "aws_ecr_image"`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import aws_variables, requires_terraform, terraform
from tests.local.ecr_push import OCI_MANIFEST, Image, build_image, digest_of, push_blob, push_image
from tests.local.faas_local import FaasLocal, faas_local
from tests.local.image_deployment import pull_policy

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaasLocal]:
    with faas_local(tmp_path_factory.mktemp("ecr")) as local:
        yield local


@pytest.fixture(scope="module")
def pushed(emulator: FaasLocal) -> Image:
    """`hello:v1` in the repository `functions/hello`."""
    ecr = emulator.client("ecr")
    ecr.create_repository(repositoryName="functions/hello")
    image = build_image("hello")
    missing = ecr.batch_check_layer_availability(
        repositoryName="functions/hello", layerDigests=[digest_of(image.layer)]
    )
    assert [f["failureCode"] for f in missing["failures"]] == ["MissingLayerDigest"] and not missing["layers"]
    push_image(ecr, "functions/hello", image, "v1")
    return image


def test_a_pushed_image_reads_back_exactly(emulator: FaasLocal, pushed: Image) -> None:
    ecr = emulator.client("ecr")
    available = ecr.batch_check_layer_availability(
        repositoryName="functions/hello", layerDigests=[digest_of(pushed.layer), digest_of(pushed.config)]
    )
    assert [(la["layerAvailability"], la["layerSize"]) for la in available["layers"]] == [
        ("AVAILABLE", len(pushed.layer)),
        ("AVAILABLE", len(pushed.config)),
    ]
    for image_id in ({"imageTag": "v1"}, {"imageDigest": pushed.digest}):
        (got,) = ecr.batch_get_image(repositoryName="functions/hello", imageIds=[image_id])["images"]
        assert got["imageManifest"] == pushed.manifest
        assert got["imageManifestMediaType"] == OCI_MANIFEST
        assert got["imageId"]["imageDigest"] == pushed.digest
    (details,) = ecr.describe_images(repositoryName="functions/hello")["imageDetails"]
    assert (details["imageDigest"], details["imageTags"]) == (pushed.digest, ["v1"])
    assert details["imageSizeInBytes"] == len(pushed.layer)
    for blob in (pushed.layer, pushed.config):
        url = ecr.get_download_url_for_layer(repositoryName="functions/hello", layerDigest=digest_of(blob))
        assert url["downloadUrl"].startswith(f"{emulator.endpoint}/_faas/ecr/")
        with urllib.request.urlopen(url["downloadUrl"], timeout=30) as response:
            assert response.read() == blob


def test_what_ecr_refuses_is_refused(emulator: FaasLocal, pushed: Image) -> None:
    ecr = emulator.client("ecr")
    other = build_image("never pushed")
    with pytest.raises(ecr.exceptions.LayersNotFoundException):
        ecr.put_image(repositoryName="functions/hello", imageManifest=other.manifest, imageTag="v2")
    with pytest.raises(ecr.exceptions.ImageDigestDoesNotMatchException):
        ecr.put_image(
            repositoryName="functions/hello", imageManifest=pushed.manifest, imageTag="v2", imageDigest=other.digest
        )
    with pytest.raises(ecr.exceptions.InvalidLayerException):
        push_blob(ecr, "functions/hello", iter([other.layer]), digest_of(other.config))
    with pytest.raises(ecr.exceptions.LayersNotFoundException):
        ecr.get_download_url_for_layer(repositoryName="functions/hello", layerDigest=digest_of(other.layer))
    assert [i["imageTags"] for i in ecr.describe_images(repositoryName="functions/hello")["imageDetails"]] == [["v1"]]


def test_lambda_runs_an_image_only_for_the_functions_its_repository_names(emulator: FaasLocal, pushed: Image) -> None:
    """As Lambda: the image must exist, and the repository policy must let Lambda pull it for this function."""
    ecr, awslambda = emulator.client("ecr"), emulator.client("lambda")
    role = emulator.client("iam").create_role(
        RoleName="image-puller", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/functions/hello"

    def create(name: str, image: str) -> None:
        awslambda.create_function(FunctionName=name, Role=role, PackageType="Image", Code={"ImageUri": image})

    for policy in (None, pull_policy("someone-else")):
        if policy:
            ecr.set_repository_policy(repositoryName="functions/hello", policyText=policy)
        with pytest.raises(awslambda.exceptions.ClientError) as refused:
            create("puller", f"{uri}:v1")
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    ecr.set_repository_policy(repositoryName="functions/hello", policyText=pull_policy("puller"))
    with pytest.raises(awslambda.exceptions.InvalidParameterValueException, match="does not exist"):
        create("puller", f"{uri}:never-pushed")
    create("puller", f"{uri}@{pushed.digest}")
    with pytest.raises(awslambda.exceptions.ClientError, match="does not have permission"):
        create("someone-else", f"{uri}:v1")
    ecr.delete_repository_policy(repositoryName="functions/hello")
    with pytest.raises(awslambda.exceptions.ClientError, match="does not have permission"):
        awslambda.update_function_code(FunctionName="puller", ImageUri=f"{uri}:v1")
    awslambda.delete_function(FunctionName="puller")


def test_lambda_refuses_an_image_with_an_uncompressed_layer(emulator: FaasLocal) -> None:
    """As Lambda: gzip layers only (the builder refuses such bases before pushing)."""
    ecr, awslambda = emulator.client("ecr"), emulator.client("lambda")
    ecr.create_repository(repositoryName="functions/plain")
    ecr.set_repository_policy(repositoryName="functions/plain", policyText=pull_policy("plain"))
    image = build_image("plain", gzipped=False)
    push_image(ecr, "functions/plain", image, "v1")
    role = emulator.client("iam").create_role(
        RoleName="plain-puller", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    uri = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/functions/plain@{image.digest}"
    with pytest.raises(awslambda.exceptions.InvalidParameterValueException, match="layer media type"):
        awslambda.create_function(FunctionName="plain", Role=role, PackageType="Image", Code={"ImageUri": uri})


def vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_a_100_mb_layer_goes_through_disk_not_memory(emulator: FaasLocal) -> None:
    """Each part costs the same passing memory (JSON and base64 copies of it); the layer stays on disk."""
    ecr = emulator.client("ecr")
    ecr.create_repository(repositoryName="big")
    upload = ecr.initiate_layer_upload(repositoryName="big")
    size = upload["partSize"]  # what the emulator asks for: 10 MiB
    parts = [hashlib.sha512(str(n).encode()).digest() * (size // 64) for n in range(100 * MIB // size)]
    whole = hashlib.sha256()
    for part in parts:
        whole.update(part)
    digest = "sha256:" + whole.hexdigest()
    rss = vm_kib(emulator.pid, "VmRSS")
    Path(f"/proc/{emulator.pid}/clear_refs").write_text("5")  # the peak (VmHWM) starts again from here
    first = 0
    peaks = []
    for part in parts:
        ecr.upload_layer_part(
            repositoryName="big",
            uploadId=upload["uploadId"],
            partFirstByte=first,
            partLastByte=first + len(part) - 1,
            layerPartBlob=part,
        )
        first += len(part)
        peaks.append(vm_kib(emulator.pid, "VmHWM"))
    ecr.complete_layer_upload(repositoryName="big", uploadId=upload["uploadId"], layerDigests=[digest])
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [{"digest": digest, "size": first}]}
    ecr.put_image(repositoryName="big", imageManifest=json.dumps(manifest), imageTag="big")
    url = ecr.get_download_url_for_layer(repositoryName="big", layerDigest=digest)["downloadUrl"]
    read = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=120) as response:
        while chunk := response.read(MIB):
            read.update(chunk)
    assert "sha256:" + read.hexdigest() == digest
    peak, after = vm_kib(emulator.pid, "VmHWM"), vm_kib(emulator.pid, "VmRSS")
    print(f"emulator RSS {rss // 1024} MiB, peak after one part {peaks[0] // 1024} MiB, after all {peak // 1024} MiB")
    assert (peak - peaks[0]) * 1024 < size, f"the peak grew from {peaks[0] // 1024} to {peak // 1024} MiB"
    assert (peak - rss) * 1024 < 100 * MIB, f"grew by {(peak - rss) // 1024} MiB for a 100 MiB layer"
    # What stays is the allocator's (the last parts' buffers, measured 28 MiB), not the 100 MiB layer.
    assert (after - rss) * 1024 < 3 * size, f"kept {(after - rss) // 1024} MiB"


def login(emulator: FaasLocal) -> tuple[str, str]:
    """The user and password GetAuthorizationToken gives (`AWS`, a token), as `docker login` takes them."""
    data = emulator.client("ecr").get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return user, password


def get(url: str, credentials: tuple[str, str] | None) -> Any:
    headers = (
        {"Authorization": "Basic " + base64.b64encode(":".join(credentials).encode()).decode()} if credentials else {}
    )
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10)


def test_the_registry_view_serves_the_image(emulator: FaasLocal, pushed: Image) -> None:
    base, credentials = f"{emulator.endpoint}/v2", login(emulator)
    with get(f"{base}/", credentials) as response:
        assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    for reference in ("v1", pushed.digest):
        with get(f"{base}/functions/hello/manifests/{reference}", credentials) as response:
            assert response.read() == pushed.manifest.encode()
            assert response.headers["Content-Type"] == OCI_MANIFEST
            assert response.headers["Docker-Content-Digest"] == pushed.digest
    with get(f"{base}/functions/hello/blobs/{digest_of(pushed.layer)}", credentials) as response:
        assert response.read() == pushed.layer
    with get(f"{base}/functions/hello/tags/list", credentials) as response:
        assert json.load(response) == {"name": "functions/hello", "tags": ["v1"]}
    with pytest.raises(urllib.error.HTTPError) as unknown:
        get(f"{base}/functions/hello/manifests/v9", credentials)
    assert unknown.value.code == 404 and json.load(unknown.value)["errors"][0]["code"] == "MANIFEST_UNKNOWN"


@pytest.mark.parametrize(
    "password",
    [None, "123456789012-auth-token", "another run's token"],
    ids=["no login", "moto's own token", "a wrong token"],
)
def test_the_registry_view_demands_ecrs_login(emulator: FaasLocal, pushed: Image, password: str | None) -> None:
    """As ECR does: 401 and its Basic challenge naming the ECR service, to every request without its token."""
    for path in ("/v2/", "/v2/functions/hello/manifests/v1", f"/v2/functions/hello/blobs/{digest_of(pushed.layer)}"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            get(f"{emulator.endpoint}{path}", None if password is None else ("AWS", password))
        assert refused.value.code == 401
        host = emulator.endpoint.removeprefix("http://")
        assert refused.value.headers["WWW-Authenticate"] == f'Basic realm="http://{host}/",service="ecr.amazonaws.com"'


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_a_container_tool_pulls_from_the_registry_view(emulator: FaasLocal, pushed: Image, tmp_path: Path) -> None:
    source = f"docker://{emulator.endpoint.removeprefix('http://')}/functions/hello:v1"
    user, password = login(emulator)
    copied = subprocess.run(
        [
            "skopeo",
            "copy",
            "--src-tls-verify=false",
            f"--src-creds={user}:{password}",
            source,
            f"dir:{tmp_path / 'copy'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert copied.returncode == 0, copied.stderr
    assert (tmp_path / "copy" / "manifest.json").read_text() == pushed.manifest
    for blob in (pushed.layer, pushed.config):
        assert (tmp_path / "copy" / digest_of(blob).partition(":")[2]).read_bytes() == blob


@requires_terraform()
@pytest.mark.terraform
def test_terraform_reads_the_real_digest(emulator: FaasLocal, pushed: Image, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        textwrap.dedent(
            """\
            terraform {
              required_providers {
                aws = { source = "hashicorp/aws", version = ">= 5.0, < 6.0" }
              }
            }
            provider "aws" {
              region = "us-east-1"
            }
            data "aws_ecr_image" "hello" {
              repository_name = "functions/hello"
              image_tag       = "v1"
            }
            output "digest" {
              value = data.aws_ecr_image.hello.image_digest
            }
            """
        )
    )
    env = {**os.environ, **aws_variables(emulator.endpoint)}
    terraform(tmp_path, "init", "-input=false", env=env)
    terraform(tmp_path, "apply", "-auto-approve", "-input=false", env=env)
    output = terraform(tmp_path, "output", "-raw", "digest", env=env).stdout
    assert output == pushed.digest
