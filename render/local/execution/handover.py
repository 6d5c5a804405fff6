"""How a function's environment reaches its program in a sandbox, and nothing on the host before it.

The host-side steps of a sandbox (mounts, setpriv, the tool itself) run with HOST_ENVIRONMENT. The
function's environment, which the image and the deployment control, arrives on an anonymous file
for the program alone: bubblewrap reads `--setenv` options from it (`--args FD`), enter_root.py
NAME=VALUE entries, podman an env file. bubblewrap takes the seccomp filter (seccomp_filter.py) on an
anonymous file too (`--seccomp FD`); enter_root.py loads it itself.
"""

from __future__ import annotations

import os
from typing import NamedTuple

# What the host-side steps of a sandbox run with (mounts, setpriv, the tool itself): never the
# function's environment, which an image controls (LD_PRELOAD would run its code in them, as root
# before the privileges are dropped). That arrives on a file descriptor, for the program alone.
HOST_ENVIRONMENT = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}


class Handed(NamedTuple):
    """The file descriptors a sandbox's command line names (-1: none)."""

    environment: int
    seccomp: int = -1


def nul_entries(env: dict[str, str]) -> bytes:
    """NAME=VALUE entries, each ended by a NUL (enter_root.py reads them)."""
    return b"".join(f"{name}={value}".encode() + b"\0" for name, value in env.items())


def bwrap_settings(env: dict[str, str]) -> bytes:
    """bubblewrap's `--setenv NAME VALUE` options, NUL-separated, for its `--args FD`."""
    return b"".join(b"\0".join([b"--setenv", name.encode(), value.encode(), b""]) for name, value in env.items())


def env_file(env: dict[str, str]) -> bytes:
    """podman's --env-file lines (a value cannot hold a newline there)."""
    return b"".join(f"{name}={value}\n".encode() for name, value in env.items() if "\n" not in value)


def anonymous_file(content: bytes) -> int:
    """An anonymous file holding `content`, read from its start by whoever inherits it."""
    fd = os.memfd_create("faas-handover")
    os.write(fd, content)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
