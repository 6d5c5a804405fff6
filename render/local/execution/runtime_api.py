"""The AWS Lambda Runtime API for one local function instance, on 127.0.0.1.

Each instance gets its own server (its own port in AWS_LAMBDA_RUNTIME_API), so it only ever sees
the events handed to it. Nothing else may take them: the server listens inside the instance's
own network namespace where it has one (network.py), and every path starts with a secret of the
instance's (AWS_LAMBDA_RUNTIME_API is HOST:PORT/SECRET, which runtimes joining
`http://` + it + `/2018-06-01/...` honour); a request without it is refused with 403.
`invoke` queues an event; the runtime's `GET .../invocation/next` takes it (blocking until there
is one) with Lambda's headers, the deadline counted from that moment;
`POST .../invocation/{id}/response` or `/error` completes it; `POST .../init/error` marks the
instance as failed.
"""

from __future__ import annotations

import functools
import queue
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from render.local.execution.network import Network

PREFIX = "/2018-06-01/runtime"
_POST_PATH = re.compile(rf"{PREFIX}/(?:invocation/(?P<id>[^/]+)/(?P<kind>response|error)|init/error)")
SECRET_BYTES = 24
POLL_SECONDS = 0.1


@dataclass
class Pending:
    """One invocation: queued, then taken by the runtime, then done with its response or error."""

    request_id: str
    event: bytes
    timeout_s: float
    taken_at: float | None = None  # time.monotonic() when the runtime took it
    kind: str = ""  # "response" or "error" once done
    body: bytes = b""
    done: threading.Event = field(default_factory=threading.Event)
    taken: threading.Event = field(default_factory=threading.Event)


@dataclass
class _State:
    function_arn: str
    secret: str  # every path starts with /SECRET
    events: queue.Queue[Pending] = field(default_factory=queue.Queue)
    handed_out: dict[str, Pending] = field(default_factory=dict)
    init_error: bytes | None = None
    failed: threading.Event = field(default_factory=threading.Event)
    closed: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else a delayed-ACK stall on every answer
    state: _State

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the instance's own log says what happened

    def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _path(self) -> str | None:
        """The path after the secret; None (and 403 answered) without it."""
        secret = f"/{self.state.secret}"
        if secrets.compare_digest(self.path[: len(secret)].encode(), secret.encode()):
            return self.path[len(secret) :]
        self._answer(403, b'{"errorType": "AccessDenied"}')
        return None

    def do_GET(self) -> None:
        path = self._path()
        if path is None:
            return
        if path != f"{PREFIX}/invocation/next":
            self._answer(404)
            return
        while not self.state.closed.is_set():
            try:
                pending = self.state.events.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            self._hand_out(pending)
            return

    def _hand_out(self, pending: Pending) -> None:
        with self.state.lock:
            self.state.handed_out[pending.request_id] = pending
        pending.taken_at = time.monotonic()
        pending.taken.set()
        headers = {
            "Lambda-Runtime-Aws-Request-Id": pending.request_id,
            "Lambda-Runtime-Deadline-Ms": str(int((time.time() + pending.timeout_s) * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": self.state.function_arn,
            "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
            "Content-Type": "application/json",
        }
        self._answer(200, pending.event, headers)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self._path()
        if path is None:
            return
        match = _POST_PATH.fullmatch(path)
        if match is None:
            self._answer(404)
            return
        if match["id"] is None:
            self.state.init_error = body
            self.state.failed.set()
            self._answer(202, b'{"status": "OK"}')
            return
        with self.state.lock:
            pending = self.state.handed_out.pop(match["id"], None)
        if pending is None:
            self._answer(400, b'{"errorType": "InvalidRequestID"}')
            return
        pending.kind, pending.body = match["kind"], body
        pending.done.set()
        self._answer(202, b'{"status": "OK"}')


class RuntimeApi:
    """The Runtime API of one instance, inside `network` when it has one; `address` goes into its
    AWS_LAMBDA_RUNTIME_API."""

    def __init__(self, function_arn: str, network: Network | None = None) -> None:
        self._state = _State(function_arn, secrets.token_urlsafe(SECRET_BYTES))
        handler = type("Handler", (_Handler,), {"state": self._state})
        serve = functools.partial(ThreadingHTTPServer, ("127.0.0.1", 0), handler)
        self._server = network.inside(serve) if network else serve()
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}/{self._state.secret}"

    @property
    def init_error(self) -> bytes | None:
        """What the runtime posted to /init/error, if it did."""
        return self._state.init_error if self._state.failed.is_set() else None

    def invoke(self, event: bytes, timeout_s: float) -> Pending:
        pending = Pending(str(uuid.uuid4()), event, timeout_s)
        self._state.events.put(pending)
        return pending

    def close(self) -> None:
        self._state.closed.set()
        self._server.shutdown()
        self._server.server_close()
