"""Turn merged settings into a validated Deployment, collecting every problem before failing.

Each function is resolved on its own (function.py, with batch.py and locations.py), then the
checks across functions run (checks.py); nothing is raised before every problem is known.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from render.fdl import schema_check
from render.fdl.checks import (
    check_lambda_environments,
    check_triggers,
    check_unique_names,
    check_workflow_loops,
    single_region,
)
from render.fdl.errors import FdlError, Problem
from render.fdl.function import resolve_function
from render.fdl.locations import resolve_buckets
from render.fdl.model import Deployment, Function
from render.fdl.settings import Settings
from render.fdl.storage_credentials import storage_providers


def resolve(settings: Settings, name: str | None = None, region: str | None = None) -> Deployment:
    problems: list[Problem] = []
    warnings = list(settings.warnings)
    problems += schema_check.check(settings.fdl.data, settings.fdl.location)
    functions: list[Function] = []
    for fs in settings.functions:
        function_problems = schema_check.check(fs.values, fs.origin, ref="function")
        if function_problems:
            problems += function_problems
            continue
        function = resolve_function(fs, settings, problems, warnings)
        if function:
            functions.append(function)
    if problems:
        raise FdlError(problems)

    check_unique_names(functions, settings, problems)
    deployment_region = region or single_region(settings, problems)
    buckets = resolve_buckets(functions, settings, problems, warnings)
    check_triggers(functions, settings, problems)
    check_workflow_loops(functions, settings, problems)
    if problems:
        raise FdlError(problems)
    deployment_name = name or stack_name(settings.fdl.path)
    providers = storage_providers(functions, settings, deployment_name, problems, warnings)
    if problems:
        raise FdlError(problems)
    source = settings.fdl.path.read_bytes()
    deployment = Deployment(
        name=deployment_name,
        region=deployment_region,
        source_name=settings.fdl.path.name,
        source_sha256=hashlib.sha256(source).hexdigest(),
        functions=functions,
        buckets=buckets,
        warnings=warnings,
        storage_providers=providers,
    )
    check_lambda_environments(deployment, settings, problems)
    if problems:
        raise FdlError(problems)
    return deployment


def stack_name(fdl_path: Path) -> str:
    """A name for the shared resources, from the FDL file name: lowercase letters, digits, '-'."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", fdl_path.stem.lower()).strip("-")
    return (cleaned or "faas")[:32].rstrip("-")
