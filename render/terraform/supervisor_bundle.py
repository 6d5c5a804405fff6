"""The frozen supervisor of an architecture: shipped in the package, never compiled by a user.

It is a tar (contract.SUPERVISOR_BUNDLE) of the folder its image layer holds. Found in this order:
1. FAAS_RENDER_SUPERVISOR_BUNDLE, a file used for every architecture (custom builds, tests);
2. the one the package ships, faas_supervisor/bin/linux-ARCH/faas-supervisor.tar (`make dist`
   puts both architectures into the wheel);
3. in a source checkout without them (an editable install from git): a developer build for this
   machine's architecture by supervisor/build/build_static.py --host-python, which needs the
   `batch` extra and caches its result. The renderer never imports the build tools itself.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import resources
from pathlib import Path

import faas_supervisor
from faas_supervisor.contract import SUPERVISOR_BUNDLE

ENV_OVERRIDE = "FAAS_RENDER_SUPERVISOR_BUNDLE"
ARCHITECTURES = ("x86_64", "arm64")
_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
BUILD_TIMEOUT = 900  # seconds; a developer build takes about a minute


class SupervisorBundleError(RuntimeError):
    """No supervisor bundle for an architecture (and none can be built here)."""


def native_architecture() -> str | None:
    return _MACHINES.get(platform.machine().lower())


def packaged_bundle(architecture: str) -> Path:
    """Where the package keeps the bundle of `architecture` (it may be absent in a source checkout)."""
    return Path(str(resources.files("faas_supervisor") / "bin" / f"linux-{architecture}" / SUPERVISOR_BUNDLE))


def source_builder() -> Path | None:
    """supervisor/build/build_static.py when faas_supervisor is imported from a source checkout."""
    builder = Path(faas_supervisor.__file__).resolve().parents[1] / "build" / "build_static.py"
    return builder if builder.is_file() else None


def supervisor_bundle(architecture: str) -> Path:
    if architecture not in ARCHITECTURES:
        raise SupervisorBundleError(
            f"unknown architecture {architecture!r}; expected one of {', '.join(ARCHITECTURES)}"
        )
    override = os.environ.get(ENV_OVERRIDE)
    if override:
        if not Path(override).is_file():
            raise SupervisorBundleError(f"{ENV_OVERRIDE}={override} is not a file")
        return Path(override)
    packaged = packaged_bundle(architecture)
    if packaged.is_file():
        return packaged
    builder = source_builder()
    if builder is None:
        raise SupervisorBundleError(
            f"this installation of faas-render lacks the {architecture} supervisor ({packaged}): reinstall it "
            f"from a release wheel, or set {ENV_OVERRIDE}"
        )
    if architecture != native_architecture():
        raise SupervisorBundleError(
            f"no {architecture} supervisor in this source checkout: build both with `make binaries` (needs root, "
            f"qemu-user-static and debootstrap), or set {ENV_OVERRIDE}"
        )
    return _developer_build(builder, architecture)


def _developer_build(builder: Path, architecture: str) -> Path:
    """Build (or take from the cache) this machine's bundle with the environment's build tools."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "faas-render"
    out = cache / "developer" / architecture  # the builder keeps its own cache; this is the copy we use
    print(f"faas-render: no packaged {architecture} supervisor: building one from this checkout", file=sys.stderr)
    command = [sys.executable, str(builder), "--arch", architecture, "--host-python", "--out", str(out)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise SupervisorBundleError(f"building the supervisor took over {BUILD_TIMEOUT} s") from None
    if done.returncode != 0:
        detail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise SupervisorBundleError(
            f"the {architecture} supervisor could not be built:\n{detail}\n"
            "  install the build tools with: pip install 'faas-render[batch]' (or run `make binaries`)"
        )
    return out / SUPERVISOR_BUNDLE
