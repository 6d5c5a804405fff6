"""Synthetic FDL files of any size for the benchmarks: mostly Lambda functions, every tenth on Batch."""

from __future__ import annotations

from pathlib import Path

FUNCTIONS_PER_BUCKET = 50


def write_fdl(folder: Path, functions: int, batch_every: int = 10) -> Path:
    """Write `bench-N.yaml` (and its script) into `folder`; every `batch_every`-th function uses Batch."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.sh").write_text('#!/bin/sh\ncp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"\n')
    lines = ["functions:", "  aws:"]
    for index in range(functions):
        mode = "batch" if batch_every and index % batch_every == 0 else "lambda"
        bucket = f"bench-bucket-{index // FUNCTIONS_PER_BUCKET}"
        lines += [
            "  - lambda:",
            f"      name: fn{index:04d}",
            f"      execution_mode: {mode}",
            "      init_script: run.sh",
            "      container: {image: alpine}",
            f"      input: [{{storage_provider: s3, path: {bucket}/in-{index}}}]",
            f"      output: [{{storage_provider: s3, path: {bucket}/out-{index}}}]",
        ]
    path = folder / f"bench-{functions}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


NETWORK = """\
aws:
  batch:
    compute_resources:
      subnets: [subnet-0123456789abcdef0]
      security_group_ids: [sg-0123456789abcdef0]
"""
