"""The environment the user script runs with.

Base: our own process environment minus the supervisor's internals, i.e. ``FAAS_*`` (Terraform's
settings for us and the event passed to Batch), and, when we run frozen (PyInstaller), the
``_PYI_*`` variables and the ``LD_LIBRARY_PATH`` that points at our bundled libraries (restored
from ``LD_LIBRARY_PATH_ORIG``), so the user's programs never load our libssl or libz.

On top, lowest first: ``CONT_VAR_*`` (API Gateway query parameters), ``container.environment``
(deployed in the process environment, some under ``FAAS_CONTAINER_``; the configuration maps
them, so that a caller's ``CONT_VAR_*`` cannot override them), then the programming-model
variables (INPUT_FILE_PATH, TMP_INPUT_DIR, ...).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from . import contract

INTERNAL_PREFIXES = (contract.INTERNAL_PREFIX, "_PYI_")


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def base_environment(env: Mapping[str, str], frozen: bool | None = None) -> dict[str, str]:
    frozen = is_frozen() if frozen is None else frozen
    clean = {k: v for k, v in env.items() if not k.startswith(INTERNAL_PREFIXES)}
    original = clean.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is not None:
        if original:
            clean["LD_LIBRARY_PATH"] = original
        else:
            clean.pop("LD_LIBRARY_PATH", None)
    elif frozen:
        clean.pop("LD_LIBRARY_PATH", None)
    return clean


def script_environment(
    programming_model: Mapping[str, str],
    container_from: Mapping[str, str],
    process_env: Mapping[str, str],
    extra_env: Mapping[str, str],
) -> dict[str, str]:
    """The variables we add for the script (precedence: extra < container < programming model).

    `container_from`: container.environment's names, each with the process variable carrying it.
    """
    merged: dict[str, str] = {}
    merged.update(extra_env)
    merged.update({name: process_env[var] for name, var in container_from.items() if var in process_env})
    merged.update(programming_model)
    return merged
