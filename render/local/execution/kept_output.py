"""How much of a run's output local mode keeps: the first and the last MiB of each invocation or job.

CloudWatch keeps every line a function prints. The emulator holds its logs in memory, so a function
that prints without end would take the emulator down with it (150 MB of output once cost 560 MB):
beyond the first MiB, only the last MiB is kept, and one line in between says how much was left out.
A line longer than a CloudWatch event is split, so a line without an end is bounded too.
"""

from __future__ import annotations

from collections import deque

HEAD_BYTES = 1 << 20
TAIL_BYTES = 1 << 20
MAX_LINE_BYTES = 256 * 1024 - 26  # a CloudWatch event's message at most (256 KiB with its overhead)


def omitted_line(lines: int, size: int) -> str:
    return (
        f"[faas local] {lines} lines ({size / (1 << 20):.1f} MiB) of output not kept: local mode keeps "
        f"the first and the last {HEAD_BYTES >> 20} MiB of each run's output (CloudWatch keeps all of it)"
    )


class KeptOutput:
    """Timestamped lines (milliseconds since the epoch), within HEAD_BYTES + TAIL_BYTES."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._head: list[tuple[int, str]] = []
        self._tail: deque[tuple[int, str]] = deque()
        self._head_size = self._tail_size = 0
        self._omitted = self._omitted_size = 0

    def add(self, stamp: int, text: str) -> None:
        size = len(text) + 1  # characters, not bytes: a bound, not a measure
        if not self._tail and self._head_size + size <= HEAD_BYTES:
            self._head.append((stamp, text))
            self._head_size += size
            return
        self._tail.append((stamp, text))
        self._tail_size += size
        while self._tail_size > TAIL_BYTES:
            _, dropped = self._tail.popleft()
            self._tail_size -= len(dropped) + 1
            self._omitted += 1
            self._omitted_size += len(dropped) + 1

    def take(self) -> list[tuple[int, str]]:
        """The lines kept since the last call, with a line where some were left out."""
        lines = self._head
        if self._omitted:
            stamp = self._tail[0][0] if self._tail else lines[-1][0]
            lines.append((stamp, omitted_line(self._omitted, self._omitted_size)))
        lines.extend(self._tail)
        self._reset()
        return lines


def split_line(line: bytes) -> list[bytes]:
    """`line` in pieces CloudWatch takes as events."""
    return [line[i : i + MAX_LINE_BYTES] for i in range(0, len(line), MAX_LINE_BYTES)] or [line]
