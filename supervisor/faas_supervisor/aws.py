"""boto3 clients, created lazily (the Lambda handler imports fast) with retries in standard mode."""

from __future__ import annotations

from functools import cache
from typing import Any

MAX_ATTEMPTS = 5  # first try + 4 retries, with botocore's standard backoff


@cache
def client(service: str) -> Any:
    """One client per service and process (clients are thread-safe); honours AWS_ENDPOINT_URL."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=10,
        read_timeout=60,
    )
    return boto3.session.Session().client(service, config=config)


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints and credentials between sessions)."""
    client.cache_clear()
