"""The builder's copy logs its throughput and warns when the base cannot be copied in one invocation."""

from __future__ import annotations

import logging

import pytest
from faas_supervisor.image.oci import Blob
from faas_supervisor.image.progress import INVOCATION_SECONDS, CopyProgress

MB = 1_000_000


def blob(number: int, size: int) -> Blob:
    return Blob(f"sha256:{number:064x}", size, "application/vnd.oci.image.layer.v1.tar+gzip")


def copy(sizes: list[int], seconds_each: float, caplog: pytest.LogCaptureFixture) -> list[str]:
    blobs = [blob(number, size) for number, size in enumerate(sizes)]
    now = [0.0]
    progress = CopyProgress(blobs, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="faas_supervisor.image.progress"):
        for copied in blobs:
            now[0] += seconds_each
            progress.copied(copied)
    return [record.getMessage() for record in caplog.records]


def test_throughput_is_logged_blob_by_blob(caplog: pytest.LogCaptureFixture) -> None:
    messages = copy([10 * MB, 30 * MB], 2.0, caplog)
    assert messages[0].endswith(": 10000000 of 40000000 bytes in 2.0 s, 5.0 MB/s")
    assert messages[1].endswith(": 40000000 of 40000000 bytes in 4.0 s, 10.0 MB/s")
    assert not any("invocation" in message for message in messages)


def test_a_base_too_large_for_one_invocation_is_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    # 100 MB per 10 s: 10 GB take 1000 s, more than the 900 s an invocation has.
    messages = copy([100 * MB] * 100, 10.0, caplog)
    warnings = [message for message in messages if "invocation" in message]
    assert INVOCATION_SECONDS == 900
    assert warnings == [
        "copying 10000000000 bytes at the measured 10.0 MB/s takes about 1000 s, more than one 900 s invocation: "
        "a build cut short resumes from the blobs already copied when applied again, but a single layer too large "
        "to copy in one invocation never completes (a smaller base, or a base in ECR, avoids it)"
    ]
