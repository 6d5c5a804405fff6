"""Debian packages for building images without root: resolved with apt-cache, fetched into a cache, unpacked.

`fetch` resolves the packages' Depends and Pre-Depends recursively (the first alternative of
each, minus the packages the caller excludes), downloads with `apt-get download` those the cache
lacks (one file per name, version and architecture, so a cached .deb is never fetched again),
and `unpack` extracts one with `dpkg-deb -x`: nothing is installed on the host. The versions are
apt's candidates, so the same apt lists give the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Debian's names for the architectures the images are built for.
DEB_ARCHITECTURES = {"x86_64": "amd64", "arm64": "arm64"}
# Which Debian package gives each tool (every Debian system has both).
TOOLS = {"apt-get": "apt", "apt-cache": "apt", "dpkg-deb": "dpkg"}
APT_LISTS = "/var/lib/apt/lists"
DPKG_STATUS = "/var/lib/dpkg/status"
_VERSION_CONSTRAINT = re.compile(r"\s*\(.*?\)|:any|:native")


class DebError(Exception):
    """A package that cannot be resolved, fetched or unpacked; or apt and dpkg are missing."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    architecture: str  # Debian's name: amd64, arm64 or all
    path: Path  # the .deb in the cache


def cache_folder() -> Path:
    """$XDG_CACHE_HOME/faas-render/debs, or ~/.cache/faas-render/debs."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "faas-render" / "debs"


def write_atomically(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all: test processes running side by side share the cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as staging:
        staging.write(data)
    os.replace(staging.name, path)


def deb_architecture(architecture: str) -> str:
    try:
        return DEB_ARCHITECTURES[architecture]
    except KeyError:
        expected = ", ".join(sorted(DEB_ARCHITECTURES))
        raise DebError(f"unsupported architecture {architecture!r} (expected one of {expected})") from None


def fetch(names: Iterable[str], architecture: str, exclude: frozenset[str], cache: Path) -> list[Package]:
    """`names` and what they depend on (except `exclude`), in the cache, sorted by name.

    The resolution is kept in the cache too, until apt's package lists or dpkg's status change
    (apt-cache reads all the lists at each call: seconds).
    """
    wanted, deb_arch = sorted(names), deb_architecture(architecture)
    key = hashlib.sha256(json.dumps([wanted, deb_arch, sorted(exclude), _apt_state()]).encode()).hexdigest()[:32]
    resolved = cache / "resolved" / f"{key}.json"
    if resolved.is_file():
        versions = json.loads(resolved.read_text())
    else:
        stanzas = _resolve(wanted, deb_arch, exclude)
        versions = [[name, s["Version"], s["Architecture"]] for name, s in sorted(stanzas.items())]
        write_atomically(resolved, json.dumps(versions).encode())
    packages = [
        Package(name, version, arch, cache / _file_name(name, version, arch)) for name, version, arch in versions
    ]
    missing = [package for package in packages if not package.path.is_file()]
    if missing:
        _download(missing, cache)
    return packages


def unpack(package: Package, folder: Path) -> None:
    """The package's files under `folder` (no maintainer scripts run, nothing installed)."""
    _run(["dpkg-deb", "-x", str(package.path), str(folder)], f"unpacking {package.path.name}")


def _apt_state() -> list[object]:
    """What apt's candidates depend on: the package lists and dpkg's status (names, sizes, times)."""
    files = [*sorted(Path(APT_LISTS).glob("*Packages*")), Path(DPKG_STATUS)]
    return [[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files if f.is_file()]


def _resolve(names: list[str], architecture: str, exclude: frozenset[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    pending = [name for name in names if name not in exclude]
    while pending:
        stanzas = _show(sorted(set(pending)), architecture)
        found.update(stanzas)
        pending = [
            dependency
            for stanza in stanzas.values()
            for dependency in _dependencies(stanza)
            if dependency not in found and dependency not in exclude
        ]
    return found


def _show(names: list[str], architecture: str) -> dict[str, dict[str, str]]:
    """apt-cache's candidate stanza of each package (of `architecture`, or "all")."""
    qualified = [f"{name}:{architecture}" for name in names]
    hint = f"run apt-get update (and, for a foreign architecture, dpkg --add-architecture {architecture} first)"
    try:
        output = _run(["apt-cache", "show", "--no-all-versions", *qualified], "resolving " + " ".join(names))
    except DebError as error:
        if shutil.which("apt-cache") is None:
            raise
        raise DebError(f"{error}: {hint}") from None
    stanzas = {stanza["Package"]: stanza for stanza in _stanzas(output)}
    unknown = sorted(set(names) - set(stanzas))
    if unknown:
        raise DebError(f"apt-cache knows no package {', '.join(unknown)} for {architecture}: {hint}")
    return stanzas


def _stanzas(text: str) -> list[dict[str, str]]:
    """Control paragraphs (RFC 822-like), continuation lines joined."""
    stanzas = []
    for paragraph in text.strip().split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in paragraph.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" in fields:
            stanzas.append(fields)
    return stanzas


def _dependencies(stanza: dict[str, str]) -> list[str]:
    """The first alternative of each Pre-Depends and Depends entry, without versions."""
    entries = [e for key in ("Pre-Depends", "Depends") for e in stanza.get(key, "").split(",") if e.strip()]
    return [_VERSION_CONSTRAINT.sub("", entry.split("|")[0]).strip() for entry in entries]


def _file_name(name: str, version: str, architecture: str) -> str:
    """The name `apt-get download` gives the file (an epoch's colon is written %3a)."""
    return f"{name}_{version.replace(':', '%3a')}_{architecture}.deb"


def _download(packages: list[Package], cache: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    specs = [f"{p.name}:{p.architecture}={p.version}" for p in packages]
    # A fresh folder next to the cache, moved in file by file: a cached .deb is always complete.
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download.") as staging:
        os.chmod(staging, 0o755)  # apt drops to its _apt user to download when it can
        command = ["apt-get", "download", "-q", *specs]
        if os.geteuid() == 0:
            command[1:1] = ["-o", "APT::Sandbox::User=root"]
        _run(command, "downloading " + " ".join(p.path.name for p in packages), cwd=Path(staging))
        for package in packages:
            downloaded = Path(staging) / package.path.name
            if not downloaded.is_file():
                raise DebError(f"apt-get download did not write {package.path.name}")
            downloaded.replace(package.path)


def _run(command: list[str], what: str, cwd: Path | None = None) -> str:
    if shutil.which(command[0]) is None:
        raise DebError(f"{what}: {command[0]} is not installed (Debian package {TOOLS[command[0]]})")
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False)
    if result.returncode != 0:
        raise DebError(f"{what}: {' '.join(command[:3])} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout
