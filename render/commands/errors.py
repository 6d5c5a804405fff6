"""Exit statuses, and the one error a subcommand raises to end with a message and a status.

The layers below raise their own errors (render.aws's AwsError, render.local's LocalError), each
saying whether the user's input was at fault; `options.reported` turns them into these statuses.
"""

from __future__ import annotations

EXIT_FAILED = 1  # a function failed, AWS refused, the endpoint is unreachable
EXIT_USAGE = 2  # invalid input
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A problem the user can act on: printed as one message, no traceback."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status
