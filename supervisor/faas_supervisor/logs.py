"""Logging set-up and redaction: events are logged whole only at DEBUG, with secrets masked."""

from __future__ import annotations

import logging
import re
import sys
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
