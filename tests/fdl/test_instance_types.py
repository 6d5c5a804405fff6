"""What Batch can register on an instance type: an upper bound, checked against AWS's own example."""

from __future__ import annotations

import pytest

from render.fdl.defaults import DEFAULT_GPU_INSTANCE_TYPES, DEFAULT_INSTANCE_TYPES
from render.fdl.instance_types import LARGEST, InstanceType, allowed, lookup


def test_the_bound_holds_for_awss_documented_m4_large() -> None:
    # AWS Batch User Guide, "Compute resource memory management": an m4.large (8 GiB) reports
    # 8373026816 bytes (7985 MiB) to the ECS agent, which keeps 32 MiB back.
    m4_large = InstanceType("m4.large", 2, 8192)
    registered = 8373026816 // 2**20 - 32
    assert registered <= m4_large.registered_at_most < m4_large.memory_mib
    assert m4_large.registered_at_most == 8192 - 128 - 32


@pytest.mark.parametrize(
    ("name", "vcpus", "gib"),
    [
        ("m6i.large", 2, 8),
        ("c5.9xlarge", 36, 72),
        ("r5.xlarge", 4, 32),
        ("m6g.medium", 1, 4),
        ("g4dn.xlarge", 4, 16),
        ("g4dn", 96, 384),  # a family: its largest size
        ("r6i.metal", 128, 1024),
    ],
)
def test_sizes(name: str, vcpus: int, gib: int) -> None:
    found = lookup(name)
    assert found is not None and (found.vcpus, found.memory_mib) == (vcpus, gib * 1024)


@pytest.mark.parametrize("name", ["c5n.large", "p3.2xlarge", "x2idn", "m6i.huge"])
def test_what_is_not_known_is_not_guessed(name: str) -> None:
    assert lookup(name) is None
    assert allowed(["m6i", name]) is None


def test_aliases_are_their_families() -> None:
    optimal = allowed(["optimal"])
    assert optimal is not None
    assert max(optimal, key=lambda t: t.memory_mib).name == "r6i.32xlarge"
    assert {t.name.split(".")[0] for t in allowed(["default_arm64"]) or []} == {"m6g", "c6g", "r6g", "c7g"}


def test_the_defaults_are_known() -> None:
    for family in [*DEFAULT_INSTANCE_TYPES, *DEFAULT_GPU_INSTANCE_TYPES]:
        assert family in LARGEST
