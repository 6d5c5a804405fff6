"""The one way the emulator changes moto: checked patches, and the moto releases they are written for.

The emulator replaces a few of moto's functions (one module per AWS service in this folder). Each
replacement is declared with `Patches.patch(owner, name, parameters)` and receives the original
first, as LocalStack's `utils/patch.py` does; an action moto lacks is declared with
`Patches.add(owner, name)`, checked to be still missing. Nothing is replaced until every target of a set has
been checked: it must exist and take exactly the parameters the replacement was written against.
moto renames its internals between releases (5.2.6 renamed every Batch response method), so a
moto outside `SUPPORTED` is refused with one line before anything is imported from it, and a
target that moved is named instead of failing later inside a request.
"""

from __future__ import annotations

import functools
import importlib.metadata
import inspect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

# The moto releases the emulator is tested with: setup.cfg's `local` extra says the same
# (tests/local/test_moto_patches.py checks it). A new release gets in by raising these, `make lock`
# and a green suite (README, "Dependencies").
SUPPORTED = ((5, 2, 6), (5, 3))  # at least, below
SUPPORTED_TEXT = ">=5.2.6,<5.3"

Replacement = Callable[..., Any]


class MotoUnsupported(Exception):
    """The installed moto is not one the emulator's patches fit: one line, for the user."""


def release(text: str) -> tuple[int, ...]:
    """`5.2.6` -> (5, 2, 6); a pre-release or local suffix is ignored (`5.3.0.dev1` -> (5, 3, 0))."""
    match = re.match(r"\d+(?:\.\d+)*", text)
    return tuple(int(part) for part in match.group().split(".")) if match else ()


def installed_moto() -> str | None:
    try:
        return importlib.metadata.version("moto")
    except importlib.metadata.PackageNotFoundError:
        return None


def check_version(installed: str | None = None) -> str:
    """The installed moto's version; MotoUnsupported when it is outside SUPPORTED (or missing)."""
    found = installed if installed is not None else installed_moto()
    hint = f"pip install 'moto[server]{SUPPORTED_TEXT}' (or pip install 'faas-render[local]')"
    if found is None:
        raise MotoUnsupported(f"the local emulator needs moto {SUPPORTED_TEXT}, which is not installed: {hint}")
    low, high = SUPPORTED
    if not low <= release(found) < high:
        raise MotoUnsupported(f"moto {found} is installed; the local emulator supports moto {SUPPORTED_TEXT}: {hint}")
    return found


@dataclass(frozen=True)
class Patch:
    """`owner.name` (a class's method or property, or a module's function) replaced by
    `replacement(original, ...)` (a property's getter: `replacement(getter, obj)`)."""

    owner: Any
    name: str
    parameters: tuple[str, ...]  # the original's, as the replacement was written against
    replacement: Replacement

    @property
    def target(self) -> str:
        owner = self.owner
        where = owner.__name__ if inspect.ismodule(owner) else f"{owner.__module__}.{owner.__qualname__}"
        return f"{where}.{self.name}"

    def original(self) -> Any:
        """What is there now (a class's own attribute: never one inherited from a base)."""
        found = vars(self.owner).get(self.name)
        if not (callable(found) or isinstance(found, property)):
            raise MotoUnsupported(f"{self.target} is missing")
        return found

    def problem(self) -> str | None:
        """What keeps this patch from fitting the installed moto, if anything."""
        try:
            found = self.original()
        except MotoUnsupported as missing:
            return str(missing)
        if isinstance(found, property):  # a read-only property: its getter is what is replaced
            found = found.fget
        parameters = tuple(inspect.signature(found).parameters)
        if parameters != self.parameters:
            return f"{self.target} takes {parameters}, the patch expects {self.parameters}"
        return None

    def apply(self) -> Callable[[], None]:
        """Replace the target; the returned callable puts the original back."""
        original = self.original()
        replacement = self.replacement
        if isinstance(original, property):
            getter = original.fget
            assert getter is not None  # problem() found its parameters
            setattr(self.owner, self.name, property(functools.wraps(getter)(lambda obj: replacement(getter, obj))))
            return lambda: setattr(self.owner, self.name, original)

        @functools.wraps(original)
        def patched(*args: Any, **kwargs: Any) -> Any:
            return replacement(original, *args, **kwargs)

        setattr(self.owner, self.name, patched)
        return lambda: setattr(self.owner, self.name, original)


@dataclass(frozen=True)
class Addition:
    """`owner.name`, which moto lacks (an action it has not implemented), added as `replacement`."""

    owner: Any
    name: str
    replacement: Replacement

    @property
    def target(self) -> str:
        return f"{self.owner.__module__}.{self.owner.__qualname__}.{self.name}"

    def problem(self) -> str | None:
        """A moto that has the name now implements it: the addition must go, not hide it."""
        found = getattr(self.owner, self.name, None)
        return None if found is None or found is self.replacement else f"{self.target} exists: moto implements it now"

    def apply(self) -> Callable[[], None]:
        setattr(self.owner, self.name, self.replacement)
        return lambda: delattr(self.owner, self.name)


class Patches:
    """A set of patches, applied together once all of them fit."""

    def __init__(self, patches: Iterable[Patch | Addition] = ()) -> None:
        self._patches = list(patches)

    def patch(self, owner: Any, name: str, parameters: tuple[str, ...]) -> Callable[[Replacement], Replacement]:
        """Declare `owner.name`'s replacement (a decorator); `parameters` are the original's."""

        def declare(replacement: Replacement) -> Replacement:
            self._patches.append(Patch(owner, name, parameters, replacement))
            return replacement

        return declare

    def add(self, owner: Any, name: str) -> Callable[[Replacement], Replacement]:
        """Declare `owner.name`, which moto lacks (a decorator); it must stay absent from moto."""

        def declare(addition: Replacement) -> Replacement:
            self._patches.append(Addition(owner, name, addition))
            return addition

        return declare

    def __iter__(self) -> Iterator[Patch | Addition]:
        return iter(self._patches)

    def problems(self) -> list[str]:
        return [problem for patch in self._patches if (problem := patch.problem()) is not None]

    def apply(self) -> Callable[[], None]:
        """Check every target, then replace them all; the returned callable undoes it."""
        if problems := self.problems():
            raise MotoUnsupported(f"moto {installed_moto()} does not fit the emulator: {'; '.join(problems)}")
        undo = [patch.apply() for patch in self._patches]

        def restore() -> None:
            while undo:
                undo.pop()()

        return restore
