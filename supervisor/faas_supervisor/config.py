"""function_config.json: its shape (`FunctionConfig`), read here and written by the renderer.

`parse_config` reads and checks the document; `FunctionConfig.to_json` writes it, so the renderer
and the supervisor cannot disagree on its shape (see supervisor/README.md).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import contract
from .contract import CONFIG_FILE_NAME, S3Location
from .errors import ConfigError

EXECUTION_MODES = ("lambda", "lambda-batch", "batch")
DEFAULT_TIMEOUT_THRESHOLD = 10.0
DEFAULT_STORAGE_PROVIDER = "s3"  # the function's own credentials
NAMED_STORAGE_PROVIDER = re.compile(r"s3\.[A-Za-z0-9_-]+")  # "s3.<id>": keys read from SSM at run time


@dataclass(frozen=True)
class StorageProvider:
    """Another account's S3, used by outputs with `storage_provider: s3.<id>`.

    Its keys are never in the configuration: only the name of the SSM parameter holding them.
    """

    ident: str  # "s3.<id>"
    credentials_parameter: str
    region: str | None = None  # None: the function's default region


@dataclass(frozen=True)
class Output:
    bucket: str
    key_prefix: str = ""
    prefix: tuple[str, ...] = ()
    suffix: tuple[str, ...] = ()
    storage_provider: str = DEFAULT_STORAGE_PROVIDER

    def matches(self, rel_path: str) -> bool:
        """SCAR semantics: any listed prefix (or none listed) and any listed suffix (or none)."""
        prefix_ok = not self.prefix or any(rel_path.startswith(p) for p in self.prefix)
        suffix_ok = not self.suffix or any(rel_path.endswith(s) for s in self.suffix)
        return prefix_ok and suffix_ok

    def key_for(self, rel_path: str) -> str:
        return f"{self.key_prefix}/{rel_path}" if self.key_prefix else rel_path

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "bucket": self.bucket,
            "key_prefix": self.key_prefix,
            "suffix": list(self.suffix),
            "prefix": list(self.prefix),
        }
        if self.storage_provider != DEFAULT_STORAGE_PROVIDER:
            doc["storage_provider"] = self.storage_provider
        return doc


@dataclass(frozen=True)
class FunctionConfig:
    name: str
    execution_mode: str = "lambda"
    log_level: str = "INFO"
    script: str | None = None
    image: str | None = None
    timeout_threshold: float = DEFAULT_TIMEOUT_THRESHOLD
    # container.environment: each of the script's names, and the process variable that carries its
    # value (set in the Lambda function's or the job definition's environment), so that no value
    # sits in an image or in S3.
    environment_from: dict[str, str] = field(default_factory=dict)
    inputs: tuple[S3Location, ...] = ()
    outputs: tuple[Output, ...] = ()
    storage_providers: dict[str, StorageProvider] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The JSON document `parse_config` reads back (keys of other accounts never appear)."""
        doc: dict[str, Any] = {
            "name": self.name,
            "execution_mode": self.execution_mode,
            "log_level": self.log_level,
            "script": self.script,
            "container": {
                "image": self.image,
                "timeout_threshold": self.timeout_threshold,
                "environment_from": self.environment_from,
            },
            "input": [{"bucket": i.bucket, "key_prefix": i.key_prefix} for i in self.inputs],
            "output": [o.document() for o in self.outputs],
        }
        if self.storage_providers:
            doc["storage_providers"] = {
                ident: {"credentials_parameter": p.credentials_parameter, "region": p.region}
                for ident, p in sorted(self.storage_providers.items())
            }
        return doc

    def to_json(self) -> bytes:
        """function_config.json's bytes: stable (sorted keys), so renders are byte-identical."""
        return (json.dumps(self.document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

    def effective_timeout_threshold(self) -> float:
        """Env TIMEOUT_THRESHOLD overrides container.timeout_threshold."""
        raw = os.environ.get(contract.TIMEOUT_THRESHOLD, "").strip()
        if not raw:
            return self.timeout_threshold
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"TIMEOUT_THRESHOLD={raw!r} is not a number of seconds") from None

    def effective_log_level(self) -> str:
        return (os.environ.get(contract.LOG_LEVEL) or self.log_level or "INFO").upper()


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{where} must be a list of strings, got {value!r}")


def _storage_providers(value: Any, source: str) -> dict[str, StorageProvider]:
    """The top-level `storage_providers` object; values are never quoted in errors."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: 'storage_providers' must be an object")
    found = {}
    for ident, entry in value.items():
        if not isinstance(ident, str) or not NAMED_STORAGE_PROVIDER.fullmatch(ident):
            raise ConfigError(f'{source}: storage_providers key {ident!r} is not of the form "s3.<id>"')
        where = f'{source}: storage_providers["{ident}"]'
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be an object")
        parameter = entry.get("credentials_parameter")
        if not isinstance(parameter, str) or not parameter.strip():
            raise ConfigError(f"{where}.credentials_parameter must be a non-empty string (an SSM parameter name)")
        region = entry.get("region")
        if region is not None and (not isinstance(region, str) or not region):
            raise ConfigError(f"{where}.region must be a region name or null")
        found[ident] = StorageProvider(ident, parameter, region)
    return found


def _storage_provider(out: dict[str, Any], where: str, providers: dict[str, StorageProvider]) -> str:
    provider = out.get("storage_provider")
    if provider is None:
        return DEFAULT_STORAGE_PROVIDER
    if not isinstance(provider, str) or (
        provider != DEFAULT_STORAGE_PROVIDER and not NAMED_STORAGE_PROVIDER.fullmatch(provider)
    ):
        raise ConfigError(f'{where}.storage_provider must be "s3" or "s3.<id>", got {provider!r}')
    if provider != DEFAULT_STORAGE_PROVIDER and provider not in providers:
        raise ConfigError(f"{where}.storage_provider {provider!r} is not defined in storage_providers")
    return provider


def parse_config(doc: Any, source: str) -> FunctionConfig:
    """Build a FunctionConfig from the decoded JSON document; `source` names it in errors."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected a JSON object at the top level")
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{source}: 'name' must be a non-empty string")
    mode = doc.get("execution_mode", "lambda")
    if mode not in EXECUTION_MODES:
        raise ConfigError(f"{source}: execution_mode {mode!r} is not one of {', '.join(EXECUTION_MODES)}")
    script = doc.get("script")
    if script is not None and (not isinstance(script, str) or not script or "/" in script):
        raise ConfigError(f"{source}: 'script' must be a plain file name or null, got {script!r}")
    container = doc.get("container") or {}
    if not isinstance(container, dict):
        raise ConfigError(f"{source}: 'container' must be an object")
    environment_from = container.get("environment_from") or {}
    if not isinstance(environment_from, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in environment_from.items()
    ):
        raise ConfigError(f"{source}: container.environment_from must map names to variable names")
    threshold = container.get("timeout_threshold", DEFAULT_TIMEOUT_THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold < 0:
        raise ConfigError(f"{source}: container.timeout_threshold must be a number >= 0")
    providers = _storage_providers(doc.get("storage_providers"), source)
    outputs = []
    for i, out in enumerate(doc.get("output") or []):
        where = f"{source}: output[{i}]"
        if not isinstance(out, dict) or not isinstance(out.get("bucket"), str) or not out["bucket"]:
            raise ConfigError(f"{where} must be an object with a 'bucket'")
        key_prefix = out.get("key_prefix") or ""
        if not isinstance(key_prefix, str):
            raise ConfigError(f"{where}.key_prefix must be a string")
        outputs.append(
            Output(
                bucket=out["bucket"],
                key_prefix=key_prefix.strip("/"),
                prefix=_str_list(out.get("prefix"), f"{where}.prefix"),
                suffix=_str_list(out.get("suffix"), f"{where}.suffix"),
                storage_provider=_storage_provider(out, where, providers),
            )
        )
    inputs = tuple(
        S3Location.of(i["bucket"], str(i.get("key_prefix") or ""))
        for i in (doc.get("input") or [])
        if isinstance(i, dict) and isinstance(i.get("bucket"), str)
    )
    return FunctionConfig(
        name=name,
        execution_mode=mode,
        log_level=str(doc.get("log_level") or "INFO"),
        script=script,
        image=container.get("image") or None,
        timeout_threshold=float(threshold),
        environment_from=environment_from,
        inputs=inputs,
        outputs=tuple(outputs),
        storage_providers=providers,
    )


def load_config_bytes(data: bytes, source: str) -> FunctionConfig:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise ConfigError(f"{source}: not valid JSON ({exc})") from None
    return parse_config(doc, source)


def task_root() -> Path:
    """Where the Lambda zip is unpacked: LAMBDA_TASK_ROOT, else the folder above this package."""
    root = os.environ.get("LAMBDA_TASK_ROOT")
    return Path(root) if root else Path(__file__).resolve().parent.parent


def load_lambda_config(root: Path | None = None) -> FunctionConfig:
    path = (root or task_root()) / CONFIG_FILE_NAME
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the function configuration {path}: {exc.strerror}") from None
    return load_config_bytes(data, str(path))
