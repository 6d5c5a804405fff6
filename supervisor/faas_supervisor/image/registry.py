"""A client of the registry HTTP API v2 (OCI distribution spec): manifests and streamed blobs."""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin, urlsplit

from faas_supervisor.image.auth import Authenticator, Credentials
from faas_supervisor.image.errors import DigestMismatch, RegistryError
from faas_supervisor.image.oci import INDEXES, MANIFESTS, Blob, is_digest, parse_json, sha256_digest, verified
from faas_supervisor.image.reference import checked_url
from faas_supervisor.image.transport import Body, Response, send

ACCEPT = ", ".join((*MANIFESTS, *INDEXES))
_MAX_MANIFEST = 4 * 1024 * 1024


@dataclass(frozen=True)
class Manifest:
    """A manifest or index exactly as the registry sent it; `digest` is the sha256 of `data`."""

    data: bytes
    media_type: str
    digest: str


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


def push_scope(repository: str) -> str:
    return f"repository:{repository}:pull,push"


class RegistryClient:
    """One registry, given by its base URL (`https://ghcr.io`, `http://127.0.0.1:5000`)."""

    def __init__(self, base_url: str, credentials: Credentials | None = None) -> None:
        self.base_url = checked_url(base_url).rstrip("/")
        self._auth = Authenticator(credentials)

    def get_manifest(self, repository: str, version: str) -> Manifest:
        """The manifest or index of a tag or digest, verified against the digest when one was asked for."""
        url = self._url(repository, f"manifests/{version}")
        doing = f"fetching the manifest of {repository}:{version}"
        response = self._request("GET", url, pull_scope(repository), doing, {"Accept": ACCEPT})
        if response.status != 200:
            raise response.error(doing)
        data = response.document(_MAX_MANIFEST)
        digest = sha256_digest(data)
        announced = version if version.startswith("sha256:") else response.header("Docker-Content-Digest")
        if announced and announced != digest:
            raise DigestMismatch(f"{doing}: {url} sent content {digest}, not {announced}; refused")
        media_type = parse_json(data, f"the manifest of {repository}:{version}").get("mediaType")
        return Manifest(data, media_type if isinstance(media_type, str) else response.header("Content-Type"), digest)

    def manifest_digest(self, repository: str, version: str) -> str | None:
        """What `version` names now, from a HEAD (Docker Hub counts a manifest GET as a pull, not a HEAD).

        None when the registry does not say (no Docker-Content-Digest) or knows no such manifest (a
        404 has no body on a HEAD: the GET that follows says why).
        """
        url = self._url(repository, f"manifests/{version}")
        doing = f"resolving the manifest of {repository}:{version}"
        response = self._request("HEAD", url, pull_scope(repository), doing, {"Accept": ACCEPT})
        response.close()
        if response.status not in (200, 404):
            raise response.error(doing)
        digest = response.header("Docker-Content-Digest")
        return digest if response.status == 200 and is_digest(digest) else None

    def put_manifest(self, repository: str, tag: str, data: bytes, media_type: str) -> str:
        doing = f"pushing the manifest {repository}:{tag}"
        url = self._url(repository, f"manifests/{tag}")
        response = self._request("PUT", url, push_scope(repository), doing, {"Content-Type": media_type}, data)
        if response.status not in (200, 201):
            raise response.error(doing)
        response.close()
        digest = sha256_digest(data)
        stored = response.header("Docker-Content-Digest")
        if stored and stored != digest:
            raise RegistryError(f"{doing}: the registry stored it as {stored}, not {digest}")
        return digest

    def has_blob(self, repository: str, digest: str) -> bool:
        doing = f"checking blob {digest} in {repository}"
        response = self._request("HEAD", self._url(repository, f"blobs/{digest}"), pull_scope(repository), doing)
        response.close()
        if response.status not in (200, 404):
            raise response.error(doing)
        return response.status == 200

    def blob_chunks(self, repository: str, blob: Blob) -> Generator[bytes, None, None]:
        """The blob's content in chunks, verified while it streams (redirects to a CDN followed)."""
        doing = f"downloading blob {blob.digest} of {repository}"
        response = self._request("GET", self._url(repository, f"blobs/{blob.digest}"), pull_scope(repository), doing)
        if response.status != 200:
            raise response.error(doing)
        return verified(response.chunks(), blob, f"{self.base_url}/{repository}")

    def mount_blob(self, repository: str, digest: str, source_repository: str) -> bool:
        """Cross-repository mount: True when the registry linked the blob without any upload."""
        doing = f"mounting blob {digest} from {source_repository} into {repository}"
        scope = f"{push_scope(repository)} {pull_scope(source_repository)}"
        query = urlencode({"mount": digest, "from": source_repository})
        response = self._request("POST", self._url(repository, f"blobs/uploads/?{query}"), scope, doing)
        response.close()
        if response.status == 202:  # not mounted, an upload was opened instead: give it back
            self._request("DELETE", self._upload_url(response), scope, doing).close()
        elif response.status != 201:
            raise response.error(doing)
        return response.status == 201

    def push_blob(self, repository: str, blob: Blob, chunks: Iterable[bytes]) -> None:
        """A monolithic upload (POST, then one PUT streaming `chunks` with the blob's length)."""
        doing = f"pushing blob {blob.digest} to {repository}"
        scope = push_scope(repository)
        response = self._request("POST", self._url(repository, "blobs/uploads/"), scope, doing)
        response.close()
        if response.status != 202:
            raise response.error(doing)
        location = self._upload_url(response)
        url = location + ("&" if "?" in location else "?") + urlencode({"digest": blob.digest})
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)}
        response = self._request("PUT", url, scope, doing, headers, chunks)
        if response.status != 201:
            raise response.error(doing)
        response.close()

    def _url(self, repository: str, path: str) -> str:
        return f"{self.base_url}/v2/{repository}/{path}"

    def _upload_url(self, response: Response) -> str:
        location = urljoin(response.url, response.header("Location"))
        if urlsplit(location).netloc != urlsplit(self.base_url).netloc:
            raise RegistryError(f"{response.url}: upload location {location} is on another host")
        return location

    def _request(
        self, method: str, url: str, scope: str, doing: str, headers: dict[str, str] | None = None, body: Body = None
    ) -> Response:
        """A request with the scope's Authorization; a 401 is answered once (a new or expired token)."""
        headers = dict(headers or {})
        known = self._auth.cached(scope)
        if known:
            headers["Authorization"] = known
        response = send(method, url, headers, body)
        challenge = response.header("WWW-Authenticate")
        if response.status != 401 or not challenge:
            return response
        response.close()
        if body is not None and not isinstance(body, bytes):
            # Uploads start with a bodyless POST of the same scope, so this means the token just expired.
            raise RegistryError(f"{doing}: the registry asked for authentication again during the upload")
        headers["Authorization"] = self._auth.answer(challenge, scope, doing)
        return send(method, url, headers, body)
