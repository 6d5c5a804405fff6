"""``python -m faas_supervisor``: the Batch job entry point (also the static binary's)."""

from __future__ import annotations

from .batch_job import main

raise SystemExit(main())
