"""Build the command line that runs the user's script, or the image's own command.

The supervisor runs inside the function's image (its entry point), so both run directly.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    description: str  # for logs: never contains variable values


def direct(
    script: Path | None,
    command: Sequence[str],
    base_env: Mapping[str, str],
    script_env: Mapping[str, str],
) -> Launch:
    """`/bin/sh <script>`, or `command` (the image's own) when the config has no script."""
    if script is not None:
        argv = ["/bin/sh", str(script)]
    elif command:
        argv = list(command)
    else:
        raise ConfigError("the function has no script and no command was given: nothing to run")
    return Launch(argv, {**base_env, **script_env}, " ".join(shlex.quote(a) for a in argv))
