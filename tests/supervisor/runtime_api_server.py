"""A minimal AWS Lambda Runtime API on 127.0.0.1, for the supervisor's tests and benchmark.

`invoke` queues an event; the runtime's `GET .../invocation/next` takes it (blocking until there
is one) with Lambda's headers, the deadline counted from that moment. What the runtime posts back
(responses, errors, init errors) is recorded with its arrival time, and `wait` / `wait_init_error`
/ `wait_next_calls` let the caller wait for it. Only the parts of the API the supervisor uses.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"
T = TypeVar("T")
_POST_PATH = re.compile(rf"{PREFIX}/(?:invocation/(?P<id>[^/]+)/(?P<kind>response|error)|init/(?P<init>error))")


@dataclass(frozen=True)
class Pending:
    request_id: str
    body: bytes
    deadline_s: float  # from the moment the runtime takes the event
    headers: dict[str, str | None]  # added to (or, with None, removed from) Lambda's headers


@dataclass(frozen=True)
class Posted:
    kind: str  # "response", "error" or "init-error"
    request_id: str | None
    body: bytes
    headers: dict[str, str]
    at: float  # time.perf_counter() on arrival

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _State:
    events: queue.Queue[Pending] = field(default_factory=queue.Queue)
    changed: threading.Condition = field(default_factory=threading.Condition)
    posted: list[Posted] = field(default_factory=list)
    next_calls: list[float] = field(default_factory=list)  # perf_counter() of each GET next
    handed_out: dict[str, float] = field(default_factory=dict)  # request id -> perf_counter()
    closed: threading.Event = field(default_factory=threading.Event)

    def record(self, update: Callable[[], object]) -> None:
        with self.changed:
            update()
            self.changed.notify_all()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Lambda's endpoint
    disable_nagle_algorithm = True  # as Lambda's endpoint; else a 40 ms delayed-ACK stall per answer
    state: _State  # set on the subclass each server makes

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the tests read the supervisor's log, not ours

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
        now = time.perf_counter()
        self.state.record(lambda: self.state.next_calls.append(now))
        while not self.state.closed.is_set():
            try:
                pending = self.state.events.get(timeout=0.1)
            except queue.Empty:
                continue
            self._hand_out(pending)
            return

    def _hand_out(self, pending: Pending) -> None:
        headers: dict[str, str | None] = {
            "Lambda-Runtime-Aws-Request-Id": pending.request_id,
            "Lambda-Runtime-Deadline-Ms": str(int((time.time() + pending.deadline_s) * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
            "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
            **pending.headers,
        }
        now = time.perf_counter()
        self.state.record(lambda: self.state.handed_out.__setitem__(pending.request_id, now))
        self._answer(200, pending.body, {k: v for k, v in headers.items() if v is not None})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        now = time.perf_counter()
        match = _POST_PATH.fullmatch(self.path)
        request_id = match["id"] if match else None
        if match is None or (request_id is not None and request_id not in self.state.handed_out):
            self._answer(400, b'{"errorType": "InvalidRequestID"}')
            return
        posted = Posted(match["kind"] or "init-error", request_id, body, dict(self.headers.items()), now)
        self.state.record(lambda: self.state.posted.append(posted))
        self._answer(202, b'{"status": "OK"}')


class RuntimeApiServer:
    def __init__(self) -> None:
        self.state = _State()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        # A short poll interval: shutdown() waits for it, in every test's teardown.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="runtime-api", daemon=True
        )
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def invoke(
        self,
        event: Any = None,
        *,
        body: bytes | None = None,
        deadline_s: float = 60.0,
        headers: dict[str, str | None] | None = None,
    ) -> str:
        """Queue an event (JSON-encoded, or `body` as is); return its request id."""
        request_id = str(uuid.uuid4())
        data = json.dumps(event).encode() if body is None else body
        self.state.events.put(Pending(request_id, data, deadline_s, dict(headers or {})))
        return request_id

    def _wait_for(self, found: Callable[[], T | None], timeout: float, what: str) -> T:
        with self.state.changed:
            result = self.state.changed.wait_for(found, timeout)
            if result is None:
                raise TimeoutError(f"no {what} within {timeout} s")
            return result

    def wait(self, request_id: str, timeout: float = 60.0) -> Posted:
        """The response or error posted for `request_id`."""

        def found() -> Posted | None:
            return next((p for p in self.state.posted if p.request_id == request_id), None)

        return self._wait_for(found, timeout, f"response or error for {request_id}")

    def wait_init_error(self, timeout: float = 60.0) -> Posted:
        def found() -> Posted | None:
            return next((p for p in self.state.posted if p.kind == "init-error"), None)

        return self._wait_for(found, timeout, "init error")

    def wait_next_calls(self, count: int, timeout: float = 60.0) -> list[float]:
        """The times of the first `count` GET next requests."""

        def found() -> list[float] | None:
            calls = self.state.next_calls
            return calls[:count] if len(calls) >= count else None

        return self._wait_for(found, timeout, f"{count} next request(s)")

    @property
    def next_calls(self) -> list[float]:
        with self.state.changed:
            return list(self.state.next_calls)

    def handed_out_at(self, request_id: str) -> float:
        with self.state.changed:
            return self.state.handed_out[request_id]

    def close(self) -> None:
        self.state.closed.set()
        self.server.shutdown()
        self.server.server_close()
