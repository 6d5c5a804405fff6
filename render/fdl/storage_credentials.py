"""Other accounts' S3 keys (SCAR's `storage_providers.s3.ID`), checked and kept out of every file.

An output writes to another account's bucket with `storage_provider: s3.ID`. The keys live in an
SSM SecureString parameter that the supervisor reads at run time; function_config.json, main.tf
and the Terraform state hold only the parameter's name. Two ways to fill it:

- `credentials_parameter: NAME`: the user stores `{"access_key": ..., "secret_key": ...}` there
  (recommended: plans and applies need no secrets);
- SCAR's `access_key` and `secret_key`: main.tf writes the parameter through the write-only
  `value_wo` argument from an ephemeral variable, so Terraform keeps the keys in neither plan nor
  state. `faas-render --plan/--apply` hands them to Terraform in its environment only
  (TF_VAR_storage_credentials); `credentials_version` must be raised to write changed keys.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from render.fdl.errors import Location
from render.fdl.model import Function, StorageProvider
from render.fdl.settings import Settings
from render.fdl.yaml_source import KeyPath

Problem = tuple[Location, str]

CREDENTIALS_VARIABLE = "storage_credentials"
PARAMETER_NAME = re.compile(r"^[A-Za-z0-9_.\-/]{1,1011}$")  # SSM's characters and length
KEYS = ("access_key", "secret_key")


def parameter_name(deployment_name: str, ident: str) -> str:
    """Where a deployment keeps the keys its FDL holds."""
    return f"/faas-render/{deployment_name}/storage/{ident}"


def _declared(settings: Settings) -> dict[str, Any]:
    section = settings.storage_providers.get("s3")
    return section if isinstance(section, dict) else {}


def _origin(settings: Settings, path: KeyPath) -> Location:
    """The FDL or config file line that set `path` (the FDL wins, as when merging)."""
    for doc in [settings.fdl, *reversed(settings.configs)]:
        if path[:3] in doc.lines:
            return doc.location(path)
    return settings.fdl.location(path)


def storage_providers(
    functions: list[Function], settings: Settings, deployment_name: str, problems: list[Problem], warnings: list[str]
) -> dict[str, StorageProvider]:
    """The providers the outputs use, checked; unused ones are dropped with a warning."""
    used = sorted({ident for f in functions for ident in f.provider_idents})
    for ident in sorted(set(_declared(settings)) - {i.removeprefix("s3.") for i in used}):
        path = ("storage_providers", "s3", ident)
        warnings.append(f"{_origin(settings, path)}: no output uses storage provider s3.{ident}; ignored")
    found = {}
    for ident in used:
        provider = _provider(ident, settings, deployment_name, problems)
        if provider:
            found[ident] = provider
    return found


def _provider(ident: str, settings: Settings, deployment_name: str, problems: list[Problem]) -> StorageProvider | None:
    name = ident.removeprefix("s3.")
    path: KeyPath = ("storage_providers", "s3", name)
    entry = _declared(settings).get(name)
    if not isinstance(entry, dict):
        problems.append((_origin(settings, path), "expected a mapping holding credentials_parameter"))
        return None
    start = len(problems)
    literal = [key for key in KEYS if key in entry]
    reference = entry.get("credentials_parameter")
    version = entry.get("credentials_version", 1)
    if reference is not None and literal:
        problems.append(
            (
                _origin(settings, (*path, "credentials_parameter")),
                "give either credentials_parameter or access_key and secret_key, not both",
            )
        )
    elif reference is not None:
        if not isinstance(reference, str) or not PARAMETER_NAME.match(reference):
            problems.append(
                (
                    _origin(settings, (*path, "credentials_parameter")),
                    "expected an SSM parameter name (letters, digits, and _ . - /), e.g. /team/s3-partner",
                )
            )
        elif "/" in reference and not reference.startswith("/"):
            problems.append(
                (_origin(settings, (*path, "credentials_parameter")), "a hierarchical parameter name starts with /")
            )
        if "credentials_version" in entry:
            problems.append(
                (
                    _origin(settings, (*path, "credentials_version")),
                    "credentials_version only applies to keys given in the FDL (access_key and secret_key)",
                )
            )
    elif literal:
        for key in KEYS:
            if not isinstance(entry.get(key), str) or not entry[key]:
                problems.append(
                    (_origin(settings, (*path, key)), f"missing: keys given in the FDL need both {' and '.join(KEYS)}")
                )
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            problems.append((_origin(settings, (*path, "credentials_version")), "expected a whole number >= 1"))
    else:
        problems.append(
            (
                _origin(settings, path),
                "needs credentials_parameter, the SSM parameter holding the keys (or SCAR's access_key and secret_key)",
            )
        )
    if len(problems) > start:
        return None
    region = entry.get("region") or None
    if reference is not None:
        return StorageProvider(ident, reference, managed=False, version=1, region=region)
    return StorageProvider(ident, parameter_name(deployment_name, ident), managed=True, version=version, region=region)


@dataclass(frozen=True)
class StorageCredentials:
    """The keys the FDL holds, by provider ("s3.ID"), for Terraform's environment only."""

    keys: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    def terraform_environment(self) -> dict[str, str]:
        return {f"TF_VAR_{CREDENTIALS_VARIABLE}": json.dumps(self.keys)} if self.keys else {}


def storage_credentials(settings: Settings, providers: list[StorageProvider]) -> StorageCredentials:
    """The keys of the managed providers, read from the merged settings."""
    declared = _declared(settings)
    keys = {}
    for provider in providers:
        if provider.managed:
            entry = declared[provider.ident.removeprefix("s3.")]
            keys[provider.ident] = {key: str(entry[key]) for key in KEYS}
    return StorageCredentials(keys)
