"""Keys of other accounts' S3 (outputs with `storage_provider: s3.<id>`), read at run time.

function_config.json names, per provider, an SSM SecureString parameter holding
`{"access_key": ..., "secret_key": ...}` (optionally `"session_token"`; other keys are ignored).
StorageClients reads a provider's parameter with the function's own credentials when an upload
first needs it, at most once per Lambda invocation or Batch job: nothing is kept across
invocations, so rotated keys apply from the next one.

The values never reach the script's environment, a result or an exception message, and no log
line at any level: logs.hide masks them in every log record of the process while they are in
use, and the AWS libraries' records are hidden while the parameter is read. Errors name the
provider and the parameter, never the value.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from . import aws, logs
from .config import StorageProvider
from .errors import StorageError

log = logging.getLogger(__name__)

KEYS = ("access_key", "secret_key")
_NOT_JSON = object()


@dataclass(frozen=True)
class Credentials:
    """Keys read from a parameter; repr() shows none of them."""

    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(v for v in (self.access_key, self.secret_key, self.session_token) if v)


def _failure(provider: StorageProvider, reason: str) -> StorageError:
    return StorageError(
        f"storage provider {provider.ident}: cannot get credentials from SSM parameter "
        f"{provider.credentials_parameter}: {reason}"
    )


def _parse(value: Any, provider: StorageProvider) -> Credentials:
    """The keys in the parameter's value; errors describe its shape, never its content."""
    doc: Any = _NOT_JSON
    with contextlib.suppress(ValueError):  # the exception holds the value (JSONDecodeError.doc): dropped
        doc = json.loads(value) if isinstance(value, str) else _NOT_JSON
    if doc is _NOT_JSON:
        raise _failure(provider, 'its value is not JSON (expected {"access_key": ..., "secret_key": ...})')
    if not isinstance(doc, dict):
        raise _failure(provider, 'its value is not a JSON object (expected {"access_key": ..., "secret_key": ...})')
    bad = [key for key in KEYS if not isinstance(doc.get(key), str) or not doc[key]]
    if bad:
        raise _failure(provider, f"its value has no {' and no '.join(repr(k) for k in bad)} (non-empty strings)")
    token = doc.get("session_token")
    if token is not None and not isinstance(token, str):
        raise _failure(provider, "its 'session_token' is not a string")
    return Credentials(doc["access_key"], doc["secret_key"], token or None)


def read_credentials(provider: StorageProvider, ssm: Any | None = None) -> Credentials:
    """GetParameter (decrypted) with the function's own credentials; StorageError when unusable.

    The caller must logs.hide() the values before leaving logs.libraries_quiet().
    """
    log.debug("storage provider %s: credentials from SSM parameter %s", provider.ident, provider.credentials_parameter)
    try:
        ssm = ssm or aws.client("ssm")
        response = ssm.get_parameter(Name=provider.credentials_parameter, WithDecryption=True)
    except aws.client_errors() as exc:
        raise _failure(provider, aws.describe_error(exc)) from None
    return _parse(response.get("Parameter", {}).get("Value"), provider)


class StorageClients:
    """S3 clients signing with the keys of named storage providers, for one invocation or job.

    A provider's parameter is read the first time its client is asked for; a failure is kept
    and raised again for later asks (the parameter is not read twice). close() forgets the
    keys and stops masking them.
    """

    def __init__(self, providers: Mapping[str, StorageProvider], ssm: Any | None = None) -> None:
        self._providers = providers
        self._ssm = ssm
        self._clients: dict[str, Any] = {}
        self._failures: dict[str, str] = {}
        self._hidden: list[str] = []

    def s3(self, ident: str) -> Any:
        """The S3 client of provider `ident` ("s3.<id>"); StorageError naming it when unusable."""
        if ident in self._failures:
            raise StorageError(self._failures[ident])
        if ident not in self._clients:
            try:
                self._clients[ident] = self._new_client(ident)
            except StorageError as exc:
                self._failures[ident] = str(exc)
                raise
        return self._clients[ident]

    def _new_client(self, ident: str) -> Any:
        provider = self._providers.get(ident)
        if provider is None:  # parse_config refuses such a configuration
            raise StorageError(f"storage provider {ident} is not defined in storage_providers")
        with logs.libraries_quiet():
            credentials = read_credentials(provider, self._ssm)
            logs.hide(*credentials.values)
            self._hidden.extend(credentials.values)
        try:
            return aws.client_with_keys(
                "s3",
                access_key=credentials.access_key,
                secret_key=credentials.secret_key,
                session_token=credentials.session_token,
                region=provider.region,
            )
        except aws.client_errors() as exc:
            reason = logs.mask(aws.describe_error(exc))
            raise StorageError(f"storage provider {ident}: cannot create its S3 client: {reason}") from None

    def close(self) -> None:
        self._clients.clear()
        self._failures.clear()
        logs.unhide(*self._hidden)
        self._hidden.clear()

    def __enter__(self) -> StorageClients:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
