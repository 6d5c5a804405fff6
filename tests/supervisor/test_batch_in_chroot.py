"""The frozen supervisor runs a Batch job in a chroot holding only itself, a static busybox and /proc.

No Python, no C library but its own, no /etc, no /dev: unpacked where its image layer puts it,
it reads its config and script from (moto) S3, runs the script with busybox's /bin/sh and
uploads the output.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from faas_supervisor.contract import SUPERVISOR_PATH

from tests.helpers import unpack_supervisor
from tests.supervisor.conftest import Aws, S3Event

pytestmark = pytest.mark.slow

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox", "/usr/lib/busybox-static/busybox")


def is_static_elf(path: Path) -> bool:
    """True for an ELF executable without a program interpreter (PT_INTERP)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit only
        return False
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != 3 for i in range(phnum))


def static_busybox() -> Path | None:
    for candidate in BUSYBOX_CANDIDATES:
        path = Path(candidate)
        if path.is_file() and is_static_elf(path):
            return path
    return None


def chroot_runner() -> list[str] | None:
    """How to enter the chroot with /proc mounted: as root, or in a user namespace.

    SUPERVISOR_TEST_CHROOT_USERNS=1 takes the user-namespace path even as root (to test that path).
    """
    if os.geteuid() == 0 and os.environ.get("SUPERVISOR_TEST_CHROOT_USERNS") != "1":
        return []
    unshare = shutil.which("unshare")
    if not unshare:
        return None
    prefix = [unshare, "--user", "--map-root-user", "--mount", "--pid", "--fork"]
    probe = subprocess.run([*prefix, "true"], check=False, capture_output=True)
    return prefix if probe.returncode == 0 else None
    return None


def test_frozen_supervisor_runs_batch_job_in_busybox_chroot(
    aws: Aws, s3_event: S3Event, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    busybox = static_busybox()
    if busybox is None:
        pytest.skip("no static busybox found (Debian: apt-get install busybox-static)")
    prefix = chroot_runner()
    if prefix is None:
        pytest.skip("needs root (chroot, mount /proc) or unprivileged user namespaces (unshare -r)")

    bundle = request.getfixturevalue("frozen_supervisor")  # after the skips: it may have to be built

    root = tmp_path / "root"
    for d in ("bin", "proc", "tmp"):
        (root / d).mkdir(parents=True)
    (root / "tmp").chmod(0o1777)
    shutil.copy2(busybox, root / "bin" / "busybox")
    unpack_supervisor(bundle, root)
    for applet in ("sh", "cat", "tr", "env", "sort", "grep", "sed", "ls"):
        (root / "bin" / applet).symlink_to("busybox")
    assert sorted(p.name for p in root.iterdir()) == ["bin", "opt", "proc", "tmp"]

    artifacts, src, dst = aws.bucket("art"), aws.bucket("in"), aws.bucket("out")
    s3 = aws.client("s3")
    s3.put_object(Bucket=src, Key="in/hello world.txt", Body=b"from the chroot\n")
    config = {
        "name": "fn",
        "execution_mode": "batch",
        "script": "run.sh",
        "output": [{"bucket": dst, "key_prefix": "res"}],
    }
    s3.put_object(Bucket=artifacts, Key="functions/fn/function_config.json", Body=json.dumps(config).encode())
    s3.put_object(
        Bucket=artifacts,
        Key="functions/fn/run.sh",
        Body=b'tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/result.txt"\n'
        b'env | sort > "$TMP_OUTPUT_DIR/env.txt"\n',
    )
    env = {
        "PATH": "/bin",
        "AWS_ENDPOINT_URL": aws.endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_BATCH_JOB_ID": "job-chroot-1",
        "LD_LIBRARY_PATH": "/opt/user/lib",
        "FAAS_CONFIG_URI": f"s3://{artifacts}/functions/fn/function_config.json",
        "FAAS_EVENT": json.dumps(s3_event(src, "in/hello+world.txt")),
    }
    tools: dict[str, str] = {}
    for tool in ("mount", "umount", "chroot"):
        found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin")
        if found:
            tools[tool] = found
    if len(tools) < 3:
        pytest.skip(f"host tools missing: {[t for t in ('mount', 'umount', 'chroot') if t not in tools]}")
    inner = f"{tools['mount']} -t proc proc {root}/proc && exec {tools['chroot']} {root} {SUPERVISOR_PATH}"
    if prefix:  # user namespace: mount and chroot happen inside it
        print("entering the chroot through", " ".join(prefix))
        argv = [*prefix, "/bin/sh", "-c", inner]
        proc = subprocess.run(argv, check=False, env=env, capture_output=True, text=True, timeout=300)
    else:
        subprocess.run([tools["mount"], "-t", "proc", "proc", str(root / "proc")], check=True)
        try:
            proc = subprocess.run(
                [tools["chroot"], str(root), SUPERVISOR_PATH],
                check=False,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
        finally:
            subprocess.run([tools["umount"], "-l", str(root / "proc")], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "job job-chroot-1: function fn" in proc.stderr
    assert aws.read(dst, "res/result.txt") == b"FROM THE CHROOT\n"
    child_env = dict(line.split("=", 1) for line in aws.read(dst, "res/env.txt").decode().splitlines() if "=" in line)
    assert child_env["LD_LIBRARY_PATH"] == "/opt/user/lib"  # restored, not our bundled libraries
    assert not [k for k in child_env if k.startswith(("_PYI_", "FAAS_", "LD_LIBRARY_PATH_ORIG"))]
    assert child_env["STORAGE_OBJECT_KEY"] == "in/hello world.txt"
