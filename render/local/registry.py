"""What the emulator serves of its ECR besides the ECR API: layer downloads and a read-only registry.

- GetDownloadUrlForLayer's URLs, `/_faas/ecr/ACCOUNT/REGION/REPOSITORY/blobs/DIGEST`, stream the
  blob from disk (render/local/moto/ecr.py issues them).
- The read side of the OCI distribution protocol, for the tools that pull that way, behind ECR's
  login: Basic auth as the user `AWS` with a token from the emulator's GetAuthorizationToken for
  the repository's account (render/local/moto/ecr.py), else 401 with ECR's Basic challenge:
  `GET /v2/`, `GET|HEAD /v2/NAME/manifests/TAG-OR-DIGEST` (the manifest exactly as pushed,
  with its media type and Docker-Content-Digest), `GET|HEAD /v2/NAME/blobs/DIGEST` and
  `GET /v2/NAME/tags/list`. The emulator has one address for every region, so NAME is looked up
  in all regions of the token's account; a name held in several is refused (the ECR API, which is
  regional, reads it). Path-style S3 would take `/v2/...` for the bucket `v2`: only unsigned requests are
  answered here, and S3 clients sign theirs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from render.local.ecr_blobs import BlobStore, is_digest
from render.local.moto.ecr import BLOB_PATH, Repository, password_account, repositories

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

DOWNLOAD = re.compile(rf"^{BLOB_PATH}/(?P<account>\d+)/(?P<region>[a-z0-9-]+)/(?P<name>.+)/blobs/(?P<digest>[^/]+)$")
V2_OBJECT = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>manifests|blobs)/(?P<reference>[^/]+)$")
V2_TAGS = re.compile(r"^/v2/(?P<name>.+)/tags/list$")
API_VERSION = ("Docker-Distribution-API-Version", "registry/2.0")


@dataclass
class Answer:
    status: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: Iterable[bytes] = ()


def json_answer(status: str, document: Any) -> Answer:
    body = json.dumps(document).encode()
    return Answer(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], [body])


def error(code: str, message: str) -> Answer:
    """The distribution spec's error document."""
    return json_answer("404 Not Found", {"errors": [{"code": code, "message": message}]})


def blob(store: BlobStore, repository: Repository, digest: str) -> Answer:
    if digest not in repository.layers or not store.has(digest):
        return error("BLOB_UNKNOWN", f"{repository.name} has no blob {digest}")
    headers = [
        ("Content-Type", "application/octet-stream"),
        ("Content-Length", str(store.size(digest))),
        ("Docker-Content-Digest", digest),
    ]
    return Answer("200 OK", headers, store.read(digest))


def manifest(repository: Repository, reference: str) -> Answer:
    found = [
        image
        for image in repository.images
        if (image.image_digest == reference if is_digest(reference) else reference in image.image_tags)
    ]
    if not found:
        return error("MANIFEST_UNKNOWN", f"{repository.name} has no image {reference}")
    image = found[0]
    body = image.image_manifest.encode()
    media_type = image.image_manifest_media_type or json.loads(body).get("mediaType", "")
    headers = [
        ("Content-Type", media_type),
        ("Content-Length", str(len(body))),
        ("Docker-Content-Digest", image.image_digest),
    ]
    return Answer("200 OK", headers, [body])


def download(store: BlobStore, path: str) -> Answer:
    match = DOWNLOAD.match(path)
    found = list(repositories(match["name"], match["account"], match["region"])) if match else []
    if not match or not found:
        return error("NAME_UNKNOWN", f"no repository at {path}")
    return blob(store, found[0], match["digest"])


def logged_in_account(authorization: str) -> str | None:
    """The account whose GetAuthorizationToken token `authorization` (Basic, user `AWS`) carries; None without one."""
    scheme, _, encoded = authorization.partition(" ")
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password_account(password) if scheme.lower() == "basic" and user == "AWS" else None


def unauthorized(host: str) -> Answer:
    """ECR's answer to a request without its login: a Basic challenge naming the ECR service."""
    answer = json_answer("401 Unauthorized", {"errors": [{"code": "UNAUTHORIZED", "message": "Not Authorized"}]})
    answer.headers.append(("WWW-Authenticate", f'Basic realm="http://{host}/",service="ecr.amazonaws.com"'))
    return answer


def registry(store: BlobStore, path: str, authorization: str = "", host: str = "") -> Answer:
    account = logged_in_account(authorization)
    if account is None:
        return unauthorized(host)
    if path == "/v2/":
        return json_answer("200 OK", {})
    match = V2_OBJECT.match(path) or V2_TAGS.match(path)
    if not match:
        return error("NAME_UNKNOWN", f"nothing at {path}")
    found = list(repositories(match["name"], account))  # a token opens its own account's registry
    if len(found) != 1:
        held = "is held in several accounts or regions" if found else "does not exist"
        return error("NAME_UNKNOWN", f"the repository {match['name']} {held}")
    repository = found[0]
    if match.re is V2_TAGS:
        tags = sorted({tag for image in repository.images for tag in image.image_tags})
        return json_answer("200 OK", {"name": repository.name, "tags": tags})
    if match["kind"] == "blobs":
        return blob(store, repository, match["reference"])
    return manifest(repository, match["reference"])


def is_signed(environ: dict[str, Any]) -> bool:
    """An AWS client's request (SigV4 or SigV2 header, or a presigned URL)."""
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    return authorization.startswith(("AWS4-", "AWS ")) or "X-Amz-Signature=" in str(environ.get("QUERY_STRING", ""))


def wsgi(app: WsgiApp, store: BlobStore) -> WsgiApp:
    """`app` (moto's), answering the download URLs and the registry view itself."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = str(environ.get("PATH_INFO", "")), environ.get("REQUEST_METHOD")
        if path.startswith(BLOB_PATH + "/"):
            answer = download(store, path)
        elif path.startswith("/v2/") and method in ("GET", "HEAD") and not is_signed(environ):
            answer = registry(
                store, path, str(environ.get("HTTP_AUTHORIZATION", "")), str(environ.get("HTTP_HOST", ""))
            )
        else:
            return app(environ, start_response)
        start_response(answer.status, [API_VERSION, *answer.headers])
        return [] if method == "HEAD" else answer.body

    return serve
