"""The root a .zip function runs in: this host's Python, read-only, and nothing else of the host.

Lambda runs a .zip function on its runtime's Python; local mode's is the Python it runs on itself
(it has boto3, as Lambda's has). The sandbox (sandbox.py) gets a root folder holding nothing but
mount points, made once (`make_root`), and the run's `binds` over it: the host's system folders the
interpreter and the libraries it loads come from (/usr, and /bin, /sbin, /lib, /lib64 where they
are folders; where they are links into /usr, the root has the same links), the Python's own
folders (sys.base_prefix, sys.prefix: a virtual environment and its site-packages), the
certificates TLS checks against (/etc/ssl/certs), the bootstrap at /var/runtime/bootstrap.py and
the unpacked zip at /var/task. Nothing else of the host is there: not the rest of /etc (every
sandbox binds /etc/resolv.conf and /etc/hosts), not /root, /home or the folders around the Python's
(a source checkout the virtual environment points into stays out). Each is bound at its own path,
so the Python finds its libraries and site-packages where it was built to.
"""

from __future__ import annotations

import functools
import os
import site
import sys
import tempfile
from pathlib import Path

from render.local.execution import lambda_bootstrap
from render.local.execution.sandbox import NAME_FILES

SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
CERTIFICATES = Path("/etc/ssl/certs")
TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
BOOTSTRAP = f"{RUNTIME_DIR}/bootstrap.py"
MOUNT_POINTS = ("proc", "dev", "tmp", TASK_ROOT.lstrip("/"))  # what the sandboxes mount over

Binds = tuple[tuple[Path, str], ...]


@functools.cache
def host_binds() -> Binds:
    """What every .zip function's root binds of this host: its system folders and its Python."""
    folders = [Path(name) for name in SYSTEM if Path(name).is_dir() and not Path(name).is_symlink()]
    folders += [Path(prefix) for prefix in (sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix)]
    folders += [Path(packages) for packages in site.getsitepackages() if Path(packages).is_dir()]
    folders += [CERTIFICATES] if CERTIFICATES.is_dir() else []
    kept: list[Path] = []
    for folder in sorted(set(folders)):  # a folder comes before those under it, which it holds already
        if folder != Path("/") and not any(folder.is_relative_to(held) for held in kept):
            kept.append(folder)
    return tuple((folder, str(folder)) for folder in kept)


def invocation_binds(task_root: Path) -> Binds:
    """An invocation's binds: the host's, the bootstrap, and its unpacked zip as /var/task."""
    return (*host_binds(), (Path(lambda_bootstrap.__file__), BOOTSTRAP), (task_root, TASK_ROOT))


def make_root(parent: Path) -> Path:
    """A new root folder in `parent`: the mount points of invocation_binds and of every sandbox, the
    system folders that are links on this host as the same links; readable by the sandbox's user."""
    root = Path(tempfile.mkdtemp(prefix="zip-root-", dir=parent))
    for name in SYSTEM:
        if Path(name).is_symlink():
            (root / name.lstrip("/")).symlink_to(os.readlink(name))
    for point in MOUNT_POINTS:
        (root / point).mkdir(parents=True, exist_ok=True)
    for source, target in (*host_binds(), (Path(lambda_bootstrap.__file__), BOOTSTRAP)):
        inside = root / target.lstrip("/")
        if source.is_dir():
            inside.mkdir(parents=True, exist_ok=True)
        else:
            inside.parent.mkdir(parents=True, exist_ok=True)
            inside.touch()
    for name in NAME_FILES:
        (root / name.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / name.lstrip("/")).touch()
    readable(root)
    return root


def readable(folder: Path) -> None:
    """Let everyone read `folder` and what it holds (the sandbox's user runs from it; the umask may be 077)."""
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod(mode | (0o555 if path.is_dir() or mode & 0o100 else 0o444))
