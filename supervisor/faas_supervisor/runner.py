"""Run the user's command in its own session, with an optional deadline.

The child gets its own process group (start_new_session=True). At the deadline the whole
group is killed with SIGKILL (SCAR killed only the direct child, leaving its children running);
when the script exits normally, background processes it left in its group are killed too, so
nothing keeps running into the next (warm) Lambda invocation. stdout is inherited (it goes to
the function's log); stderr is copied to ours and its tail is kept for error messages.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import SupervisorError

STDERR_TAIL_BYTES = 4096


@dataclass(frozen=True)
class RunResult:
    returncode: int | None  # None when the command was killed at the deadline or never started
    timed_out: bool
    stderr_tail: str
    duration: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


class _StderrPump(threading.Thread):
    """Copy the child's stderr to our fd 2, keeping the last STDERR_TAIL_BYTES."""

    def __init__(self, fd: int) -> None:
        super().__init__(name="faas-stderr", daemon=True)
        self.fd = fd
        self.tail = bytearray()

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            with contextlib.suppress(OSError):
                os.write(2, chunk)
            self.tail += chunk
            del self.tail[:-STDERR_TAIL_BYTES]


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    timeout: float | None,
) -> RunResult:
    """Run argv; `timeout` in seconds (None = no limit, <= 0 = no time left: not started)."""
    if timeout is not None and timeout <= 0:
        return RunResult(None, True, "", 0.0)
    start = time.monotonic()
    # No /dev in a minimal chroot or image: give stdin an already-closed pipe instead.
    has_devnull = os.path.exists(os.devnull)
    try:
        proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL if has_devnull else subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:  # e.g. an image without /bin/sh
        raise SupervisorError(f"cannot start {argv[0]}: {exc.strerror or exc}") from exc
    if proc.stdin is not None:
        proc.stdin.close()
    assert proc.stderr is not None
    pump = _StderrPump(proc.stderr.fileno())
    pump.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid)
        proc.wait()
    finally:
        # Background processes of the script: same group, killed with it.
        _kill_group(proc.pid)
        pump.join(timeout=5)
        if not pump.is_alive():  # else a process that left the group still holds the pipe
            proc.stderr.close()
    tail = bytes(pump.tail).decode("utf-8", errors="replace")
    return RunResult(None if timed_out else proc.returncode, timed_out, tail, time.monotonic() - start)
