"""How faas-render reaches AWS (or the local emulator), with the AWS CLI's conventions.

`--profile`, `--region` and `--endpoint-url` mean what they mean to the AWS CLI; without them
boto3's own chain applies (AWS_PROFILE, AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL, the
shared config files). The region falls back to us-east-1, faas-render's default.

The endpoint is the *local emulator* when it is faas-render's embedded moto server, recognised by
its configuration API saying that it runs neither Lambda code nor Batch containers: then the
`faas` commands run the functions themselves (render/local/cloud.py), with test credentials when
none are configured.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ProfileNotFound

DEFAULT_REGION = "us-east-1"
EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
NO_CREDENTIALS = "no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID, or run `aws configure`)"


class AwsError(Exception):
    """A problem with AWS or with what is deployed that the user can act on: one message, no traceback.

    `invalid_input`: the user's input is at fault (an unknown profile, a missing file), not AWS.
    """

    def __init__(self, message: str, invalid_input: bool = False) -> None:
        super().__init__(message)
        self.invalid_input = invalid_input


@dataclass
class Aws:
    """A boto3 session and the endpoint it talks to (None: AWS itself)."""

    session: boto3.Session
    endpoint_url: str | None
    _clients: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # a session is not thread-safe

    @property
    def region(self) -> str:
        return self.session.region_name or DEFAULT_REGION

    def client(self, service: str) -> Any:
        """The service's client, made once (clients are thread-safe, making them is not)."""
        with self._lock:
            if service not in self._clients:
                config = Config(region_name=self.region, retries={"mode": "standard"})
                self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url, config=config)
            return self._clients[service]

    @cached_property
    def is_local_emulator(self) -> bool:
        """True for faas-render's emulator: a moto server that runs no function code itself."""
        if not self.endpoint_url or is_aws(self.endpoint_url):
            return False
        try:
            with urllib.request.urlopen(f"{self.endpoint_url.rstrip('/')}/moto-api/config", timeout=5) as response:
                config = json.load(response)
        except (OSError, ValueError):
            return False
        return isinstance(config, dict) and all(
            isinstance(config.get(service), dict) and config[service].get("use_docker") is False
            for service in ("lambda", "batch")
        )

    def process_environment(self) -> dict[str, str]:
        """Credentials, region and endpoint for the processes local mode runs (Lambda and Batch do the same)."""
        with self._lock:
            credentials = self.session.get_credentials()
        if credentials is None:
            raise AwsError(NO_CREDENTIALS)
        frozen = credentials.get_frozen_credentials()
        env = {
            "AWS_ACCESS_KEY_ID": frozen.access_key,
            "AWS_SECRET_ACCESS_KEY": frozen.secret_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }
        if frozen.token:
            env["AWS_SESSION_TOKEN"] = frozen.token
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        return env

    def describe(self) -> str:
        return f"{self.endpoint_url or 'AWS'} ({self.region})"


def is_aws(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws"))


def _configured_endpoint(session: boto3.Session) -> str | None:
    """AWS_ENDPOINT_URL or the profile's endpoint_url, as boto3 resolves them."""
    endpoint: str = session.client("sts", region_name=session.region_name or DEFAULT_REGION).meta.endpoint_url
    return None if is_aws(endpoint) else endpoint


def connect(profile: str | None = None, region: str | None = None, endpoint_url: str | None = None) -> Aws:
    """The session the options describe; test credentials for the local emulator when none are configured."""
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as error:
        raise AwsError(str(error), invalid_input=True) from None
    aws = Aws(session, endpoint_url or _configured_endpoint(session))
    if session.get_credentials() is None and aws.is_local_emulator:
        session = boto3.Session(
            aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=aws.region,
        )
        aws = Aws(session, aws.endpoint_url)
    return aws
