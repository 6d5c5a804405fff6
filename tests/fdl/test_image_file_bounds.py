"""A hostile `container.image_file` is refused by faas-render itself: exit 2, file:line, fast, in little memory.

The archives are built at test time (about 1 MB each, gzipped) and rendered in a bounded process
(tests.fdl.test_yaml_bounds.run: 1 GiB address space, 10 s); nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from faas_supervisor.image import Layer

from tests import hostile_layers as hostile
from tests.fdl.test_yaml_bounds import MAX_GROWTH_KIB, run

FDL = """\
functions:
  aws:
  - lambda:
      name: packed
      execution_mode: {mode}
      init_script: ok.sh
      container:
        image_file: image.tar.gz
"""

ARCHIVES: dict[str, tuple[Callable[[], Layer], str]] = {
    "1 GiB GNU long name": (lambda: hostile.long_name(hostile.GIB), "long name or link of 1073741824 bytes"),
    "gzip bomb": (lambda: hostile.gzip_bomb(1, hostile.GIB), "member 'hostile/zeros-0' (1073741824 bytes)"),
}


@pytest.mark.parametrize("kind", list(ARCHIVES))
@pytest.mark.parametrize("mode", ["lambda", "batch"])
def test_a_hostile_image_file_is_refused_before_anything_is_written(kind: str, mode: str, tmp_path: Path) -> None:
    make, words = ARCHIVES[kind]
    archive = make()
    assert archive.size < 2 * hostile.MIB
    (tmp_path / "image.tar.gz").write_bytes(archive.blob)
    (tmp_path / "ok.sh").write_text("echo ok\n")
    (tmp_path / "fdl.yaml").write_text(FDL.format(mode=mode))
    measured, stderr = run(tmp_path, "faas-render", "fdl.yaml", "-o", "out")
    assert measured["code"] == 2, stderr
    assert measured["growth_kib"] < MAX_GROWTH_KIB and measured["seconds"] < 5, measured
    assert "fdl.yaml:8: functions.aws[0].lambda.container.image_file" in stderr, stderr
    assert "image_file image.tar.gz: " in stderr and words in stderr, stderr
    assert not (tmp_path / "out").exists()
