"""The one thing read from ELF files here: the program interpreter they name (PT_INTERP)."""

from __future__ import annotations

import struct
from pathlib import Path

PT_INTERP = 3
HEAD_BYTES = 64 * 1024  # program headers and the interpreter's path sit at the start of the file


def interpreter(data: bytes) -> str | None:
    """The PT_INTERP path of a 64-bit little-endian ELF file's first bytes; None for anything else,
    a static program, or headers beyond `data`."""
    if data[:4] != b"\x7fELF" or data[4:6] != b"\x02\x01":
        return None
    try:
        (phoff,) = struct.unpack_from("<Q", data, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
        for i in range(phnum):
            kind, _, offset, _, _, size = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
            if kind == PT_INTERP and offset + size <= len(data):
                return data[offset : offset + size].rstrip(b"\0").decode(errors="replace")
    except struct.error:
        return None
    return None


def file_interpreter(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            return interpreter(f.read(HEAD_BYTES))
    except OSError:
        return None
