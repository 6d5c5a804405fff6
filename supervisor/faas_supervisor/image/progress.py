"""The copy of an image's missing blobs: its throughput, logged blob by blob, and whether it fits in an invocation."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from faas_supervisor.image.oci import Blob

log = logging.getLogger(__name__)

INVOCATION_SECONDS = 900.0  # a Lambda invocation's limit: the builder's copy must fit in it


class CopyProgress:
    """Logs each copied blob with the rate so far; warns once when the whole copy would outlast an invocation."""

    def __init__(self, blobs: Sequence[Blob], clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.done, self.clock = sum(blob.size for blob in blobs), 0, clock
        self.started, self.warned = clock(), False

    def copied(self, blob: Blob) -> None:
        self.done += blob.size
        seconds = max(self.clock() - self.started, 1e-3)
        rate = self.done / seconds
        log.info(
            "copied %s (%d bytes): %d of %d bytes in %.1f s, %.1f MB/s",
            *(blob.digest, blob.size, self.done, self.total, seconds, rate / 1e6),
        )
        needed = self.total / rate
        if needed > INVOCATION_SECONDS and self.done < self.total and not self.warned:
            self.warned = True
            log.warning(
                "copying %d bytes at the measured %.1f MB/s takes about %.0f s, more than one %.0f s invocation: "
                "a build cut short resumes from the blobs already copied when applied again, but a single layer "
                "too large to copy in one invocation never completes (a smaller base, or a base in ECR, avoids it)",
                *(self.total, rate / 1e6, needed, INVOCATION_SECONDS),
            )
