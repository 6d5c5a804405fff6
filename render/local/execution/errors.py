"""The error local mode raises for what the user can act on, and why a run could not start."""

from __future__ import annotations

import errno

# The errorType of an asynchronous event that could not even start: its failure record says why,
# as a function error's says what the function raised.
THROTTLED = "Throttled"
IMAGE_REFUSED = "ImageRefused"
SANDBOX_FAILURE = "SandboxFailure"
DISK_FULL = "DiskFull"
RUN_ERROR = "LocalRunError"

DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class LocalError(Exception):
    """A function or job that cannot be run here, and why: one message, no traceback.

    `invalid_input`: the user's input is at fault (a missing file, a bad option), not the run.
    `kind`: the errorType an invocation that fails with it gets.
    """

    def __init__(self, message: str, invalid_input: bool = False, kind: str = RUN_ERROR) -> None:
        super().__init__(message)
        self.invalid_input = invalid_input
        self.kind = kind


def error_type(error: BaseException) -> str:
    """The errorType of a run that `error` kept from starting.

    A full disk anywhere in the chain wins (unpacking wraps the OSError in a layer error); other
    OSErrors come from the sandbox's own steps (starting it, its folders).
    """
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno in DISK_FULL_ERRNOS:
            return DISK_FULL
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, LocalError):
        return error.kind
    return SANDBOX_FAILURE if isinstance(error, OSError) else RUN_ERROR
