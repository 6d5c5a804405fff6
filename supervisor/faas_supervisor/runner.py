"""Run the user's command in its own session, with an optional deadline.

The child gets its own process group (start_new_session=True). At the deadline the whole
group is killed with SIGKILL (SCAR killed only the direct child, leaving its children running);
when the script exits normally, background processes it left in its group are killed too, so
nothing keeps running into the next (warm) Lambda invocation. Processes that left the group
(setsid, a double fork) are found by a per-run marker in their environment (RUN_MARKER, read
from /proc/<pid>/environ) and killed as well. stdout and stderr are copied to ours (the function's
log); the first MiB of stdout is kept for the answer, the tail of stderr for error messages.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import SupervisorError

STDERR_TAIL_BYTES = 4096
# The script's stdout, answered to a synchronous invocation as SCAR does (Lambda answers 6 MB at most).
STDOUT_KEPT_BYTES = 1024 * 1024
RUN_MARKER = "_FAAS_RUN_ID"  # in the script's environment: finds the run's processes that left its group
_KILL_ROUNDS = 20  # a process may fork while we kill: look again until none is left


@dataclass(frozen=True)
class RunResult:
    returncode: int | None  # None when the command was killed at the deadline or never started
    timed_out: bool
    stderr_tail: str
    duration: float
    stdout: str = ""  # its first STDOUT_KEPT_BYTES

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


class _Pump(threading.Thread):
    """Copy a pipe of the child to our own fd `copy_to` (the log), keeping the last `tail` bytes
    (stderr, for error messages) or the first `head` bytes (stdout, for the answer)."""

    def __init__(self, fd: int, copy_to: int, tail: int = 0, head: int = 0) -> None:
        super().__init__(name=f"faas-pipe-{copy_to}", daemon=True)
        self.fd, self.copy_to, self._tail, self._head = fd, copy_to, tail, head
        self.kept = bytearray()

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            with contextlib.suppress(OSError):
                os.write(self.copy_to, chunk)
            if self._tail:
                self.kept += chunk
                del self.kept[: -self._tail]
            elif len(self.kept) < self._head:
                self.kept += chunk[: self._head - len(self.kept)]

    def text(self) -> str:
        return bytes(self.kept).decode("utf-8", errors="replace")


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def marked_processes(entry: bytes) -> list[int]:
    """Live processes whose environment holds `entry` (NAME=value); zombies have none."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    me = str(os.getpid())
    found = []
    for name in names:
        if not name.isdigit() or name == me:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                environ = f.read()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if entry in environ.split(b"\0"):
            found.append(int(name))
    return found


def _kill_escaped(entry: bytes) -> None:
    """SIGKILL the run's processes that left its process group (setsid, double fork)."""
    for _ in range(_KILL_ROUNDS):
        pids = marked_processes(entry)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.005)


def _start_error(argv: Sequence[str], env: Mapping[str, str], exc: OSError) -> SupervisorError:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.E2BIG:
        size = sum(len(k) + len(v) + 2 for k, v in env.items())
        reason += (
            f" (the environment holds {size} bytes; Linux allows 128 KiB per variable "
            "and about 2 MiB for all of them with the arguments)"
        )
    return SupervisorError(f"cannot start {argv[0]}: {reason}")


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
    marker = uuid.uuid4().hex
    try:
        proc = subprocess.Popen(
            list(argv),
            env={**env, RUN_MARKER: marker},
            cwd=cwd,
            stdin=subprocess.DEVNULL if has_devnull else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:  # e.g. an image without /bin/sh, or an environment too large
        raise _start_error(argv, env, exc) from exc
    if proc.stdin is not None:
        proc.stdin.close()
    assert proc.stdout is not None and proc.stderr is not None
    pumps = [
        _Pump(proc.stdout.fileno(), 1, head=STDOUT_KEPT_BYTES),
        _Pump(proc.stderr.fileno(), 2, tail=STDERR_TAIL_BYTES),
    ]
    for pump in pumps:
        pump.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid)
        proc.wait()
    finally:
        # Background processes of the script: same group, killed with it; then those that left it.
        _kill_group(proc.pid)
        _kill_escaped(f"{RUN_MARKER}={marker}".encode())
        for pump, pipe in zip(pumps, (proc.stdout, proc.stderr), strict=True):
            pump.join(timeout=5)
            if not pump.is_alive():  # else a process that left the group still holds the pipe
                pipe.close()
    output, tail = pumps[0].text(), pumps[1].text()
    return RunResult(None if timed_out else proc.returncode, timed_out, tail, time.monotonic() - start, output)
