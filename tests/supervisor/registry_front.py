"""A loopback front for a real registry that asks for authentication and redirects blob downloads.

Registries in the wild answer 401 with a Bearer challenge (Docker Hub, GHCR) or a Basic one,
and send blob downloads to a CDN or S3 on another host. This front does both in front of the
test registry: `/token` is its token service, and blob GETs are redirected to `/cdn/...` on
another origin (`localhost` instead of `127.0.0.1`), which records the headers it receives.
"""

from __future__ import annotations

import base64
import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN = "token-for-the-test"


@dataclass
class FrontState:
    upstream: str  # host:port of the real registry
    scheme: str  # "bearer" or "basic"
    password: str
    port: int = 0
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)
    token_authorizations: list[str | None] = field(default_factory=list)
    cdn_authorizations: list[str | None] = field(default_factory=list)

    @property
    def accepted(self) -> str:
        if self.scheme == "bearer":
            return f"Bearer {TOKEN}"
        return "Basic " + base64.b64encode(f"user:{self.password}".encode()).decode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def _answer(self) -> None:
        state, path = self.server.state, urlsplit(self.path)
        authorization = self.headers.get("Authorization")
        if path.path == "/token":
            state.token_requests.append(parse_qs(path.query))
            state.token_authorizations.append(authorization)
            self._send(200, {"Content-Type": "application/json"}, f'{{"token": "{TOKEN}"}}'.encode())
        elif path.path.startswith("/cdn/"):
            state.cdn_authorizations.append(authorization)
            self._proxy("/v2/" + self.path.removeprefix("/cdn/"))
        elif authorization != state.accepted:
            self._send(401, {"WWW-Authenticate": self._challenge(path.path)}, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
        elif "/blobs/" in path.path and self.command == "GET":
            self._send(307, {"Location": f"http://localhost:{state.port}/cdn/{self.path.removeprefix('/v2/')}"}, b"")
        else:
            self._proxy(self.path)

    def _challenge(self, path: str) -> str:
        state = self.server.state
        if state.scheme == "basic":
            return 'Basic realm="front"'
        repository = path.removeprefix("/v2/").split("/manifests/")[0].split("/blobs/")[0]
        scope = f',scope="repository:{repository}:pull"' if repository else ""
        return f'Bearer realm="http://127.0.0.1:{state.port}/token",service="front"{scope}'

    def _proxy(self, path: str) -> None:
        upstream = http.client.HTTPConnection(self.server.state.upstream, timeout=30)
        headers = {"Accept": self.headers["Accept"]} if self.headers.get("Accept") else {}
        upstream.request(self.command, path, headers=headers)
        answer = upstream.getresponse()
        body = answer.read()
        upstream.close()
        kept = ("Content-Type", "Docker-Content-Digest")
        self._send(answer.status, {k: answer.headers[k] for k in kept if answer.headers.get(k)}, body)

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    state: FrontState


@contextmanager
def registry_front(upstream: str, scheme: str, password: str = "") -> Iterator[FrontState]:
    """A front on 127.0.0.1 for the registry at `upstream` (host:port); its address is 127.0.0.1:state.port."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = FrontState(upstream, scheme, password, server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.state
    finally:
        server.shutdown()
        server.server_close()
