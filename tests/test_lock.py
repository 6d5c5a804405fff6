"""The locks (requirements/*.txt) are what setup.cfg asks for, with a hash for every file.

`make install`, `make test` and CI install only from these locks; `make lock` writes them. A range
changed in setup.cfg without `make lock` fails here, as does a hand-edited pin outside its range.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers import REPO

LOCKS = REPO / "requirements"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)(?:\s*;\s*(?P<marker>[^\\]+?))?\s*\\?$")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: int


def pins(lock: Path) -> list[Pin]:
    """Every `name==version` entry, with the number of `--hash` lines that follow it."""
    found: list[Pin] = []
    for line in lock.read_text().splitlines():
        if match := PIN.match(line):
            found.append(Pin(canonicalize_name(match["name"]), match["version"], 0))
        elif line.strip().startswith("--hash=sha256:") and found:
            found[-1] = Pin(found[-1].name, found[-1].version, found[-1].hashes + 1)
        elif line.strip() and not line.lstrip().startswith("#"):
            raise AssertionError(f"{lock.name}: not a pinned, hashed requirement: {line!r}")
    return found


def declared() -> list[Requirement]:
    """setup.cfg's requirements (every extra; the project's own extras are its other lines) and build.in's."""
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines()
    for extra in config["options.extras_require"].values():
        lines += extra.splitlines()
    lines += (LOCKS / "build.in").read_text().splitlines()
    requirements = [Requirement(line.split("#")[0]) for line in lines if line.split("#")[0].strip()]
    return [r for r in requirements if canonicalize_name(r.name) != "faas-render"]


@pytest.mark.parametrize("lock", sorted(LOCKS.glob("*.txt")), ids=lambda p: p.name)
def test_every_pin_has_hashes(lock: Path) -> None:
    found = pins(lock)
    assert found, f"{lock.name} pins nothing"
    assert [p.name for p in found if p.hashes == 0] == []


@pytest.mark.parametrize("lock", sorted(LOCKS.glob("*.txt")), ids=lambda p: p.name)
def test_every_lock_has_its_input_and_says_how_it_is_made(lock: Path) -> None:
    assert "#    make lock" in lock.read_text()
    assert lock.name == "dev.txt" or lock.with_suffix(".in").is_file()


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_the_dev_lock_pins_what_setup_cfg_asks_for(requirement: Requirement) -> None:
    locked = [p for p in pins(LOCKS / "dev.txt") if p.name == canonicalize_name(requirement.name)]
    assert locked, f"{requirement.name} is not in requirements/dev.txt: run `make lock`"
    outside = [p.version for p in locked if not requirement.specifier.contains(p.version, prereleases=True)]
    assert outside == [], f"requirements/dev.txt pins {requirement.name} {outside}, setup.cfg asks for {requirement}"


@pytest.mark.parametrize(("lock", "name"), [("checkov.txt", "checkov"), ("uv.txt", "uv")])
def test_the_tool_locks_pin_their_tool(lock: str, name: str) -> None:
    assert name in {p.name for p in pins(LOCKS / lock)}
