"""`faas local` in its own process, as a user runs it, and the two-step workflow the tests apply to one.

`upper` writes into `count`'s input folder (the `running` fixture of tests/local/conftest.py
renders and applies it once for the folder).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from render.local.activity import activity
from tests.helpers import aws_variables, free_port, render, run_faas

BUCKET = "local-service-faas"
FDL = f"""\
functions:
  aws:
  - lambda:
      name: upper
      memory: 128
      timeout: 30
      init_script: upper.sh
      container: {{image: alpine:3.20}}
      input: [{{storage_provider: s3, path: {BUCKET}/in}}]
      output: [{{storage_provider: s3, path: {BUCKET}/mid}}]
  - lambda:
      name: count
      memory: 128
      timeout: 30
      init_script: count.sh
      container: {{image: alpine:3.20}}
      input: [{{storage_provider: s3, path: {BUCKET}/mid}}]
      output: [{{storage_provider: s3, path: {BUCKET}/out}}]
"""
UPPER = """\
#!/bin/sh
set -eu
name=$(basename "$INPUT_FILE_PATH")
case "$name" in *fail*) echo "refusing $name" >&2; exit 3;; esac
tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$name"
"""
COUNT = """\
#!/bin/sh
set -eu
wc -c < "$INPUT_FILE_PATH" | tr -d ' ' > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH").count"
"""


@dataclass(frozen=True)
class FaasLocal:
    """A `faas local` process."""

    endpoint: str
    pid: int
    log: Path  # what it printed

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def settle(self, timeout: float = 60) -> None:
        """Wait until the emulator has nothing queued or running."""
        deadline = time.monotonic() + timeout
        while (now := activity(self.endpoint)) is not None and now.pending and time.monotonic() < deadline:
            time.sleep(0.1)
        assert now is not None and now.pending == 0, self.log.read_text()


@contextmanager
def faas_local(
    work: Path, *options: str, wrapper: Sequence[str] = (), environment: Mapping[str, str] | None = None
) -> Iterator[FaasLocal]:
    """`faas local` (with `options`, run through `wrapper`, with `environment` added) on a free port,
    until the block ends: then it must stop cleanly, unless the block ended it itself (kill -9)."""
    port = free_port()
    log = work / f"faas-local-{port}.log" if (work / "faas-local.log").exists() else work / "faas-local.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | dict(environment or {})
    with log.open("w") as output:
        server = subprocess.Popen(
            [*wrapper, sys.executable, "-m", "render.faas_cli", "local", "--port", str(port), *options],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        while "listening on" not in log.read_text():
            assert server.poll() is None, log.read_text()
            time.sleep(0.1)
        yield FaasLocal(f"http://127.0.0.1:{port}", server.pid, log)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)
    if server.returncode != -signal.SIGKILL:
        assert server.returncode == 0, log.read_text()
        assert log.read_text().rstrip().endswith("AWS emulator stopped")


@contextmanager
def applied_locally(
    work: Path, files: Mapping[str, str], mirror_url: str, frozen_supervisor: Path, network: Path | None = None
) -> Iterator[FaasLocal]:
    """`faas local` with the registry mirror, and `files` (fdl.yaml and its scripts) written to `work`,
    rendered into `work`/root and applied to it; the AWS variables name it until the block ends.
    With `network`, faas local writes Batch's network settings there and the render reads them."""
    for name, text in files.items():
        (work / name).write_text(text)
    options = ("--registry-mirror", mirror_url, *(("--network-config", str(network)) if network else ()))
    with faas_local(work, *options) as local, pytest.MonkeyPatch.context() as patch:
        for name, value in aws_variables(local.endpoint).items():
            patch.setenv(name, value)
        patch.setenv("FAAS_RENDER_SUPERVISOR_BUNDLE", str(frozen_supervisor))
        config = ("--config", str(network)) if network else ()
        assert render(work / "fdl.yaml", work / "root", *config, "--apply") == 0
        yield local


@dataclass(frozen=True)
class Running(FaasLocal):
    """`faas local` with the workflow above applied, rendered into `root`."""

    root: Path

    def s3(self) -> Any:
        return self.client("s3")

    def faas(self, *args: str, root: bool = True) -> Any:
        """A `faas` command pointed at this emulator (with --root unless told not to)."""
        with pytest.MonkeyPatch.context() as patch:
            for name, value in aws_variables(self.endpoint).items():
                patch.setenv(name, value)
            return run_faas(*args, *(("--root", str(self.root)) if root else ()))

    def wait_for(self, key: str, timeout: float = 60) -> bytes:
        s3 = self.s3()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
            except s3.exceptions.NoSuchKey:
                time.sleep(0.2)
        raise AssertionError(f"{key} never appeared; the emulator said:\n{self.log.read_text()}")
