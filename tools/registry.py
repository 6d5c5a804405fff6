"""A real registry (Debian's docker-registry, CNCF distribution) on loopback, for the tests and the demo's mirror.

`start_registry` writes a config that listens on 127.0.0.1 only, keeps blobs on the filesystem
under the given folder, has no authentication, and returns once `/v2/` answers.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

START_SECONDS = 10


class RegistryUnavailable(Exception):
    """docker-registry is not installed."""


@dataclass
class LocalRegistry:
    """A running registry on 127.0.0.1, storing blobs under `root`."""

    host: str  # 127.0.0.1:PORT
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def blob_file(self, digest: str) -> Path:
        """Where the registry keeps a blob's bytes (the filesystem driver's layout)."""
        hex_digest = digest.removeprefix("sha256:")
        return self.root / "docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest / "data"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_registry(folder: Path, port: int = 0) -> LocalRegistry:
    """`docker-registry serve` on 127.0.0.1:`port` (a free one for 0), its data and log in `folder`."""
    executable = shutil.which("docker-registry")
    if executable is None:
        raise RegistryUnavailable("docker-registry is not installed (Debian package docker-registry)")
    folder.mkdir(parents=True, exist_ok=True)
    host = f"127.0.0.1:{port or free_port()}"
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
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()}")
        if _answers(host):
            return registry
        time.sleep(0.05)
    registry.stop()
    raise RuntimeError(f"docker-registry did not answer on {host} within {START_SECONDS} s: {log.read_text()}")


def _answers(host: str) -> bool:
    probe = http.client.HTTPConnection(host, timeout=1)
    try:
        probe.request("GET", "/v2/")
        return probe.getresponse().status == 200
    except OSError:
        return False
    finally:
        probe.close()
