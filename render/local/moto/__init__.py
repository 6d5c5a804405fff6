"""moto, as the emulator needs it: every change the emulator makes to moto lives here.

- `patch`: the helper every change goes through (`Patches.patch`: the target is checked to exist
  with the parameters the replacement expects before anything is replaced), and the moto
  releases these patches are written for (`SUPPORTED`, the same range as setup.cfg's `local` extra);
- `hooks`: what the patched moto calls back into (the running emulator's blob store and service);
- one module per AWS service, each with its `PATCHES`: `core` (moto's server), `s3` (bucket
  notifications go to the service), `awslambda` (Invoke runs the function; GetFunction and
  PutFunctionEventInvokeConfig as Lambda answers them), `batch` (the service-linked role, job
  queues' time-limit actions, jobs' states following their local run), `ec2` (placement groups,
  which moto lacks), `ecr` (pushed images are
  kept and checked as ECR does),
  `recording` (moto's request recorder, appending one request at a time: `faas local --state`),
  `access` (requests signed with a role's temporary credentials get what the role allows, no more).

`install` checks the installed moto, then every target, then applies them all; nothing is imported
from moto before its version is known to fit, so an unsupported moto gets one line
(`MotoUnsupported`), not a traceback.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from render.local.ecr_blobs import BlobStore
from render.local.moto.hooks import HOOKS, Service
from render.local.moto.patch import (
    SUPPORTED_TEXT,
    Addition,
    MotoUnsupported,
    Patch,
    Patches,
    check_version,
    installed_moto,
)

SERVICES = ("core", "access", "s3", "awslambda", "batch", "ec2", "ecr", "recording")


def patches() -> Patches:
    """Every patch of every service module (importing moto: check_version first)."""
    try:
        modules = [importlib.import_module(f"{__name__}.{service}") for service in SERVICES]
    except ImportError as error:
        raise MotoUnsupported(f"moto {installed_moto()} does not fit the emulator: {error}") from None
    return Patches(patch for module in modules for patch in module.PATCHES)


def record_to(path: Path) -> Callable[[], None]:
    """Append every request the server answers to `path` (moto's recorder); the callable stops it."""
    from render.local.moto.recording import record_to as start

    return start(path)


def install(store: BlobStore, service: Service | None = None) -> Callable[[], None]:
    """Bind this process's moto to an emulator's `store` and `service`; the returned callable undoes it.

    MotoUnsupported (nothing changed) when the installed moto does not fit.
    """
    check_version()
    if HOOKS.store is not None:
        raise RuntimeError("an emulator already runs in this process (moto's backends are per process)")
    undo = patches().apply()
    HOOKS.store, HOOKS.service = store, service

    def uninstall() -> None:
        undo()
        HOOKS.store = HOOKS.service = None

    return uninstall


__all__ = ["SUPPORTED_TEXT", "Addition", "MotoUnsupported", "Patch", "check_version", "install", "patches", "record_to"]
