"""A process's output, read as it comes: what a warm Lambda instance prints between its invocations."""

from __future__ import annotations

import os
import select
import threading

from render.local.execution.kept_output import MAX_LINE_BYTES, KeptOutput, split_line
from render.local.execution.process import now_ms

READ_CHUNK = 1 << 16


class OutputLines:
    """A process's output pipe, read into timestamped lines as it comes (and on demand), within bounds."""

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self._fd = fd
        self._lock = threading.Lock()
        self._lines = KeptOutput()
        self._partial = b""
        self._open = True
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self) -> None:
        while self._open:
            select.select([self._fd], [], [], 1.0)
            with self._lock:
                self._drain()

    def _drain(self) -> None:
        """Read what the pipe holds now (the lock held); close it at its end."""
        while self._open:
            try:
                chunk = os.read(self._fd, READ_CHUNK)
            except BlockingIOError:
                return
            if not chunk:
                self._open = False
                os.close(self._fd)
                chunk = b"\n" if self._partial else b""
            *lines, self._partial = (self._partial + chunk).split(b"\n")
            if len(self._partial) > MAX_LINE_BYTES:  # a line without an end: keep it in pieces
                *pieces, self._partial = split_line(self._partial)
                lines += pieces
            stamp = now_ms()
            for line in lines:
                for piece in split_line(line):
                    self._lines.add(stamp, piece.decode("utf-8", "replace"))

    def take(self) -> list[tuple[int, str]]:
        """The lines written since the last call (a line still being written counts)."""
        with self._lock:
            self._drain()
            if self._partial:
                self._lines.add(now_ms(), self._partial.decode("utf-8", "replace"))
                self._partial = b""
            return self._lines.take()
