"""Errors that carry a location in a source file, so messages can name the file, line and key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Location:
    """Where a value came from: a file (or a pseudo-source such as the command line) and a line."""

    file: str
    line: int = 0
    key: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}" if self.key else where


def printable(name: str | Path) -> str:
    """A file name as it can be shown: bytes that are not UTF-8 (kept by Python as surrogates) as \\xNN."""
    return str(name).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_utf8(name: str | Path) -> bool:
    """Whether a file name is UTF-8 (S3 keys, main.tf and the FDL's own references must be)."""
    try:
        str(name).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# A problem found in the input: where, and what is wrong (and what would be right).
Problem = tuple[Location, str]


class FdlError(Exception):
    """One or more problems in the input; rendering stops before anything is written."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems), key=lambda p: (p[0].file, p[0].line, p[0].key, p[1]))
        super().__init__(self.format())

    @classmethod
    def single(cls, location: Location, message: str) -> FdlError:
        return cls([(location, message)])

    def format(self) -> str:
        return "\n".join(f"{location}: {message}" for location, message in self.problems)
