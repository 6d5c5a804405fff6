"""An Amazon ECR destination through the ECR API (boto3): no Docker, no registry login."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from botocore.exceptions import ClientError

from faas_supervisor.image.destination import TransferStats
from faas_supervisor.image.errors import DigestMismatch, ImageError, RegistryError
from faas_supervisor.image.oci import Blob, blob_of, sha256_digest
from faas_supervisor.image.source import MAX_CONFIG, BlobLocation
from faas_supervisor.image.transport import send

# ECR's quota on a layer part: 5 MiB to 10 MiB (https://docs.aws.amazon.com/AmazonECR/latest/userguide/service-quotas.html;
# the API reference's 20 MiB is not the quota). InitiateLayerUpload's partSize is followed, within it.
MAX_PART = 10 * 1024 * 1024
_CHECK_BATCH = 100  # BatchCheckLayerAvailability's limit


class EcrDestination:
    """Pushes with BatchCheckLayerAvailability, Initiate/UploadLayerPart/CompleteLayerUpload and PutImage."""

    def __init__(self, client: Any, registry_id: str | None = None) -> None:
        """`client` is a boto3 ECR client; `registry_id` an account id (default: the caller's)."""
        self.client = client
        self.stats = TransferStats()
        self._registry = {"registryId": registry_id} if registry_id else {}

    def missing_blobs(self, repository: str, blobs: Sequence[Blob]) -> list[Blob]:
        available: set[str] = set()
        for start in range(0, len(blobs), _CHECK_BATCH):
            digests = sorted({blob.digest for blob in blobs[start : start + _CHECK_BATCH]})
            answer = self._call("checking layers", repository, "batch_check_layer_availability", layerDigests=digests)
            available |= {
                x["layerDigest"] for x in answer.get("layers", []) if x.get("layerAvailability") == "AVAILABLE"
            }
        missing = [blob for blob in blobs if blob.digest not in available]
        self.stats.blobs_skipped += len(blobs) - len(missing)
        self.stats.bytes_skipped += sum(blob.size for blob in blobs if blob.digest in available)
        return missing

    def mount_blob(self, repository: str, blob: Blob, source: BlobLocation) -> bool:
        return False  # the ECR API has no cross-repository mount

    def push_blob(self, repository: str, blob: Blob, chunks: Iterable[bytes]) -> None:
        doing = f"uploading layer {blob.digest}"
        upload = self._call(doing, repository, "initiate_layer_upload")
        upload_id, part_size = upload["uploadId"], min(upload.get("partSize") or MAX_PART, MAX_PART)
        first = 0
        for part in _parts(self.stats.counted(chunks), part_size):
            last = first + len(part) - 1
            self._call(
                doing,
                repository,
                "upload_layer_part",
                uploadId=upload_id,
                partFirstByte=first,
                partLastByte=last,
                layerPartBlob=part,
            )
            first = last + 1
        try:
            answer = self._call(
                doing, repository, "complete_layer_upload", uploadId=upload_id, layerDigests=[blob.digest]
            )
        except _AlreadyThere:
            return
        if answer.get("layerDigest") != blob.digest:
            raise DigestMismatch(f"{doing} to {repository}: ECR computed {answer.get('layerDigest')}; refused")

    def put_manifest(self, repository: str, tag: str, manifest: bytes, media_type: str, digest: str) -> None:
        doing = f"putting image {repository}:{tag}"
        arguments = {"imageManifest": manifest.decode(), "imageManifestMediaType": media_type, "imageTag": tag}
        try:
            answer = self._call(doing, repository, "put_image", imageDigest=digest, **arguments)
            stored = answer["image"]["imageId"].get("imageDigest")
        except _AlreadyThere:  # the tag names an image already: this very one (a push again), or another
            tagged = self._call(doing, repository, "describe_images", imageIds=[{"imageTag": tag}])["imageDetails"]
            stored = tagged[0].get("imageDigest") if tagged else None
            if stored != digest:
                raise RegistryError(
                    f"{doing}: the tag already names {stored} and cannot be moved (immutable tags)"
                ) from None
        if stored != digest:
            raise RegistryError(f"{doing}: ECR stored it as {stored}, not {digest}")
        self.stats.manifests_put += 1

    def tag_image(self, repository: str, digest: str, tag: str) -> None:
        """Put `tag` on the image `digest` already in `repository` (the tag moves from any other image)."""
        doing = f"tagging image {repository}@{digest} as {tag}"
        answer = self._call(doing, repository, "batch_get_image", imageIds=[{"imageDigest": digest}])
        images = [x for x in answer.get("images", []) if x.get("imageId", {}).get("imageDigest") == digest]
        if not images or "imageManifest" not in images[0]:
            reasons = "; ".join(
                f"{x.get('failureCode', '')}: {x.get('failureReason', '')}" for x in answer.get("failures", [])
            )
            raise RegistryError(
                f"{doing}: the image is not in the repository{f' ({reasons})' if reasons else ''}: it was deleted;"
                " rebuild it with `terraform apply -replace=module.IMAGE_MODULE.aws_lambda_invocation.build`"
            )
        image = images[0]
        manifest: str = image["imageManifest"]
        media_type = image.get("imageManifestMediaType") or _media_type(manifest)
        self.put_manifest(repository, tag, manifest.encode(), media_type, digest)

    def latest_image(self, repository: str) -> tuple[bytes, bytes] | None:
        """The last image pushed (by imagePushedAt): its manifest (BatchGetImage) and its config
        (GetDownloadUrlForLayer, then a GET of that URL), read through ECR alone."""
        doing, images, token = "reading the previous image", [], None
        while True:
            page = self._call(doing, repository, "describe_images", **({"nextToken": token} if token else {}))
            images += page.get("imageDetails", [])
            token = page.get("nextToken")
            if not token:
                break
        pushed = [x for x in images if x.get("imagePushedAt") and x.get("imageDigest")]
        if not pushed:
            return None
        digest = max(pushed, key=lambda x: (x["imagePushedAt"], x["imageDigest"]))["imageDigest"]
        answer = self._call(doing, repository, "batch_get_image", imageIds=[{"imageDigest": digest}])
        found: list[dict[str, Any]] = answer.get("images", [])
        manifest = (found[0].get("imageManifest", "") if found else "").encode()
        try:
            config = blob_of(json.loads(manifest).get("config"), f"the image {repository}@{digest}: config")
        except (ValueError, AttributeError, ImageError):
            return None  # not an image manifest (an index, an artifact): nothing recorded
        if config.size > MAX_CONFIG:
            return None
        url = self._call(doing, repository, "get_download_url_for_layer", layerDigest=config.digest)["downloadUrl"]
        response = send("GET", url, {})
        if response.status != 200:
            raise response.error(f"{doing} of {repository}: its config {config.digest}")
        data = response.document(MAX_CONFIG)
        if sha256_digest(data) != config.digest:
            raise DigestMismatch(f"{doing} of {repository}: its config is not {config.digest}")
        return manifest, data

    def _call(self, doing: str, repository: str, operation: str, **arguments: Any) -> Any:
        try:
            return getattr(self.client, operation)(repositoryName=repository, **self._registry, **arguments)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("LayerAlreadyExistsException", "ImageAlreadyExistsException"):
                raise _AlreadyThere from None
            message = error.response.get("Error", {}).get("Message", "")
            raise RegistryError(f"{doing} to ECR repository {repository}: {code}: {message}") from None


class _AlreadyThere(Exception):
    """ECR already holds this layer, or this tag already names this image."""


def _media_type(manifest: str) -> str:
    try:
        media_type = json.loads(manifest).get("mediaType")
    except (ValueError, AttributeError):
        media_type = None
    return media_type if isinstance(media_type, str) else "application/vnd.oci.image.manifest.v1+json"


def _parts(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The stream regrouped in parts of `size` bytes (the last one shorter)."""
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        while len(pending) >= size:
            with memoryview(pending) as view:
                part = bytes(view[:size])  # one copy: slicing the bytearray itself would make two
            del pending[:size]
            yield part
    if pending:
        yield bytes(pending)
