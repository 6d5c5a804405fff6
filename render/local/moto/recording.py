"""moto's request recorder, as `faas local --state DIR` keeps the emulator's state with it.

moto's recorder (moto_api/_internal/recorder) appends every request its server answers (method,
URL, headers, body) to one file, the request written before it is handled. The patch serializes
those appends: moto opens the file and writes each request unlocked, and the emulator's server
answers requests on several threads at once, so two large bodies could interleave. `record_to`
points the recorder at a file and starts it; render/local/state.py replays the file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moto.moto_api import recorder
from moto.moto_api._internal.recorder.models import Recorder

from render.local.moto.patch import Patches

PATCHES = Patches()
_appending = threading.Lock()


@PATCHES.patch(Recorder, "_record_request", ("self", "request", "body"))
def record_request(original: Callable[..., None], self: Recorder, request: Any, body: bytes | None = None) -> None:
    with _appending:
        original(self, request, body)


def record_to(path: Path) -> Callable[[], None]:
    """Append every request from now on to `path`; the returned callable stops recording."""
    recorder._location = str(path)
    recorder.start_recording()
    return recorder.stop_recording
