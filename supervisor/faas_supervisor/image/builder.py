"""The image builder: the Lambda function (contract.BUILDER_HANDLER) Terraform invokes to assemble an image.

The event (build_request.BuildRequest) names an ECR repository and tag, a base image (a registry
reference, Docker Hub's through the mirror named by contract.REGISTRY_MIRROR, or an image archive
staged in S3) and layers staged in S3 with their digests. Each layer is verified before anything
is pushed; the image is pushed blob by missing blob, so invoking the builder again with the same
event sends no layer and answers the same digest. A tag request (build_request.TagRequest) only
moves a tag to an image already in the repository: Terraform sends one once the functions run
the image. Standard library and boto3 only.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from faas_supervisor import aws, contract, logs
from faas_supervisor.image.assemble import AssembledImage, assemble
from faas_supervisor.image.auth import Credentials
from faas_supervisor.image.build_request import BuildRequest, S3Object, StagedLayer, TagRequest, is_tag_request
from faas_supervisor.image.ecr import EcrDestination
from faas_supervisor.image.errors import DigestMismatch, ImageError, InvalidReference, RegistryError
from faas_supervisor.image.layer import Layer
from faas_supervisor.image.oci import CHUNK, sha256_digest
from faas_supervisor.image.reference import endpoint
from faas_supervisor.image.source import ArchiveSource, ImageSource, RegistrySource

log = logging.getLogger(__name__)


def handler(event: Any, context: object) -> dict[str, Any]:
    """Build and push the image the event describes; its URI by digest, and what was sent."""
    logs.configure(os.environ.get(contract.LOG_LEVEL) or "INFO")
    if is_tag_request(event):
        return _tag(TagRequest.parse(event))
    request = BuildRequest.parse(event)
    started = time.monotonic()
    repository_uri = _repository_uri(request.repository)
    s3 = aws.client("s3")
    layers = [_read_layer(s3, staged) for staged in request.layers]
    with _base(request, s3) as (source, base_name):
        log.info("building %s:%s (%s) on %s", request.repository, request.tag, request.architecture, base_name)
        try:
            image = assemble(
                source,
                EcrDestination(aws.client("ecr")),
                request.repository,
                request.tag,
                request.architecture,
                layers,
                request.entrypoint,
                request.environment,
                for_lambda=request.for_lambda,
            )
        except ImageError as error:
            message = f"cannot build {request.repository}:{request.tag} on {base_name}: {error}"
            raise type(error)(message + _docker_hub_hint(request, error)) from None
    _log_result(image, layers, time.monotonic() - started)
    stats = image.stats
    return {
        "image_uri": f"{repository_uri}@{image.digest}",
        "digest": image.digest,
        "repository_uri": repository_uri,
        "bytes_sent": stats.bytes_sent,
        "blobs_sent": stats.blobs_sent,
        "blobs_skipped": stats.blobs_skipped,
    }


def _tag(request: TagRequest) -> dict[str, Any]:
    """Move `request.tag` to the image `request.digest` (the image the functions now run)."""
    repository_uri = _repository_uri(request.repository)
    EcrDestination(aws.client("ecr")).tag_image(request.repository, request.digest, request.tag)
    log.info("%s@%s is tagged %s", request.repository, request.digest, request.tag)
    return {
        "image_uri": f"{repository_uri}@{request.digest}",
        "digest": request.digest,
        "repository_uri": repository_uri,
        "tag": request.tag,
    }


def _repository_uri(repository: str) -> str:
    """The builder's first call, so the one to wait for IAM with: its role may have just been created."""
    try:
        found = aws.while_iam_propagates(
            lambda: aws.client("ecr").describe_repositories(repositoryNames=[repository])["repositories"],
            f"ecr:DescribeRepositories {repository}",
        )
    except aws.client_errors() as error:
        raise RegistryError(f"ECR repository {repository}: {aws.describe_error(error)}") from None
    uri: str = found[0]["repositoryUri"]
    log.info("ECR repository %s is %s", repository, uri)
    return uri


def _get_object(s3: Any, location: S3Object, what: str) -> Any:
    try:
        return s3.get_object(Bucket=location.bucket, Key=location.key)
    except aws.client_errors() as error:
        raise ImageError(f"cannot read {what} {location}: {aws.describe_error(error)}") from None


def _read_layer(s3: Any, staged: StagedLayer) -> Layer:
    """The layer's blob, refused unless its size, digest and diff_id are the ones the event gives."""
    where = f"layer {staged.comment or staged.digest} ({staged.location})"
    response = _get_object(s3, staged.location, "layer")
    with response["Body"] as body:
        if response.get("ContentLength", staged.size) != staged.size:
            raise DigestMismatch(f"{where}: {response['ContentLength']} bytes, not {staged.size} as announced; refused")
        try:
            blob = body.read(staged.size + 1)
        except aws.client_errors() as error:
            raise ImageError(f"cannot read {where}: {aws.describe_error(error)}") from None
    digest = sha256_digest(blob)
    if len(blob) != staged.size or digest != staged.digest:
        raise DigestMismatch(
            f"{where}: its content is {digest} ({len(blob)} bytes), not {staged.digest} ({staged.size} bytes); refused"
        )
    diff_id = _uncompressed_digest(blob, where)
    if diff_id != staged.diff_id:
        raise DigestMismatch(f"{where}: its uncompressed content is {diff_id}, not {staged.diff_id}; refused")
    log.info("%s: %d bytes, digest and diff_id verified", where, len(blob))
    return Layer(blob, digest, diff_id, staged.comment)


def _uncompressed_digest(blob: bytes, where: str) -> str:
    plain = hashlib.sha256()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(blob), mode="rb") as stream:
            while chunk := stream.read(CHUNK):
                plain.update(chunk)
    except (OSError, EOFError, zlib.error) as error:
        raise DigestMismatch(f"{where}: not a gzip stream ({error}); refused") from None
    return "sha256:" + plain.hexdigest()


@contextmanager
def _base(request: BuildRequest, s3: Any) -> Iterator[tuple[ImageSource, str]]:
    """The base image as a source, and its name for messages."""
    if request.base_archive is not None:
        with _downloaded(s3, request.base_archive) as path:
            yield ArchiveSource(path), f"the image archive {request.base_archive}"
        return
    assert request.base is not None  # BuildRequest.parse: one of the two
    mirror = os.environ.get(contract.REGISTRY_MIRROR) or None
    with _registry_credentials(request.credentials_secret) as credentials:
        source = RegistrySource.parse(request.base, mirror=mirror, credentials=credentials)
        try:
            endpoint(source.reference, mirror)
        except InvalidReference as error:
            raise InvalidReference(f"{contract.REGISTRY_MIRROR}: {error}") from None
        through = f" through the mirror {mirror}" if mirror and source.reference.on_docker_hub else ""
        yield source, f"base image {request.base} from {source.reference.registry}{through}"


@contextmanager
def _downloaded(s3: Any, location: S3Object) -> Iterator[Path]:
    """The S3 object streamed to a temporary file (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="faas-base-") as folder:
        path = Path(folder) / "image.tar"
        response = _get_object(s3, location, "base_archive")
        try:
            with response["Body"] as body, path.open("wb") as file:
                shutil.copyfileobj(body, file, CHUNK)
        except aws.client_errors() as error:
            raise ImageError(f"cannot read base_archive {location}: {aws.describe_error(error)}") from None
        log.info("base archive %s: %d bytes downloaded", location, path.stat().st_size)
        yield path


@contextmanager
def _registry_credentials(secret: str | None) -> Iterator[Credentials | None]:
    """The registry user and password of a Secrets Manager secret; the password is masked in every log line."""
    if secret is None:
        yield None
        return
    what = f"credentials_secret {secret}"
    with logs.libraries_quiet():
        try:
            value = aws.client("secretsmanager").get_secret_value(SecretId=secret).get("SecretString")
        except aws.client_errors() as error:
            raise ImageError(f"cannot read {what}: {aws.describe_error(error)}") from None
        try:
            document = json.loads(value) if isinstance(value, str) else None
        except ValueError:
            document = None
        fields = document if isinstance(document, dict) else {}
        username, password = fields.get("username"), fields.get("password")
        if not (isinstance(username, str) and username and isinstance(password, str) and password):
            raise ImageError(f'{what}: expected a JSON string {{"username": ..., "password": ...}}, both non-empty')
        logs.hide(password)
    try:
        log.info("registry credentials from %s", what)
        yield Credentials(username, password)
    finally:
        logs.unhide(password)


def _docker_hub_hint(request: BuildRequest, error: ImageError) -> str:
    """Docker Hub's rate limit, the usual cause of a failed anonymous pull, and its cures."""
    if request.base is None or os.environ.get(contract.REGISTRY_MIRROR) or not isinstance(error, RegistryError):
        return ""
    if not RegistrySource.parse(request.base).reference.on_docker_hub or "docker.io" not in str(error):
        return ""
    cure = f"set {contract.REGISTRY_MIRROR}" + ("" if request.credentials_secret else " or give credentials_secret")
    return f" (Docker Hub limits anonymous pulls: {cure})"


def _log_result(image: AssembledImage, layers: list[Layer], seconds: float) -> None:
    every = json.loads(image.manifest)["layers"]
    base = every[: len(every) - len(layers)]
    stats = image.stats
    log.info(
        "pushed %s:%s as %s in %.1f s: base %d layers (%d bytes), ours %d layers (%d bytes); "
        "%d blobs sent (%d bytes), %d already there (%d bytes)",
        image.repository,
        image.tag,
        image.digest,
        seconds,
        len(base),
        sum(layer["size"] for layer in base),
        len(layers),
        sum(layer.size for layer in layers),
        stats.blobs_sent,
        stats.bytes_sent,
        stats.blobs_skipped,
        stats.bytes_skipped,
    )
