"""Transient registry failures (5xx, Docker Hub's 429, reset connections) are tried again with backoff.

A loopback front before the real test registry fails the first requests as it is told, then
forwards the rest; it records every request, and can hold blob GETs to see them overlap.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from faas_supervisor.image import RegistryDestination, RegistryError, RegistrySource, assemble, transport

from tests.helpers import LocalRegistry
from tests.supervisor.image_builders import BaseImages
from tests.supervisor.test_image_faults import ENTRYPOINT, OURS


@dataclass
class Faults:
    upstream: str
    failures: list[str]  # what the next requests get: "503", "429", "reset"; then the registry's answer
    seen: list[str] = field(default_factory=list)  # "METHOD PATH" of every request, in order
    together: set[str] = field(default_factory=set)  # blobs whose GETs wait for one another (5 s at most)
    most_together: int = 0  # the most of those GETs the front held at once
    _held: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _meeting: threading.Barrier | None = None

    def meet(self) -> None:
        """Hold a GET of one of `together` until all of them are held (a serial copy holds one only)."""
        with self._lock:
            self._meeting = self._meeting or threading.Barrier(len(self.together), timeout=5)
            self._held += 1
            self.most_together = max(self.most_together, self._held)
        try:
            self._meeting.wait()
        except threading.BrokenBarrierError:
            pass
        finally:
            with self._lock:
                self._held -= 1


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def _answer(self) -> None:
        faults = self.server.faults
        faults.seen.append(f"{self.command} {self.path}")
        if self.command == "GET" and self.path.rpartition("/")[2] in faults.together:
            faults.meet()
        fault = faults.failures.pop(0) if faults.failures else None
        if fault == "reset":  # RST instead of an answer
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if fault is not None:
            self.send_response(int(fault))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        upstream = http.client.HTTPConnection(faults.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        upstream.request(self.command, self.path, headers=headers)
        answer = upstream.getresponse()
        body = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        upstream.close()


class _Server(ThreadingHTTPServer):
    faults: Faults


@contextmanager
def faulty_front(
    registry: LocalRegistry, failures: list[str], together: set[str] | None = None
) -> Iterator[tuple[str, Faults]]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.faults = Faults(registry.host, failures, together=together or set())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", server.faults
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "RETRY_DELAYS", (0.01, 0.01, 0.01))


def _build(front: str, registry: LocalRegistry, base_images: BaseImages) -> str:
    reference = base_images.ref("docker").replace(registry.host, front)
    repository = f"fn/{uuid.uuid4().hex[:8]}"
    destination = RegistryDestination(registry.host)
    return assemble(
        RegistrySource.parse(reference), destination, repository, "v1", "x86_64", OURS, ENTRYPOINT, {}
    ).digest


def test_transient_failures_are_tried_again(
    registry: LocalRegistry, base_images: BaseImages, caplog: pytest.LogCaptureFixture
) -> None:
    with faulty_front(registry, []) as (front, _):
        expected = _build(front, registry, base_images)
    with faulty_front(registry, ["503", "429", "reset"]) as (front, faults):
        assert _build(front, registry, base_images) == expected
    # The first request was answered only at its fourth attempt.
    assert len(set(faults.seen[:4])) == 1 and len(faults.seen) > 4
    assert [r.getMessage().split(": ")[-1] for r in caplog.records if "trying again" in r.getMessage()] == [
        "trying again in 0 s"
    ] * 3


def test_a_failure_that_lasts_is_reported(registry: LocalRegistry, base_images: BaseImages) -> None:
    with faulty_front(registry, ["503"] * 4) as (front, faults), pytest.raises(RegistryError, match="answered 503"):
        _build(front, registry, base_images)
    assert len(faults.seen) == 1 + len(transport.RETRY_DELAYS)


def test_a_client_error_is_not_tried_again(registry: LocalRegistry, base_images: BaseImages) -> None:
    with faulty_front(registry, ["403"]) as (front, faults), pytest.raises(RegistryError, match="answered 403"):
        _build(front, registry, base_images)
    assert len(faults.seen) == 1
