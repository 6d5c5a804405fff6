"""The `batch` section of a function: its job and the compute profile it shares with others."""

from __future__ import annotations

import re
from collections.abc import Sequence

from render.fdl.container_environment import deployed
from render.fdl.defaults import DEFAULT_GPU_INSTANCE_TYPES, DEFAULT_INSTANCE_TYPES
from render.fdl.errors import Problem
from render.fdl.instance_types import allowed
from render.fdl.model import BatchJob, ComputeProfile
from render.fdl.settings import FunctionSettings
from render.fdl.yaml_source import KeyPath

# Fargate accepts these memory sizes (MiB) for each whole number of vCPUs.
FARGATE_MEMORY = {
    1: range(2048, 8192 + 1, 1024),
    2: range(4096, 16384 + 1, 1024),
    4: range(8192, 30720 + 1, 1024),
    8: range(16384, 61440 + 1, 4096),
    16: range(32768, 122880 + 1, 8192),
}
GPU_FAMILIES = ("g", "p")
# Graviton (arm64) families: a generation digit followed by "g" (m7g, c7gn, r6gd, x2gd, im4gn,
# is4gen, t4g, g5g, hpc7g), and a1. Batch's "default_arm64" says so itself; "optimal" is x86_64.
GRAVITON_FAMILY = re.compile(r"^(a1|[a-z]+\d+g[a-z]*|default_arm64)$")
ARCHITECTURES = ("x86_64", "arm64")
MAX_NODES = 1000  # nodes of one multi-node parallel job (Batch's default quota)
MAX_NODE_SECURITY_GROUPS = 4  # Batch's 5 per compute environment, less the nodes' own (modules/batch)


def architecture_of(instance_type: str) -> str:
    """The CPU architecture of an instance type or family ("m7g.large", "c6i", "optimal")."""
    return "arm64" if GRAVITON_FAMILY.match(instance_type.split(".")[0]) else "x86_64"


def resolve_batch(
    fs: FunctionSettings, mode: str, account: str | None, container_env: dict[str, str], problems: list[Problem]
) -> BatchJob | None:
    cr = fs.get(("batch", "compute_resources"))
    start = len(problems)
    compute_type = cr["type"]
    for key in ("subnets", "security_group_ids"):
        if not cr.get(key):
            problems.append(
                (
                    fs.origin(("batch", "compute_resources", key)),
                    f"execution_mode {mode} needs batch.compute_resources.{key} (Batch launches its hosts or "
                    "tasks into your VPC); set it in the FDL or in a --config file",
                )
            )
    gpu = bool(fs.get(("batch", "enable_gpu")))
    vcpus, memory = fs.get(("batch", "vcpus")), fs.get(("batch", "memory"))
    low, desired, high = cr["min_v_cpus"], cr["desired_v_cpus"], cr["max_v_cpus"]
    nodes, main_node = _multi_node(fs, compute_type, problems)
    if nodes > 1 and not fs.is_set(("batch", "compute_resources", "max_v_cpus")):
        high = max(high, nodes * vcpus)  # room for every node at once, unless the user said otherwise
    if not low <= desired <= high:
        problems.append(
            (
                fs.origin(("batch", "compute_resources")),
                f"need min_v_cpus <= desired_v_cpus <= max_v_cpus, got {low} / {desired} / {high}",
            )
        )
    if vcpus > high:
        problems.append(
            (
                fs.origin(("batch", "vcpus")),
                f"the job asks for {vcpus} vCPUs but the compute environment has at most {high} "
                "(max_v_cpus): it would never run",
            )
        )
    if compute_type == "FARGATE":
        if gpu:
            problems.append(
                (
                    fs.origin(("batch", "enable_gpu")),
                    "enable_gpu cannot work with compute_resources.type FARGATE (Fargate has no GPUs); use EC2 or SPOT",
                )
            )
        if memory not in FARGATE_MEMORY.get(vcpus, ()):
            allowed = FARGATE_MEMORY.get(vcpus)
            hint = (
                f"{allowed.start}-{allowed.stop - 1} MiB in steps of {allowed.step}"
                if allowed
                else "vcpus 1, 2, 4, 8 or 16"
            )
            problems.append(
                (fs.origin(("batch", "memory")), f"Fargate does not offer {vcpus} vCPU with {memory} MiB; use {hint}")
            )
    instance_types = cr.get("instance_types")
    if compute_type != "FARGATE" and gpu and instance_types:
        non_gpu = [t for t in instance_types if not t.startswith(GPU_FAMILIES)]
        if non_gpu:
            problems.append(
                (
                    fs.origin(("batch", "compute_resources", "instance_types")),
                    f"enable_gpu needs GPU instance types (g*, p*), not {', '.join(non_gpu)}",
                )
            )
    if not instance_types:
        instance_types = DEFAULT_GPU_INSTANCE_TYPES if gpu else DEFAULT_INSTANCE_TYPES
    if compute_type != "FARGATE":
        _placeable(fs, vcpus, memory, instance_types, problems)
    # On FARGATE too the instance types name the architecture (Fargate picks no instance type):
    # Graviton families or default_arm64 run the arm64 image (runtimePlatform ARM64).
    architecture = _single_architecture(fs, instance_types, problems)
    instance_role = _role(fs, ("batch", "compute_resources", "instance_role"), account, problems)
    service_role = _role(fs, ("batch", "service_role"), account, problems)
    if len(problems) > start:
        return None
    profile = ComputeProfile(
        compute_type=compute_type,
        min_vcpus=0 if compute_type == "FARGATE" else low,
        desired_vcpus=0 if compute_type == "FARGATE" else desired,
        max_vcpus=high,
        instance_types=() if compute_type == "FARGATE" else tuple(instance_types),
        subnets=tuple(cr["subnets"]),
        security_group_ids=tuple(cr["security_group_ids"]),
        instance_role=None if compute_type == "FARGATE" else instance_role,
        service_role=service_role,
        enable_gpu=gpu,
        architecture=architecture,
        runnable_timeout=fs.get(("batch", "runnable_timeout")),
        multi_node=nodes > 1,
    )
    environment = deployed(container_env)
    environment.update(fs.variables(("batch", "environment", "Variables")))
    return BatchJob(
        vcpus,
        memory,
        1 if gpu else 0,
        dict(sorted(environment.items())),
        profile,
        retry_attempts=fs.get(("batch", "retry_attempts")),
        timeout=fs.get(("batch", "timeout")),
        staged_events_expiration_days=fs.get(("batch", "staged_events_expiration_days")),
        nodes=nodes,
        main_node=main_node,
    )


def _multi_node(fs: FunctionSettings, compute_type: str, problems: list[Problem]) -> tuple[int, int]:
    """The job's node count and main node index: (1, 0) unless multi_node_parallel is enabled."""
    section = ("batch", "multi_node_parallel")
    if not fs.get((*section, "enabled")):
        return 1, 0
    nodes, main_node = fs.get((*section, "number_nodes")), fs.get((*section, "main_node_index"))
    if not 2 <= nodes <= MAX_NODES:
        problems.append(
            (
                fs.origin((*section, "number_nodes")),
                f"a multi-node parallel job has 2 to {MAX_NODES} nodes (Batch's limit), not {nodes}",
            )
        )
    elif main_node >= nodes:
        problems.append(
            (
                fs.origin((*section, "main_node_index")),
                f"main_node_index {main_node} is not a node of a {nodes}-node job: use 0 to {nodes - 1}",
            )
        )
    if compute_type != "EC2":
        problems.append(
            (
                fs.origin(("batch", "compute_resources", "type")),
                f"multi-node parallel jobs run on EC2 only (Batch runs none on {compute_type}): "
                "set batch.compute_resources.type to EC2, or disable batch.multi_node_parallel",
            )
        )
    groups = fs.get(("batch", "compute_resources", "security_group_ids")) or []
    if len(groups) > MAX_NODE_SECURITY_GROUPS:
        problems.append(
            (
                fs.origin(("batch", "compute_resources", "security_group_ids")),
                f"a multi-node compute environment takes at most {MAX_NODE_SECURITY_GROUPS} security groups, "
                f"not {len(groups)}: Batch allows 5, and the fifth is the one that lets the nodes reach each other",
            )
        )
    vcpus, high = fs.get(("batch", "vcpus")), fs.get(("batch", "compute_resources", "max_v_cpus"))
    if 2 <= nodes <= MAX_NODES and nodes * vcpus > high and fs.is_set(("batch", "compute_resources", "max_v_cpus")):
        problems.append(
            (
                fs.origin(("batch", "compute_resources", "max_v_cpus")),
                f"the job's {nodes} nodes of {vcpus} vCPU(s) need {nodes * vcpus} vCPUs at once but max_v_cpus is "
                f"{high}: Batch starts all nodes together, so it would never run; raise max_v_cpus or leave it unset",
            )
        )
    return nodes, main_node


def _placeable(
    fs: FunctionSettings, vcpus: int, memory: int, instance_types: Sequence[str], problems: list[Problem]
) -> None:
    """Refuse a job no allowed instance type can hold: Batch would leave it RUNNABLE at the head
    of the shared queue. Instance types not known here are given the benefit of the doubt."""
    candidates = allowed(instance_types)
    if not candidates or any(t.vcpus >= vcpus and t.registered_at_most >= memory for t in candidates):
        return
    roomiest = max(candidates, key=lambda t: (t.registered_at_most, t.vcpus))
    most_vcpus = max(candidates, key=lambda t: (t.vcpus, t.registered_at_most))
    hint = "; ask for less, or allow larger instance types in batch.compute_resources.instance_types"
    if memory > roomiest.registered_at_most:
        problems.append(
            (
                fs.origin(("batch", "memory")),
                f"{memory} MiB is more than the {roomiest.registered_at_most:,} MiB the largest allowed instance type "
                f"({roomiest.name}, {roomiest.memory_mib // 1024} GiB) registers for jobs at most: the job could "
                f"never be placed{hint}",
            )
        )
    elif vcpus > most_vcpus.vcpus:
        problems.append(
            (
                fs.origin(("batch", "vcpus")),
                f"{vcpus} vCPUs are more than the {most_vcpus.vcpus} of the largest allowed instance type "
                f"({most_vcpus.name}): the job could never be placed{hint}",
            )
        )
    else:
        problems.append(
            (
                fs.origin(("batch", "memory")),
                f"no allowed instance type has both {vcpus} vCPUs and {memory} MiB ({most_vcpus.name} has "
                f"{most_vcpus.vcpus} vCPUs and registers at most {most_vcpus.registered_at_most:,} MiB): the job "
                f"could never be placed{hint}",
            )
        )


def _single_architecture(fs: FunctionSettings, instance_types: Sequence[str], problems: list[Problem]) -> str:
    """One compute environment runs one architecture: its hosts' AMI and the supervisor match it."""
    by_architecture = {a: [t for t in instance_types if architecture_of(t) == a] for a in ARCHITECTURES}
    if all(by_architecture.values()):
        problems.append(
            (
                fs.origin(("batch", "compute_resources", "instance_types")),
                f"instance types mix arm64 ({', '.join(by_architecture['arm64'])}) and x86_64 "
                f"({', '.join(by_architecture['x86_64'])}): a compute environment runs one architecture; "
                "list Graviton types (m7g, c7g, ...) or x86_64 types, not both",
            )
        )
    return "arm64" if by_architecture["arm64"] else "x86_64"


def _role(fs: FunctionSettings, path: KeyPath, account: str | None, problems: list[Problem]) -> str | None:
    value = fs.get(path) or None
    if value and "{account_id}" in value:
        if not account:
            problems.append(
                (
                    fs.origin(path),
                    "cannot fill in {account_id}: write the full ARN, or set iam.role to a role ARN of the account",
                )
            )
            return None
        value = value.replace("{account_id}", account)
    return value
