"""The emulator's ECR keeps what is pushed, so that local mode can read images back and run them.

moto's ECR (5.2) accepts the push calls but keeps only each layer's size, takes PutImage's manifest
without checking that its blobs were uploaded, believes the digest it is given (or makes one up
from the layer digests), reports the config's size as the image's, and has no
GetDownloadUrlForLayer. In the emulator's process a few of its methods are replaced, each for one
of those gaps:

- CreateRepository: moto checks the name's pattern but not its length; ECR refuses a name shorter
  than 2 or longer than 256 characters (InvalidParameterException), and so does the emulator now;
- InitiateLayerUpload: the upload's bytes go to a file (render/local/ecr_blobs.py) instead of memory;
- CompleteLayerUpload: the digest given must be the bytes' sha256 (InvalidLayerException), and the
  file becomes a blob;
- PutImage: the image's digest is the sha256 of the manifest's bytes (ImageDigestDoesNotMatchException
  when another is given), and every blob (or, for an index, every image) it references must be in
  the repository (LayersNotFoundException, ReferencedImagesNotFoundException);
- DescribeImages' imageSizeInBytes: the layers' sizes added up, as ECR reports it;
- GetDownloadUrlForLayer: a URL on the emulator itself (render/local/registry.py serves it);
- GetAuthorizationToken: moto's token is the same for every run (`ACCOUNT-auth-token`); the
  emulator's is a secret of the running process, per account, which its registry view demands
  (`registry_password`), so a client that skips the login is refused as ECR refuses it.

moto's own BatchCheckLayerAvailability, BatchGetImage and DescribeImages then answer from the
blobs held and the manifests as pushed; the blobs are the running emulator's (hooks.HOOKS.store).
`repositories` and `blob_path` are what render/local/registry.py serves them by.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ecr import models
from moto.ecr.exceptions import InvalidParameterException, UploadNotFoundException
from moto.ecr.responses import ECRResponse

from render.local.ecr_blobs import UploadedParts
from render.local.moto.hooks import HOOKS
from render.local.moto.patch import Patches

PATCHES = Patches()
Repository = models.Repository  # what render/local/registry.py serves images from
BLOB_PATH = "/_faas/ecr"  # + /ACCOUNT/REGION/REPOSITORY/blobs/DIGEST (underscores: never a bucket name)
_TOKEN_KEY = secrets.token_bytes(32)  # this process's: its tokens are worth nothing to another run


class LayersNotFoundException(ServiceException):
    code = "LayersNotFoundException"


class LayerInaccessibleException(ServiceException):
    code = "LayerInaccessibleException"


class ImageDigestDoesNotMatchException(ServiceException):
    code = "ImageDigestDoesNotMatchException"


class ReferencedImagesNotFoundException(ServiceException):
    code = "ReferencedImagesNotFoundException"


class InvalidLayerException(ServiceException):
    code = "InvalidLayerException"


class LayerAlreadyExistsException(ServiceException):
    code = "LayerAlreadyExistsException"


class EmptyUploadException(ServiceException):
    code = "EmptyUploadException"


def manifest_digest(manifest: str) -> str:
    return "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()


def parse_manifest(manifest: str) -> dict[str, Any]:
    try:
        parsed = json.loads(manifest)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidParameterException(
            "Invalid parameter at 'imageManifest' failed to satisfy constraint: 'Invalid JSON syntax'"
        )
    return parsed


def referenced_blobs(manifest: dict[str, Any]) -> list[str]:
    """The config's and layers' digests (foreign layers, which name URLs, are not pushed)."""
    entries = [manifest.get("config") or {}, *manifest.get("layers", [])]
    return [str(e["digest"]) for e in entries if isinstance(e, dict) and "digest" in e and not e.get("urls")]


def referenced_images(manifest: dict[str, Any]) -> list[str]:
    """An image index's (manifest list's) images."""
    return [str(m["digest"]) for m in manifest.get("manifests", []) if isinstance(m, dict) and "digest" in m]


def image_size(image: models.Image) -> int | None:
    """ECR's imageSizeInBytes: the layers' (compressed) sizes added up; none for an index."""
    layers = json.loads(image.image_manifest).get("layers")
    return sum(int(layer.get("size", 0)) for layer in layers) if isinstance(layers, list) else None


def associated_blobs(repository: models.Repository) -> set[str]:
    """The blobs its images reference: GetDownloadUrlForLayer serves only those, as ECR does."""
    return {d for image in repository.images for d in referenced_blobs(json.loads(image.image_manifest))}


def downloadable(repository: models.Repository, digest: str) -> None:
    """Raise ECR's error when the blob cannot be downloaded from the repository."""
    if digest not in repository.layers:
        raise LayersNotFoundException(f"The specified layer {digest} could not be found in {repository.name}")
    if digest not in associated_blobs(repository):
        raise LayerInaccessibleException(f"The specified layer {digest} is not associated with an image")


def blob_path(account: str, region: str, repository: str, digest: str) -> str:
    return f"{BLOB_PATH}/{account}/{region}/{quote(repository)}/blobs/{digest}"


def repositories(name: str, account: str | None = None, region: str | None = None) -> Iterator[models.Repository]:
    """The repositories of that name moto holds, in every account and region (or the ones given).

    dict's own lookups: moto's BackendDict would create a backend for any name it is indexed with.
    """
    for account_id, regions in dict.items(models.ecr_backends):
        for region_name, backend in dict.items(regions):
            if account in (None, account_id) and region in (None, region_name) and name in backend.repositories:
                yield backend.repositories[name]


REPOSITORY_NAME_LENGTH = range(2, 256 + 1)  # CreateRepository's repositoryName, as ECR checks it


def check_repository_name(name: str) -> None:
    """ECR's length limits, in ECR's words (moto checks the pattern, and nothing else)."""
    if len(name) < REPOSITORY_NAME_LENGTH.start:
        limit = f"greater than or equal to {REPOSITORY_NAME_LENGTH.start}"
    elif len(name) > REPOSITORY_NAME_LENGTH.stop - 1:
        limit = f"less than or equal to {REPOSITORY_NAME_LENGTH.stop - 1}"
    else:
        return
    raise InvalidParameterException(
        f"Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must have length {limit}'"
    )


@PATCHES.patch(
    models.ECRBackend,
    "create_repository",
    (
        "self",
        "repository_name",
        "registry_id",
        "encryption_config",
        "image_scan_config",
        "image_tag_mutability",
        "tags",
        "image_tag_mutability_exclusion_filters",
    ),
)
def create_repository(
    original: Callable[..., models.Repository], self: models.ECRBackend, repository_name: str, *args: Any, **kwargs: Any
) -> models.Repository:
    check_repository_name(repository_name)
    return original(self, repository_name, *args, **kwargs)


@PATCHES.patch(models.ECRBackend, "initiate_layer_upload", ("self", "repository_name", "registry_id"))
def initiate_layer_upload(
    original: Callable[..., Any], self: models.ECRBackend, repository_name: str, registry_id: str | None = None
) -> Any:
    answer = original(self, repository_name, registry_id)
    upload = self._get_repository(repository_name, registry_id).uploads[answer["uploadId"]]
    upload.layer_parts = HOOKS.blobs().new_upload()  # type: ignore[assignment]  # see UploadedParts
    return answer


@PATCHES.patch(
    models.ECRBackend, "complete_layer_upload", ("self", "repository_name", "upload_id", "layer_digests", "registry_id")
)
def complete_layer_upload(
    original: Callable[..., Any],
    self: models.ECRBackend,
    repository_name: str,
    upload_id: str,
    layer_digests: list[str],
    registry_id: str | None = None,
) -> dict[str, Any]:
    store = HOOKS.blobs()
    repository = self._get_repository(repository_name, registry_id)
    upload = repository.uploads.get(upload_id)
    if upload is None:
        raise UploadNotFoundException(upload_id, repository_name, repository.registry_id)
    parts: UploadedParts = upload.layer_parts  # type: ignore[assignment]
    if not len(parts):
        raise EmptyUploadException(f"The layer upload {upload_id} contains no layer parts")
    if parts.digest not in (layer_digests or []):
        raise InvalidLayerException(f"The uploaded layer's digest is {parts.digest}, not {layer_digests}")
    del repository.uploads[upload_id]
    if parts.digest in repository.layers:
        store.discard(parts)
        raise LayerAlreadyExistsException(f"The layer {parts.digest} already exists in {repository_name}")
    repository.layers[store.keep(parts)] = len(parts)
    return {
        "registryId": repository.registry_id,
        "repositoryName": repository_name,
        "uploadId": upload_id,
        "layerDigest": parts.digest,
    }


@PATCHES.patch(
    models.ECRBackend,
    "put_image",
    ("self", "repository_name", "image_manifest", "image_tag", "image_manifest_mediatype", "digest"),
)
def put_image(
    original: Callable[..., models.Image],
    self: models.ECRBackend,
    repository_name: str,
    image_manifest: str,
    image_tag: str,
    image_manifest_mediatype: str | None = None,
    digest: str | None = None,
) -> models.Image:
    repository = self._get_repository(repository_name)
    actual = manifest_digest(image_manifest)
    if digest and digest != actual:
        raise ImageDigestDoesNotMatchException(f"The image digest {digest} does not match {actual}")
    parsed = parse_manifest(image_manifest)
    missing = [d for d in referenced_blobs(parsed) if d not in repository.layers]
    if missing:
        raise LayersNotFoundException(f"The layers {missing} could not be found in {repository_name}")
    pushed = {image.image_digest for image in repository.images}
    if absent := [d for d in referenced_images(parsed) if d not in pushed]:
        raise ReferencedImagesNotFoundException(f"The images {absent} do not exist in {repository_name}")
    return original(self, repository_name, image_manifest, image_tag, image_manifest_mediatype, actual)


@PATCHES.patch(models.Image, "get_image_size_in_bytes", ("self",))
def get_image_size_in_bytes(original: Callable[..., int | None], self: models.Image) -> int | None:
    return image_size(self)


@PATCHES.patch(ECRResponse, "get_download_url_for_layer", ("self",))
def get_download_url_for_layer(original: Callable[..., ActionResult], self: ECRResponse) -> ActionResult:
    repository = self.ecr_backend._get_repository(self._get_param("repositoryName"), self._get_param("registryId"))
    digest = self._get_param("layerDigest")
    downloadable(repository, digest)
    path = blob_path(repository.registry_id, self.region, repository.name, digest)
    return ActionResult({"downloadUrl": f"http://{self.headers['Host']}{path}", "layerDigest": digest})


def registry_password(account: str) -> str:
    """The password of the user `AWS` that GetAuthorizationToken gives for `account` in this process."""
    return f"{account}.{hmac.new(_TOKEN_KEY, account.encode(), hashlib.sha256).hexdigest()}"


def password_account(password: str) -> str | None:
    """The account a password of this process was given for; None for any other password."""
    account = password.partition(".")[0]
    return account if hmac.compare_digest(password, registry_password(account)) else None


@PATCHES.patch(ECRResponse, "get_authorization_token", ("self",))
def get_authorization_token(original: Callable[..., ActionResult], self: ECRResponse) -> ActionResult:
    answer = original(self)
    for entry in answer.result["authorizationData"]:  # type: ignore[index]
        account = entry["proxyEndpoint"].removeprefix("https://").partition(".")[0]
        entry["authorizationToken"] = base64.b64encode(f"AWS:{registry_password(account)}".encode()).decode()
    return answer
