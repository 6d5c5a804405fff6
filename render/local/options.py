"""How local mode runs functions: `faas local`'s options (`faas put` and `faas invoke` take the defaults)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from render.local.execution.sandbox import Sandbox


@dataclass(frozen=True)
class LocalOptions:
    """How local mode runs functions (`faas local`'s options; `faas put` and `faas invoke` take the defaults)."""

    sandbox: Sandbox | None = None  # for images and jobs; None: the first that works here, once needed
    registry_mirror: str | None = None  # FAAS_REGISTRY_MIRROR of the functions run on this host; Docker Hub's mirror
    concurrency: int = field(default_factory=lambda: os.cpu_count() or 1)  # instances of one image function at most
