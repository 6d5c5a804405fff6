"""The error local mode raises for what the user can act on."""

from __future__ import annotations


class LocalError(Exception):
    """A function or job that cannot be run here, and why: one message, no traceback.

    `invalid_input`: the user's input is at fault (a missing file, a bad option), not the run.
    """

    def __init__(self, message: str, invalid_input: bool = False) -> None:
        super().__init__(message)
        self.invalid_input = invalid_input
