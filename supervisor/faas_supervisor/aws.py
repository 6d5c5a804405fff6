"""boto3 clients, created lazily (the Lambda handler imports fast) with retries in standard mode,
and the plain words for the errors they raise.

Every client honours AWS_ENDPOINT_URL (boto3 reads it) and uses client_config(), the one place
that sets retries and timeouts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # first try + 4 retries, with botocore's standard backoff


def client_config() -> Any:
    """The botocore Config of every client: standard retries, 10 s connect and 60 s read timeouts."""
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=10,
        read_timeout=60,
    )


@cache
def client(service: str) -> Any:
    """One client per service and process (clients are thread-safe), with the function's own credentials."""
    import boto3

    return boto3.session.Session().client(service, config=client_config())


@cache
def regional_client(service: str, region: str | None) -> Any:
    """client(), in `region` (None: the default region); for services reached in another region."""
    import boto3

    return boto3.session.Session().client(service, region_name=region, config=client_config())


def client_with_keys(
    service: str,
    *,
    access_key: str,
    secret_key: str,
    session_token: str | None = None,
    region: str | None = None,
) -> Any:
    """A new client signing with these keys instead of the function's own; never cached.

    `region` None means the default region (AWS_DEFAULT_REGION), as for client().
    """
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=session_token,
        region_name=region,
    )
    return session.client(service, config=client_config())


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints and credentials between sessions)."""
    client.cache_clear()
    regional_client.cache_clear()


ACCESS_DENIED = ("AccessDenied", "AccessDeniedException")
IAM_PROPAGATION_SECONDS = 60.0  # a new role's policy is usually seen within seconds; give up after this


def error_code(exc: BaseException) -> str:
    """The AWS error code behind `exc` ("" when it is not an AWS error answer)."""
    error = _client_error(exc)
    return str(error.response.get("Error", {}).get("Code", "")) if error is not None else ""


def while_iam_propagates(
    call: Callable[[], T],
    what: str,
    seconds: float = IAM_PROPAGATION_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`call()`, tried again while it is denied, for at most `seconds`.

    IAM is eventually consistent: a role's policy created a moment ago (Terraform invokes the image
    builder right after creating its role) may not be in effect yet, and the first calls are denied.
    A denial that lasts longer is real and is raised.
    """
    deadline, delay = time.monotonic() + seconds, 1.0
    while True:
        try:
            return call()
        except client_errors() as error:
            if error_code(error) not in ACCESS_DENIED or time.monotonic() + delay > deadline:
                raise
            log.warning(
                "%s: access denied; the role may be new and IAM still propagating it: again in %.0f s", what, delay
            )
        sleep(delay)
        delay = min(delay * 2, 10.0)


# Error codes worth a plain-words explanation (HEAD requests carry no body: only the status).
_PLAIN_ERRORS = {
    "404": "it does not exist (404 Not Found)",
    "NoSuchKey": "it does not exist (NoSuchKey)",
    "NoSuchBucket": "the bucket does not exist (NoSuchBucket)",
    "403": "access denied (403 Forbidden)",
    "AccessDenied": "access denied (AccessDenied)",
    "ParameterNotFound": "it does not exist (ParameterNotFound)",
    "AccessDeniedException": "access denied (AccessDeniedException)",
}


def client_errors() -> tuple[type[Exception], ...]:
    """What a client call raises once botocore's retries are spent."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    return (Boto3Error, BotoCoreError, ClientError)


def _client_error(exc: BaseException) -> Any | None:
    """The botocore ClientError behind `exc` (boto3 wraps upload errors in S3UploadFailedError)."""
    from botocore.exceptions import ClientError

    seen: BaseException | None = exc
    for _ in range(8):  # a short chain; never loop forever on a cyclic one
        if seen is None or isinstance(seen, ClientError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def describe_error(exc: BaseException) -> str:
    """Plain words for the usual codes, else botocore's message (code, operation and AWS's text)."""
    error = _client_error(exc)
    if error is not None:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in _PLAIN_ERRORS:
            return _PLAIN_ERRORS[code]
        return str(error)
    return str(exc)
