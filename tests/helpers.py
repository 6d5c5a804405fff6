"""What the tests share besides fixtures: paths, running the CLIs, Terraform, the emulator's environment."""

from __future__ import annotations

import contextlib
import http.client
import io
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from render.cli import main as faas_render_main
from render.faas_cli import main as faas_main
from render.terraform.run import terraform_environment

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
SCAR_CORPUS = REPO.parent / "shared" / "reference" / "scar-examples"
NETWORK_CONFIG = REPO / "tests" / "data" / "network.yaml"
EXAMPLE_FILES = {
    "hello": EXAMPLES / "hello" / "hello.yaml",
    "plant-classification": EXAMPLES / "plant-classification" / "plants.yaml",
    "video-process": EXAMPLES / "video-process" / "video-process.yaml",
}


def render(fdl: Path, output: Path, *extra: str) -> int:
    """faas-render in this process."""
    return faas_render_main([str(fdl), "-o", str(output), *extra])


def render_in_process(fdl: Path, root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """faas-render in its own process, as a user runs it."""
    command = [sys.executable, "-m", "render.cli", str(fdl), "-o", str(root), *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def run_faas(*args: str) -> Result:
    """A `faas` command in this process, its output captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = faas_main(list(args))
    return Result(code, out.getvalue(), err.getvalue())


def requires_terraform() -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")


def terraform(
    directory: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["terraform", *args],
        cwd=directory,
        env=terraform_environment(env),
        text=True,
        capture_output=True,
        check=check,
        timeout=900,
    )


def aws_variables(endpoint: str) -> dict[str, str]:
    """The environment that points boto3, the faas commands and Terraform at an emulator."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalRegistry:
    """A real registry (CNCF distribution) on 127.0.0.1, storing blobs under `root`."""

    host: str
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def blob_file(self, digest: str) -> Path:
        """Where the registry keeps a blob's bytes (tests corrupt them there)."""
        hex_digest = digest.removeprefix("sha256:")
        return self.root / "docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest / "data"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_registry(folder: Path) -> LocalRegistry:
    """`docker-registry serve` on a free loopback port, filesystem storage, no authentication."""
    executable = shutil.which("docker-registry")
    if executable is None:
        pytest.skip("docker-registry (Debian package docker-registry) is not installed")
    host = f"127.0.0.1:{free_port()}"
    config = folder / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: error, accesslog: {disabled: true}}\n"
        f"storage: {{filesystem: {{rootdirectory: {folder / 'data'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: {host}}}\n"
    )
    log = folder / "registry.log"  # a file, not a pipe: a full pipe would block the registry
    with log.open("wb") as output:
        process = subprocess.Popen([executable, "serve", str(config)], stdout=output, stderr=subprocess.STDOUT)
    registry = LocalRegistry(host, folder / "data", process)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()}")
        probe = http.client.HTTPConnection(host, timeout=1)
        try:
            probe.request("GET", "/v2/")
            if probe.getresponse().status == 200:
                return registry
        except OSError:
            time.sleep(0.05)
        finally:
            probe.close()
    registry.stop()
    raise RuntimeError(f"docker-registry did not answer on {host}")
