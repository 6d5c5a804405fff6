"""The sandboxes that work here, each running busybox in an unpacked root: what the command sees."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from render.local.execution import sandbox, scratch_fs
from render.local.execution.sandbox import RunSpec, Sandbox, SandboxUnavailable


def run(chosen: Sandbox, spec: RunSpec) -> tuple[int, str]:
    process = chosen.start(spec, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output, _ = process.communicate(timeout=30)
    return process.returncode, output.decode()


def shell(root: Path, scratch: Path, script: str, **options: Any) -> RunSpec:
    return RunSpec(root, ["/bin/busybox", "sh", "-c", script], {"PATH": "/bin", "WHO": "image"}, scratch, **options)


@pytest.fixture
def scratch(busybox_root: Path) -> Iterator[Path]:
    """A host folder for /tmp, where nobody (proot's user) can reach it."""
    folder = Path(tempfile.mkdtemp(dir=busybox_root.parents[2]))
    yield folder
    shutil.rmtree(folder)


@pytest.fixture(scope="module")
def loopback_server() -> Iterator[int]:
    class Hello(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello from the host")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_bubblewrap_is_chosen_when_podman_is_absent() -> None:
    if shutil.which("bwrap") is None or shutil.which("podman") is not None:
        pytest.skip("needs bubblewrap and no podman")
    assert sandbox.detect().name == "bwrap"


def test_no_tool_names_the_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        sandbox.detect()


@pytest.mark.parametrize("chosen", sandbox.available(), ids=lambda s: s.name)
def test_echo_in_a_read_only_root(chosen: Sandbox, busybox_root: Path, scratch: Path) -> None:
    status, output = run(chosen, RunSpec(busybox_root, ["/bin/busybox", "echo", "hello", "$WHO"], {}, scratch))
    assert (status, output) == (0, "hello $WHO\n")
    script = 'touch /written; echo "root:$?"; echo data > /tmp/f && cat /tmp/f; pwd; echo "$WHO"; ls /dev/null'
    status, output = run(chosen, shell(busybox_root, scratch, script, cwd="/tmp"))
    assert status == 0, output
    lines = output.splitlines()
    assert lines[0].startswith("touch: /written:") and lines[1:] == ["root:1", "data", "/tmp", "image", "/dev/null"]
    assert not (busybox_root / "written").exists()


@pytest.mark.parametrize("chosen", sandbox.available(), ids=lambda s: s.name)
def test_host_network_name_files_proc_and_limits(
    chosen: Sandbox, busybox_root: Path, scratch: Path, loopback_server: int
) -> None:
    script = (
        f"wget -q -O - http://127.0.0.1:{loopback_server}/; echo; grep -c . /etc/resolv.conf; "
        "grep -c . /etc/hosts; grep 'Max address space' /proc/self/limits; df -m /tmp 2>/dev/null | tail -1"
    )
    spec = shell(busybox_root, scratch, script, memory_mb=256, tmp_mb=64)
    status, output = run(chosen, spec)
    assert status == 0, output
    lines = output.splitlines()
    assert lines[0] == "hello from the host"
    host_lines = [len([line for line in Path(name).read_text().splitlines() if line]) for name in sandbox.NAME_FILES]
    assert [int(count) for count in lines[1:3]] == host_lines
    assert lines[-2].split()[3:5] == [str(sandbox.address_space(256))] * 2
    if any("/tmp" in limit for limit in chosen.limits):
        size, _, available = (int(field) for field in lines[-1].split()[1:4])
        assert available >= 64 and size <= 64 * 1.1 + 8  # a tmpfs of 64 MiB, or an ext4 keeping 64 MiB free


def test_a_root_behind_a_private_folder_is_named(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    private = tmp_path / "private"
    (private / "root").mkdir(parents=True)
    private.chmod(0o700)
    with pytest.raises(PermissionError, match=f"{private} is private"):
        scratch_fs.reachable(private / "root", sandbox.LAMBDA_UID)
    private.chmod(0o711)
    scratch_fs.reachable(private / "root", sandbox.LAMBDA_UID)


def test_runs_go_to_tmp_when_the_temporary_folder_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_path.chmod(0o711)  # pytest's folders above it are open to pass through (tests/conftest.py)
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    assert scratch_fs.work_base(sandbox.LAMBDA_UID) == Path("/tmp")
    private.chmod(0o711)
    assert scratch_fs.work_base(sandbox.LAMBDA_UID) == private
