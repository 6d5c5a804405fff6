"""Shared fixtures: an isolated home, a stand-in supervisor binary, a moto server on loopback, a registry
(and a mirror of Docker Hub's base images) on loopback, and botocore's data files parsed once per process.

Shared helpers that are not fixtures are in tests/helpers.py."""

from __future__ import annotations

import os
import pwd
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session
import pytest
from faas_supervisor import contract

from render.local import emulator
from render.local.options import LocalOptions
from render.terraform.supervisor_bundle import SupervisorBundleError, native_architecture, supervisor_bundle
from tests.helpers import LocalRegistry, Mirror, aws_variables, start_registry, write_bundle
from tools.base_images import BuildError, build_and_push
from tools.debs import DebError

# The longest test files, longest first, in seconds of work each (`make test` on 2 cores). With
# `--dist loadfile --no-loadscope-reorder` (the Makefile's) each file is one unit of work, handed to
# the workers in this order, so a long file never starts last and leaves the others idle while it
# runs (xdist's own order is by number of tests: a file of two long applies came near the end).
LONGEST_FIRST = (
    "tests/terraform/test_apply.py",  # 330
    "tests/terraform/test_deployer_policy.py",  # 190
    "tests/terraform/test_aws_limits_applied.py",  # 190
    "tests/terraform/test_images_applied.py",  # 180
    "tests/terraform/test_validate.py",  # 170
    "tests/commands/test_faas.py",  # 95
    "tests/local/test_failures.py",  # 85
    "tests/review/test_plan_applied.py",  # 80
    "tests/test_benchmarks.py",  # 75
    "tests/local/test_sandbox_attacks.py",  # 75
    "tests/terraform/test_storage_credentials.py",  # 60
    "tests/terraform/test_module_tests.py",  # 55
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    root = config.rootpath
    items.sort(key=lambda item: rank.get(item.path.relative_to(root).as_posix(), len(rank)))


@pytest.fixture(scope="session", autouse=True)
def shared_botocore_data() -> Iterator[None]:
    """Every boto3 session of the test process shares one botocore data loader.

    A new session otherwise parses the service model and endpoint JSON files again for its first
    client, and the code under test makes new sessions as it does in production (the supervisor
    after every reset_clients(), the faas commands for each command): that parsing was about half
    of the supervisor tests' time. Sessions, clients and credentials stay separate; only the parsed files are shared,
    as they are between the clients of one session.
    """
    original = botocore.session.create_loader
    loaders: dict[Any, botocore.loaders.Loader] = {}

    def create_loader(search_path_string: Any = None) -> botocore.loaders.Loader:
        if search_path_string not in loaders:
            loaders[search_path_string] = original(search_path_string)
        loader = loaders[search_path_string]
        # Each boto3 session appends boto3's own data folder to its loader's paths: once is enough.
        loader.search_paths[:] = dict.fromkeys(loader.search_paths)
        return loader

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", create_loader)
        yield


@pytest.fixture(scope="session", autouse=True)
def sandbox_reachable_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Let the sandboxes' unprivileged user (uid 993) pass through pytest's private temporary folders,
    where the tests unpack images: as `faas local` keeps its own work folder (folders stay unlisted)."""
    base = tmp_path_factory.getbasetemp()
    for folder in (base, *base.parents):
        if folder == Path(tempfile.gettempdir()) or folder == folder.parent:
            break
        folder.chmod(folder.stat().st_mode | 0o111)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the developer's ~/.scar/scar.cfg or AWS profile."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SCAR_CONFIG_FOLDER", raising=False)
    return home


@pytest.fixture(scope="session")
def stand_in_supervisor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle of fixed bytes in place of the frozen supervisor, so renders are fast and stable.

    The renderer only turns the bundle into the supervisor layer; the real one is built and run
    by the supervisor's own tests.
    """
    folder = tmp_path_factory.mktemp("supervisor")
    return write_bundle(folder / contract.SUPERVISOR_BUNDLE, b"#!/bin/sh\necho stand-in supervisor\n")


@pytest.fixture(autouse=True)
def supervisor_bundle_env(stand_in_supervisor: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAAS_RENDER_SUPERVISOR_BUNDLE", str(stand_in_supervisor))


@pytest.fixture(scope="session")
def moto_endpoint(mirror: Mirror) -> Iterator[str]:
    """The local emulator on 127.0.0.1, as `faas local` runs it: it runs what uploads and Invoke start
    (images built by Terraform's builder invocations take their bases from `mirror`)."""
    options = LocalOptions(registry_mirror=mirror.url, concurrency=2)
    running = emulator.start(port=0, run_functions=True, output=lambda line: None, options=options)
    yield running.endpoint
    running.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment pointing boto3 and terraform at the emulator."""
    for key, value in aws_variables(moto_endpoint).items():
        monkeypatch.setenv(key, value)
    return dict(os.environ)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A real registry on 127.0.0.1 (docker-registry, filesystem storage, no authentication)."""
    running = start_registry(tmp_path_factory.mktemp("registry"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mirror]:
    """A registry mirror for Docker Hub names: a real registry on 127.0.0.1 holding the stand-ins for
    alpine:3.20 and python:3.12-alpine (tools/base_images.py), built from Debian packages once per session.

    The .debs and layers are cached in the developer's own cache (tests/conftest.py isolates HOME).
    """
    running, cache = start_registry(tmp_path_factory.mktemp("mirror")), _user_cache() / "faas-render" / "debs"
    try:
        images = build_and_push(running.url, cache=cache)
    except (BuildError, DebError) as error:
        running.stop()
        pytest.skip(f"the base image stand-ins cannot be built here: {error}")
    yield Mirror(running.url, {image.name: image for image in images}, cache)
    running.stop()


def _user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache")


@pytest.fixture(scope="session")
def frozen_supervisor() -> Path:
    """The real frozen supervisor (not the stand-in above): the packaged bundle, or built on first use.

    Cached in the developer's own cache (tests/conftest.py isolates HOME), so only the first
    run pays the ~20 s build.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("FAAS_RENDER_SUPERVISOR_BUNDLE", raising=False)
        patch.setenv("XDG_CACHE_HOME", str(_user_cache()))
        try:
            return supervisor_bundle(native_architecture() or "x86_64")
        except SupervisorBundleError as error:
            pytest.skip(str(error))
