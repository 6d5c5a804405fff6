"""Following what `faas local` runs, over HTTP, from another process (`faas put`, `faas invoke`).

GET /_faas/activity?after=N answers with the progress lines from N on, how many triggered runs are
queued or running, and the totals so far (the path cannot be a bucket: underscores are not
allowed in bucket names). `follow` shows the lines until the emulator is idle: `faas put` and
`faas invoke` use it to wait for the workflow they started.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from render.local.execution.errors import LocalError
from render.local.progress import Summary, print_progress

ACTIVITY_PATH = "/_faas/activity"


@dataclass
class Activity:
    """GET /_faas/activity's answer."""

    pending: int  # triggered runs and invocations queued or running
    next: int  # the number of the next progress line
    lines: list[str] = field(default_factory=list)
    runs: int = 0
    failed: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)

    def since(self, start: Activity) -> Summary:
        return Summary(self.runs - start.runs, self.failed[len(start.failed) :], self.written[len(start.written) :])


def activity(endpoint: str | None, after: int = 0) -> Activity | None:
    """The service's activity from line `after` on; None when the endpoint runs no service."""
    if not endpoint:
        return None
    try:
        with urllib.request.urlopen(f"{endpoint.rstrip('/')}{ACTIVITY_PATH}?after={after}", timeout=10) as response:
            answer = json.load(response)
        return Activity(**answer)
    except (OSError, ValueError, TypeError):  # not faas local: moto answers with an S3 error
        return None


def follow(
    endpoint: str,
    start: Activity,
    progress: Callable[[str], None] = print_progress,
    busy: Callable[[], bool] = lambda: False,
) -> Summary:
    """Show the service's progress from `start` on until it is idle (and not `busy`); what it did meanwhile."""
    after = start.next
    while True:
        waiting = busy()  # before asking: what the caller started is queued by the time it is not busy
        now = activity(endpoint, after)
        if now is None:
            raise LocalError(f"lost the emulator at {endpoint} (did `faas local` stop?)")
        for line in now.lines:
            progress(line)
        after = now.next
        if now.pending == 0 and not waiting:
            return now.since(start)
        time.sleep(0.2)
