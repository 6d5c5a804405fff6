"""A sandbox's /tmp on disk, of the asked size: a fresh ext4 file system on a loop device (as root).

Lambda's /tmp and a Batch host's are disk, not memory: a tmpfs would count against the run's
memory cgroup and a large one (Batch's 10 GiB) would hold the machine's RAM. As root, the steps
below (run in a private mount namespace, so the host never sees the mount) make a sparse image
beside the run's scratch folder, format it, mount it, and unlink the image at once: the loop
device keeps it until the namespace ends, then the kernel detaches it and the space is freed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol


class Scratch(Protocol):
    """What the steps need of a RunSpec."""

    @property
    def scratch(self) -> Path: ...

    @property
    def tmp_mb(self) -> int: ...


def bin_path(name: str) -> str:
    """The tool's full path: the sandbox's environment is the function's, whose PATH is the image's."""
    return shutil.which(name) or name


def root() -> bool:
    return os.geteuid() == 0


def reachable(path: Path, uid: int) -> None:
    """PermissionError unless `uid` may pass through every folder above `path` (a sandbox that drops
    to it binds `path` as that user)."""
    for folder in path.resolve().parents:
        mode = folder.stat()
        if mode.st_uid != uid and not mode.st_mode & 0o001:
            raise PermissionError(f"{path} is not reachable by the sandbox's user (uid {uid}): {folder} is private")


def work_base(uid: int) -> Path:
    """Where a run's folders go: the temporary folder, or /tmp when `uid` cannot pass through it (a
    private TMPDIR), so that images unpacked there can be bound by the sandbox's user."""
    base = Path(tempfile.gettempdir())
    try:
        reachable(base / "run", uid)
    except PermissionError:
        return Path("/tmp")
    return base


def on_disk() -> bool:
    """Whether /tmp can be a file system of its own on disk here (root, loop devices, mkfs.ext4)."""
    return root() and Path("/dev/loop-control").exists() and shutil.which("mkfs.ext4") is not None


def ext4_steps(spec: Scratch, target: str) -> list[str]:
    """Shell steps (as root, in a private mount namespace) mounting a fresh ext4 of tmp_mb on `target`."""
    image = shlex.quote(f"{spec.scratch}.ext4")  # beside the scratch folder, unlinked once mounted
    size = spec.tmp_mb + spec.tmp_mb // 32 + 8  # ext4's own overhead: at least tmp_mb stay free
    return [
        f"{bin_path('truncate')} -s {size}M {image}",
        f"{bin_path('mkfs.ext4')} -q -F -m 0 -O ^has_journal {image}",
        f"{bin_path('mount')} -o loop,nosuid,nodev {image} {target}",
        f"{bin_path('rm')} -f {image}",
        f"{bin_path('chmod')} 1777 {target}",
    ]


def prepared(spec: Scratch, owner: int, mounts: Sequence[str] = (), own_proc: bool = False) -> list[str]:
    """A command prefix making spec.scratch a sized on-disk /tmp (as root), else giving the folder to
    `owner`; `mounts` are further steps (as root) in the same private mount namespace. `own_proc`
    (as root): in a PID namespace of its own too, with its own /proc mounted over the host's there."""
    steps = ext4_steps(spec, shlex.quote(str(spec.scratch))) if on_disk() else []
    if not on_disk() and root():
        os.chown(spec.scratch, owner, owner)
    own_proc = own_proc and root()
    if not steps and not mounts and not own_proc:
        return []
    script = "; ".join([*steps, *mounts, 'exec "$@"'])
    namespaces = ["--pid", "--fork", "--kill-child", "--mount-proc"] if own_proc else []
    unshare = [bin_path("unshare"), "--mount", "--propagation", "private", *namespaces]
    return [*unshare, bin_path("sh"), "-ec", script, "tmp"]
