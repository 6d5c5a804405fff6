"""The AWS Lambda Runtime API for one local function instance, on 127.0.0.1.

Each instance gets its own server (its own port in AWS_LAMBDA_RUNTIME_API), so it only ever sees
the events handed to it. `invoke` queues an event; the runtime's `GET .../invocation/next` takes
it (blocking until there is one) with Lambda's headers, the deadline counted from that moment;
`POST .../invocation/{id}/response` or `/error` completes it; `POST .../init/error` marks the
instance as failed.
"""

from __future__ import annotations

import queue
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
_POST_PATH = re.compile(rf"{PREFIX}/(?:invocation/(?P<id>[^/]+)/(?P<kind>response|error)|init/error)")
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

    def do_GET(self) -> None:
        if self.path != f"{PREFIX}/invocation/next":
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
        match = _POST_PATH.fullmatch(self.path)
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
    """The Runtime API of one instance; `address` goes into its AWS_LAMBDA_RUNTIME_API."""

    def __init__(self, function_arn: str) -> None:
        self._state = _State(function_arn)
        handler = type("Handler", (_Handler,), {"state": self._state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

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
