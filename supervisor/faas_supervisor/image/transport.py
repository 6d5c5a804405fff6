"""HTTP requests to registries with http.client: streamed bodies, redirects without credentials."""

from __future__ import annotations

import http.client
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from faas_supervisor.image.errors import RegistryError
from faas_supervisor.image.oci import CHUNK
from faas_supervisor.image.reference import checked_url

Body = bytes | Iterable[bytes] | None
TIMEOUT = 60.0
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 5
_MAX_DOCUMENT = 8 * 1024 * 1024
# Transient failures (a registry's 5xx, Docker Hub's 429, a reset connection) are tried again after
# these pauses; a request whose body is a stream cannot be sent again and is not retried.
RETRY_DELAYS = (1.0, 3.0, 9.0)
_TRANSIENT = (429, 500, 502, 503, 504)
_MAX_RETRY_AFTER = 30.0

log = logging.getLogger(__name__)


@dataclass
class Response:
    """An open response; read it whole (`document`) or in chunks (`chunks`), then it is closed."""

    method: str
    url: str
    status: int
    headers: http.client.HTTPMessage
    raw: http.client.HTTPResponse
    connection: http.client.HTTPConnection

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""

    def document(self, limit: int = _MAX_DOCUMENT) -> bytes:
        try:
            data = self.raw.read(limit + 1)
        finally:
            self.close()
        if len(data) > limit:
            raise RegistryError(f"{self.method} {self.url}: the answer is larger than {limit} bytes")
        return data

    def chunks(self) -> Iterator[bytes]:
        try:
            while chunk := self.raw.read(CHUNK):
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self.connection.close()

    def error(self, doing: str) -> RegistryError:
        """The registry's own error (first code and message of its JSON body), for the user."""
        detail = ""
        try:
            errors = json.loads(self.document(64 * 1024)).get("errors") or []
            detail = f": {errors[0].get('code', '')} {errors[0].get('message', '')}".rstrip()
        except (ValueError, AttributeError, IndexError, RegistryError, OSError):
            pass
        return RegistryError(f"{doing}: {self.method} {self.url} answered {self.status} {self.raw.reason}{detail}")


def send(method: str, url: str, headers: dict[str, str], body: Body = None) -> Response:
    """One request, redirects followed; the Authorization header only goes to the URL's own origin."""
    origin = _origin(url)
    for _ in range(_MAX_REDIRECTS + 1):
        response = _send_retried(method, url, headers, body)
        if response.status not in _REDIRECTS or method not in ("GET", "HEAD"):
            return response
        response.close()
        url = urljoin(url, response.header("Location"))
        if _origin(url) != origin:
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    raise RegistryError(f"{method} {url}: more than {_MAX_REDIRECTS} redirects")


def _send_retried(method: str, url: str, headers: dict[str, str], body: Body) -> Response:
    """`_send_once`, tried again with backoff after a transient failure when the body can be sent again."""
    repeatable = body is None or isinstance(body, bytes)
    for delay in RETRY_DELAYS if repeatable else ():
        try:
            response = _send_once(method, url, headers, body)
        except RegistryError as error:
            problem = str(error)
        else:
            if response.status not in _TRANSIENT:
                return response
            delay = max(delay, _retry_after(response.header("Retry-After")))
            problem = f"{method} {url} answered {response.status} {response.raw.reason}"
            response.close()
        log.warning("%s: trying again in %.0f s", problem, delay)
        time.sleep(delay)
    return _send_once(method, url, headers, body)


def _retry_after(value: str) -> float:
    """Retry-After in seconds (a date is not honoured), at most _MAX_RETRY_AFTER."""
    try:
        return min(float(value), _MAX_RETRY_AFTER)
    except ValueError:
        return 0.0


def _send_once(method: str, url: str, headers: dict[str, str], body: Body) -> Response:
    parts = urlsplit(checked_url(url))
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.netloc, timeout=TIMEOUT)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(method, target or "/", body=body, headers=headers)
        raw = connection.getresponse()
    except OSError as error:
        connection.close()
        raise RegistryError(f"{method} {url}: {error}") from None
    except BaseException:
        connection.close()
        raise
    return Response(method, url, raw.status, raw.headers, raw, connection)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
