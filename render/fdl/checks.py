"""Checks across the functions of one FDL: names, region, triggers, workflow loops, deployed environments."""

from __future__ import annotations

from faas_supervisor.contract import S3Location

from render.fdl.errors import Location, Problem
from render.fdl.lambda_environment import LAMBDA_ENV_LIMIT, deployed_environment_size
from render.fdl.model import Deployment, Function
from render.fdl.settings import Settings


def check_unique_names(functions: list[Function], settings: Settings, problems: list[Problem]) -> None:
    seen: dict[str, int] = {}
    for index, fs in enumerate(settings.functions):
        name = fs.get(("lambda", "name"))
        if name in seen:
            problems.append(
                (fs.origin(("lambda", "name")), f"duplicate function name {name!r} (also functions.aws[{seen[name]}])")
            )
        else:
            seen[name] = index


def single_region(settings: Settings, problems: list[Problem]) -> str:
    regions: dict[str, Location] = {}
    for fs in settings.functions:
        for path in (("lambda", "region"), ("batch", "region")):
            value = fs.get(path)
            if value:
                regions.setdefault(value, fs.origin(path))
    if len(regions) > 1:
        first, *others = regions.items()
        for value, origin in others:
            problems.append(
                (
                    origin,
                    f"region {value!r} differs from {first[0]!r} ({first[1]}): one FDL deploys to one region; "
                    "split the file or use --region",
                )
            )
    return next(iter(regions), "us-east-1")


def check_triggers(functions: list[Function], settings: Settings, problems: list[Problem]) -> None:
    """S3 refuses two notification rules of one bucket whose prefixes overlap (and we set no suffix)."""
    seen: list[tuple[S3Location, str]] = []
    origins = {fs.get(("lambda", "name")): fs for fs in settings.functions}
    for function in functions:
        for index, location in enumerate(function.inputs):
            for other, owner in seen:
                if location.overlaps(other):
                    origin = origins[function.name].origin(("lambda", "input", index, "path"))
                    whose = (
                        "another input of this function"
                        if owner == function.name
                        else f"the input of function {owner!r}"
                    )
                    problems.append(
                        (
                            origin,
                            f"input '{location}' overlaps {whose} ('{other}'): S3 refuses overlapping "
                            "notification filters on one bucket; use separate folders",
                        )
                    )
            seen.append((location, function.name))


def check_workflow_loops(functions: list[Function], settings: Settings, problems: list[Problem]) -> None:
    """Functions whose outputs trigger each other in a circle would run forever."""
    edges = {
        f.name: sorted(
            {
                g.name
                for g in functions
                for o in f.outputs
                for i in g.inputs
                if g.name != f.name and o.location.overlaps(i)
            }
        )
        for f in functions
    }
    origins = {fs.get(("lambda", "name")): fs for fs in settings.functions}
    done: set[str] = set()
    trail: list[str] = []

    def visit(node: str) -> None:
        # Depth-first search; a neighbour still on the trail closes a loop.
        trail.append(node)
        for nxt in edges[node]:
            if nxt in trail:
                cycle = trail[trail.index(nxt) :]
                chain = " -> ".join([*cycle, nxt])
                problems.append(
                    (
                        origins[cycle[0]].origin(("lambda", "output")),
                        f"the outputs of these functions trigger each other in a loop: {chain}",
                    )
                )
            elif nxt not in done:
                visit(nxt)
        trail.pop()
        done.add(node)

    for name in sorted(edges):
        if name not in done:
            visit(name)


def check_lambda_environments(deployment: Deployment, settings: Settings, problems: list[Problem]) -> None:
    """Lambda refuses more than 4 KB of environment, measured on the deployed variables as JSON."""
    origins = {fs.get(("lambda", "name")): fs for fs in settings.functions}
    for function in deployment.functions:
        size = deployed_environment_size(deployment, function)
        if size > LAMBDA_ENV_LIMIT:
            added = " (with the job queue and bucket variables faas-render adds)" if function.batch else ""
            problems.append(
                (
                    origins[function.name].origin(("lambda", "environment", "Variables")),
                    f"the Lambda environment would be {size} bytes as JSON{added}; Lambda allows "
                    f"{LAMBDA_ENV_LIMIT} (container.environment counts too, where the Lambda function runs "
                    "the script; put large values in S3)",
                )
            )
