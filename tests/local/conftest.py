"""The workflow of tests/local/faas_local.py applied to a `faas local` process, once for the folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import aws_variables, render
from tests.local.faas_local import COUNT, FDL, UPPER, Running, faas_local


@pytest.fixture(scope="package")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    work = tmp_path_factory.mktemp("local-service")
    (work / "fdl.yaml").write_text(FDL)
    (work / "upper.sh").write_text(UPPER)
    (work / "count.sh").write_text(COUNT)
    with faas_local(work) as local, pytest.MonkeyPatch.context() as patch:
        for name, value in aws_variables(local.endpoint).items():
            patch.setenv(name, value)
        assert render(work / "fdl.yaml", work / "root", "--apply") == 0
        yield Running(local.endpoint, local.pid, local.log, work / "root")
