"""S3 locations of the FDL (`input`, `output` paths) and the buckets they name."""

from __future__ import annotations

import re
from typing import Any

from faas_supervisor.contract import S3Location

from render.fdl.errors import Problem
from render.fdl.model import Bucket, Function
from render.fdl.settings import FunctionSettings, Settings
from render.fdl.yaml_source import KeyPath

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
IP_SHAPED = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def provider_ident(provider: str) -> str:
    """ "s3" for the deployment's own account (SCAR's bare `s3` and `s3.default`), else "s3.ID"."""
    return "s3" if provider in ("s3", "s3.default") else provider


def resolve_location(
    fs: FunctionSettings,
    path: KeyPath,
    entry: dict[str, Any],
    settings: Settings,
    problems: list[Problem],
    is_input: bool,
) -> S3Location:
    provider = entry["storage_provider"]
    _check_provider(fs, path, provider, settings, problems, is_input)
    raw = entry["path"].strip("/")
    if CONTROL_CHARACTERS.search(raw):
        problems.append((fs.origin(path + ("path",)), "the path contains control characters (tabs, newlines, ...)"))
    bucket, _, prefix = raw.partition("/")
    problem = bucket_name_problem(bucket)
    if problem:
        problems.append((fs.origin(path + ("path",)), f"bucket name {bucket!r} {problem}"))
    return S3Location(bucket, prefix.strip("/"))


def _check_provider(
    fs: FunctionSettings, path: KeyPath, provider: str, settings: Settings, problems: list[Problem], is_input: bool
) -> None:
    kind, _, ident = provider.partition(".")
    origin = fs.origin(path + ("storage_provider",))
    if kind in ("minio", "onedata", "webdav", "rucio"):
        problems.append((origin, f"storage provider '{kind}' is not supported on AWS; faas-render supports s3"))
    elif kind != "s3":
        problems.append((origin, f"unknown storage provider '{provider}'; expected s3 or s3.ID"))
    elif ident and ident != "default":
        declared = settings.storage_providers.get("s3") or {}
        if ident not in declared:
            problems.append(
                (origin, f"unknown storage provider '{provider}': no storage_providers.s3.{ident} is defined")
            )
        elif is_input:
            problems.append(
                (
                    origin,
                    f"inputs must be buckets of the deployment's own account (storage_provider: s3), "
                    f"not '{provider}': S3 can only trigger functions in its own account",
                )
            )


def bucket_name_problem(bucket: str) -> str | None:
    if not BUCKET_NAME.match(bucket):
        return (
            "is not valid: use 3-63 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
        )
    if ".." in bucket or IP_SHAPED.match(bucket):
        return "is not valid: no '..' and not shaped like an IP address"
    return None


def resolve_buckets(
    functions: list[Function], settings: Settings, problems: list[Problem], warnings: list[str]
) -> dict[str, Bucket]:
    names = sorted(
        {loc.bucket for f in functions for loc in [*f.inputs, *(o.location for o in f.outputs if o.is_own_account)]}
    )
    for name in sorted(set(settings.buckets) - set(names)):
        warnings.append(f"{settings.bucket_origins[name]}: bucket {name!r} is not used by any function; ignored")
    result = {}
    for name in names:
        options = settings.buckets.get(name) or {}
        existing, kms_key = bool(options.get("existing")), options.get("kms_key")
        if kms_key and not existing:
            problems.append(
                (
                    settings.bucket_origins[name],
                    f"kms_key names the key an existing bucket is encrypted with; bucket {name!r} is created by "
                    "the deployment (encrypted with SSE-S3): add existing: true, or remove kms_key",
                )
            )
        result[name] = Bucket(name, existing, bool(options.get("force_destroy")), kms_key)
    return result
