"""The vCPUs and memory of EC2 instance types, and the most memory Batch can give a job on one.

Batch places a job on an instance only when the instance's ECS agent registered at least the
job's vCPUs and memory. The agent registers the memory Linux reports (MemTotal) less the 32 MiB
the Batch AMI reserves (ECS_RESERVED_MEMORY), and Linux reports less than the instance has: the
kernel keeps 64 bytes of page metadata per 4 KiB page (1/64) out of MemTotal, and more besides.
`registered_at_most` is therefore an upper bound, never an estimate: AWS's own example, an
m4.large (8192 MiB), registers 7985 - 32 = 7953 MiB, under its bound of 8032 MiB (AWS Batch User
Guide, "Compute resource memory management"). A job above the bound can never be placed.

The table holds the largest size of the families that Batch's instance type aliases pick from and
of the common current families (vCPUs and GiB from the EC2 instance type pages). Sizes of
families whose memory is a fixed multiple of their vCPUs are computed; an instance type or
family not known here makes the check give up rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

RESERVED_MIB = 32  # ECS_RESERVED_MEMORY of the Batch AMI


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_mib: int

    @property
    def registered_at_most(self) -> int:
        """The most memory (MiB) the ECS agent can register for jobs on this instance type."""
        return self.memory_mib - self.memory_mib // 64 - RESERVED_MIB


# family: (largest size, vCPUs, GiB)
LARGEST: dict[str, tuple[str, int, int]] = {
    "c4": ("8xlarge", 36, 60),
    "m4": ("16xlarge", 64, 256),
    "r4": ("16xlarge", 64, 488),
    "c5": ("24xlarge", 96, 192),
    "c5a": ("24xlarge", 96, 192),
    "c5n": ("18xlarge", 72, 192),
    "m5": ("24xlarge", 96, 384),
    "m5a": ("24xlarge", 96, 384),
    "m5n": ("24xlarge", 96, 384),
    "r5": ("24xlarge", 96, 768),
    "r5a": ("24xlarge", 96, 768),
    "r5n": ("24xlarge", 96, 768),
    "c6i": ("32xlarge", 128, 256),
    "m6i": ("32xlarge", 128, 512),
    "r6i": ("32xlarge", 128, 1024),
    "c6a": ("48xlarge", 192, 384),
    "m6a": ("48xlarge", 192, 768),
    "r6a": ("48xlarge", 192, 1536),
    "c7i": ("48xlarge", 192, 384),
    "m7i": ("48xlarge", 192, 768),
    "r7i": ("48xlarge", 192, 1536),
    "c7a": ("48xlarge", 192, 384),
    "m7a": ("48xlarge", 192, 768),
    "r7a": ("48xlarge", 192, 1536),
    "c6g": ("16xlarge", 64, 128),
    "m6g": ("16xlarge", 64, 256),
    "r6g": ("16xlarge", 64, 512),
    "c7g": ("16xlarge", 64, 128),
    "m7g": ("16xlarge", 64, 256),
    "r7g": ("16xlarge", 64, 512),
    "g4dn": ("metal", 96, 384),
    "g5": ("48xlarge", 192, 768),
    "g6": ("48xlarge", 192, 768),
    "g5g": ("16xlarge", 64, 128),
    "p3": ("16xlarge", 64, 488),
    "p3dn": ("24xlarge", 96, 768),
    "p4d": ("24xlarge", 96, 1152),
    "p5": ("48xlarge", 192, 2048),
}
# Families whose every size has this many GiB per vCPU (c: 2, m: 4, r: 8).
UNIFORM = {
    family: LARGEST[family][2] // LARGEST[family][1]
    for family in LARGEST
    if family[0] in "cmr" and family not in ("c4", "m4", "r4", "c5n")
}
# GPU families' sizes: (vCPUs, GiB).
SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "g4dn": {
        "xlarge": (4, 16),
        "2xlarge": (8, 32),
        "4xlarge": (16, 64),
        "8xlarge": (32, 128),
        "12xlarge": (48, 192),
        "16xlarge": (64, 256),
    },
    "g5": {
        "xlarge": (4, 16),
        "2xlarge": (8, 32),
        "4xlarge": (16, 64),
        "8xlarge": (32, 128),
        "12xlarge": (48, 192),
        "16xlarge": (64, 256),
        "24xlarge": (96, 384),
    },
}
# Batch's aliases: "optimal" picks from c4, m4, r4, c5, m5 and r5, and from November 2025 as
# default_x86_64 does (AWS Batch API reference, ComputeResource.instanceTypes).
ALIASES = {
    "default_x86_64": ("m6i", "c6i", "r6i", "c7i"),
    "default_arm64": ("m6g", "c6g", "r6g", "c7g"),
    "optimal": ("c4", "m4", "r4", "c5", "m5", "r5", "m6i", "c6i", "r6i", "c7i"),
}
SIZE = re.compile(r"^(\d*)xlarge$")
SMALL_SIZES = {"medium": 1, "large": 2}  # vCPUs


def allowed(instance_types: Iterable[str]) -> list[InstanceType] | None:
    """The instance types Batch may launch for these instance_types (a family: its largest size),
    or None when one is not known here."""
    found: list[InstanceType] = []
    for requested in instance_types:
        for name in ALIASES.get(requested, (requested,)):
            instance_type = lookup(name)
            if instance_type is None:
                return None
            found.append(instance_type)
    return found


def lookup(name: str) -> InstanceType | None:
    family, _, size = name.partition(".")
    if family not in LARGEST:
        return None
    largest, vcpus, gib = LARGEST[family]
    if not size or size.startswith("metal") or size == largest:
        return InstanceType(f"{family}.{largest}", vcpus, gib * 1024)
    if size in SIZES.get(family, {}):
        vcpus, gib = SIZES[family][size]
        return InstanceType(name, vcpus, gib * 1024)
    match = SIZE.match(size)
    if family not in UNIFORM or not (match or size in SMALL_SIZES):
        return None
    vcpus = 4 * int(match.group(1) or 1) if match else SMALL_SIZES[size]
    return InstanceType(name, vcpus, vcpus * UNIFORM[family] * 1024)
