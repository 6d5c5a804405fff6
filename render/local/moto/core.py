"""moto's server core: the list of its services, read once instead of on every request."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from moto import backends

from render.local.moto.patch import Patches

PATCHES = Patches()
_listed: dict[str, tuple[str, ...]] = {}


@PATCHES.patch(backends, "list_of_moto_modules", ())
def list_of_moto_modules(original: Callable[[], Iterable[str]]) -> tuple[str, ...]:
    """To find the service a request's host names, moto lists and stats its package's folders on
    every request, under a lock: a few milliseconds each, the largest cost of a small request."""
    if "modules" not in _listed:
        _listed["modules"] = tuple(original())
    return _listed["modules"]
