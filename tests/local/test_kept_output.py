"""Local mode keeps each run's first and last MiB of output: a function printing without end is bounded."""

from __future__ import annotations

import os
import subprocess

from render.local.execution.kept_output import HEAD_BYTES, MAX_LINE_BYTES, TAIL_BYTES, KeptOutput
from render.local.execution.output_lines import OutputLines
from render.local.execution.process import LOGGED, Log, run_logged

# 30 MB on one line without an end, then 300,000 numbered lines (about 2 MB).
FLOOD = "head -c 30000000 /dev/zero | tr '\\0' x; seq 1 300000"


def kept_size(lines: list[tuple[int, str]]) -> int:
    return sum(len(text) + 1 for _, text in lines)


def check_flood(lines: list[tuple[int, str]]) -> None:
    texts = [text for _, text in lines]
    assert kept_size(lines) <= HEAD_BYTES + TAIL_BYTES + 1000
    assert max(len(text) for text in texts) <= MAX_LINE_BYTES
    assert texts[0] == "x" * MAX_LINE_BYTES  # the head: the first pieces of the endless line
    assert texts[-1] == "300000"  # the tail: the last lines printed
    omitted = [text for text in texts if text.startswith("[faas local] ")]
    assert len(omitted) == 1 and "of output not kept" in omitted[0], omitted


def test_the_head_and_the_tail_are_kept_and_the_gap_is_said() -> None:
    kept = KeptOutput()
    for n in range(400_000):
        kept.add(n, f"line {n:07d}")  # 13 characters each: 5.2 MB in all
    lines = kept.take()
    texts = [text for _, text in lines]
    assert texts[0] == "line 0000000" and texts[-1] == "line 0399999"
    gap = texts.index(next(text for text in texts if text.startswith("[faas local]")))
    assert texts[gap - 1] == f"line {gap - 1:07d}"  # the head is whole, in order
    omitted = 400_000 - (len(texts) - 1)
    assert texts[gap].startswith(f"[faas local] {omitted} lines (")
    assert kept_size(lines) <= HEAD_BYTES + TAIL_BYTES + 200
    assert kept.take() == []  # taken: the next invocation starts empty


def test_a_warm_instances_output_is_bounded_per_invocation() -> None:
    read, write = os.pipe()
    process = subprocess.Popen(["sh", "-c", FLOOD], stdout=write)
    os.close(write)
    output = OutputLines(read)
    process.wait(timeout=120)
    check_flood(output.take())


def test_a_runs_log_is_bounded() -> None:
    log = Log()
    process = subprocess.Popen(["sh", "-c", FLOOD], start_new_session=True, **LOGGED)
    assert run_logged(process, log, timeout=120).returncode == 0
    check_flood(log.lines)
    log.add("ended")
    assert log.tail(2) == ["300000", "ended"]
