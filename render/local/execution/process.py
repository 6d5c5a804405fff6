"""Run one process of local mode (a Lambda invocation or a Batch job) and keep its log.

The process gets its own session (process group), so a timeout or Ctrl-C kills everything it
started. Its stdout and stderr are one stream of lines, timestamped as they arrive; the lines go
to CloudWatch Logs afterwards, where Lambda and Batch would have written them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from render.local.execution.kept_output import MAX_LINE_BYTES, KeptOutput

# CloudWatch Logs PutLogEvents: at most 10,000 events and 1,048,576 bytes (26 bytes per event overhead).
MAX_EVENTS_PER_PUT = 10_000
MAX_BYTES_PER_PUT = 1_000_000
EVENT_OVERHEAD = 26
MAX_MESSAGE_CHARS = 200_000  # an event holds at most 256 KiB


def now_ms() -> int:
    return int(time.time() * 1000)


class Log:
    """Timestamped lines (milliseconds since the epoch) kept within bounds, and where to echo them as they come."""

    def __init__(self, echo: Callable[[str], None] | None = None) -> None:
        self.echo = echo
        self._kept = KeptOutput()
        self._lines: list[tuple[int, str]] = []

    def add(self, text: str) -> None:
        self._kept.add(now_ms(), text)
        if self.echo:
            self.echo(text)

    @property
    def lines(self) -> list[tuple[int, str]]:
        """The lines kept so far, in order (a list the caller may add to)."""
        self._lines += self._kept.take()
        return self._lines

    def tail(self, count: int) -> list[str]:
        return [text for _, text in self.lines[-count:]]


@dataclass(frozen=True)
class Finished:
    returncode: int  # negative: killed by that signal
    timed_out: bool
    seconds: float


# How a run's process is started for run_logged (in a session of its own): its output read as one log.
LOGGED: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}


def run_logged(
    process: subprocess.Popen[bytes], log: Log, timeout: float | None = None, output: IO[bytes] | None = None
) -> Finished:
    """Follow a process started with LOGGED in its own session to its end (or `timeout` seconds, then
    kill its process group); its log is read from `output` when given (else its stdout)."""
    started = time.monotonic()
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        kill_group(process)

    timer = threading.Timer(timeout, kill) if timeout is not None else None
    try:
        if timer:
            timer.start()
        output = output or process.stdout
        assert output is not None
        # readline's limit bounds a line without an end: the rest comes as the next lines
        for raw in iter(lambda: output.readline(MAX_LINE_BYTES), b""):
            log.add(raw.decode("utf-8", "replace").rstrip("\n"))
        returncode = process.wait()
    finally:
        if timer:
            timer.cancel()
        if process.poll() is None:  # interrupted: leave nothing running behind
            kill_group(process)
            process.wait()
    return Finished(returncode, expired.is_set(), time.monotonic() - started)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def put_log(logs: Any, group: str, stream: str, lines: list[tuple[int, str]], exists: bool = False) -> None:
    """Write the lines as events of the log stream (creating the group and the stream unless it `exists`)."""
    if not exists:
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=group)
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
    batch: list[dict[str, Any]] = []
    size = 0
    for timestamp, text in lines:
        message = (text or " ")[:MAX_MESSAGE_CHARS]  # CloudWatch refuses empty messages
        cost = len(message.encode()) + EVENT_OVERHEAD
        if batch and (len(batch) == MAX_EVENTS_PER_PUT or size + cost > MAX_BYTES_PER_PUT):
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
            batch, size = [], 0
        batch.append({"timestamp": timestamp, "message": message})
        size += cost
    if batch:
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
