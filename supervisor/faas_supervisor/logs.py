"""Logging set-up and redaction: events are logged whole only at DEBUG, with secrets masked.

Other accounts' keys, once read, are masked in every log record of the process (hide, mask).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

LOGGER_NAME = "faas_supervisor"
_SECRET_KEY = re.compile(
    r"secret|token|passw|credential|authoriz|api[-_]?key|cookie|signature|session|private|accesskey",
    re.IGNORECASE,
)
MASK = "***"


def configure(level: str) -> logging.Logger:
    """Level for our logger; a stderr handler only when nobody (e.g. the Lambda runtime) set one."""
    logger = logging.getLogger(LOGGER_NAME)
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    resolved = logging.getLevelName(level.upper())
    logger.setLevel(resolved if isinstance(resolved, int) else logging.INFO)
    return logger


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_KEY.search(name))


def redact(value: Any) -> Any:
    """Copy of a JSON-like value with the values of secret-looking keys masked."""
    if isinstance(value, dict):
        return {k: MASK if is_secret_name(str(k)) and v else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


# --- values that must never reach a log line ------------------------------------------------
#
# Other accounts' keys (credentials.py) are masked in every log record of the process, whoever
# logs it and at whatever level: a log record factory replaces them before any handler sees the
# record. While a parameter holding keys is read, the AWS libraries' records are hidden whole
# (botocore logs response bodies at DEBUG, before the values are known to mask).

_LIBRARIES = ("botocore", "boto3", "s3transfer", "urllib3")
QUIET_NOTE = "(AWS library log record hidden: a credentials parameter is being read)"
_hidden: Counter[str] = Counter()  # value -> how many hide() calls hold it
_masked: tuple[str, ...] = ()  # the hidden values, longest first (replaced whole, never mutated)
_quiet = 0
_lock = threading.Lock()
_previous_factory: Callable[..., logging.LogRecord] | None = None


def _forms(value: str) -> set[str]:
    """The value as it may appear in a log line: as is, and JSON-escaped (`/` as `\\/`)."""
    return {value, value.replace("/", "\\/")} - {""}


def mask(text: str) -> str:
    """`text` with every hidden value replaced by MASK."""
    for value in _masked:
        text = text.replace(value, MASK)
    return text


def _mask_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # the handler would report it with its arguments: show neither
        record.msg, record.args = mask(f"{record.msg} (arguments hidden: the message cannot be formatted)"), None
    else:
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)  # what handlers would show
    if record.exc_text:
        masked = mask(record.exc_text)
        if masked != record.exc_text:
            record.exc_info, record.exc_text = None, masked
    if record.stack_info:
        record.stack_info = mask(record.stack_info)


def _record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _previous_factory is not None
    record = _previous_factory(*args, **kwargs)
    if _quiet and record.name.partition(".")[0] in _LIBRARIES:
        record.msg, record.args = QUIET_NOTE, None
        record.exc_info = record.exc_text = record.stack_info = None
    if _masked:
        _mask_record(record)
    return record


def _install_factory() -> None:
    global _previous_factory
    if _previous_factory is None:
        _previous_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_record_factory)


def _update_masked() -> None:
    global _masked
    for value in [v for v, n in _hidden.items() if n <= 0]:
        del _hidden[value]
    _masked = tuple(sorted(_hidden, key=len, reverse=True))


def hide(*values: str) -> None:
    """Mask these values in every log record from now on, until unhide()."""
    with _lock:
        _install_factory()
        for value in values:
            _hidden.update(_forms(value))
        _update_masked()


def unhide(*values: str) -> None:
    """Undo one hide() of these values (a value hidden twice stays hidden until unhidden twice)."""
    with _lock:
        for value in values:
            _hidden.subtract(_forms(value))
        _update_masked()


@contextmanager
def libraries_quiet() -> Iterator[None]:
    """Hide the AWS libraries' log records meanwhile (ours still go through, masked)."""
    global _quiet
    with _lock:
        _install_factory()
        _quiet += 1
    try:
        yield
    finally:
        with _lock:
            _quiet -= 1
