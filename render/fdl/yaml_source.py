"""Load YAML while remembering the line of every key, so errors can point into the file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from render.fdl.errors import FdlError, Location

KeyPath = tuple[str | int, ...]
# libyaml's parser when PyYAML was built with it (about 5x faster); nodes and marks are the same.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def dotted(path: KeyPath) -> str:
    """Render a key path the way users write it: `functions.aws[0].lambda.memory`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass
class SourceDocument:
    """A parsed YAML (or JSON) document and the line each key path starts on."""

    path: Path
    display_name: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def location(self, path: KeyPath) -> Location:
        """The location of `path`, falling back to its nearest ancestor that has a line."""
        probe = path
        while probe and probe not in self.lines:
            probe = probe[:-1]
        return Location(self.display_name, self.lines.get(probe, 1), dotted(path))


def load_document(path: Path, display_name: str | None = None) -> SourceDocument:
    """Parse `path`; syntax errors, duplicate keys and an empty file are reported with a line."""
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FdlError.single(Location(name), "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FdlError.single(Location(name), f"cannot read the file: {exc}") from None
    try:
        loader = SafeLoader(text)
    except yaml.reader.ReaderError as exc:  # the reader checks the first characters at once
        raise _forbidden_character(exc, text, name) from None
    try:
        root = loader.get_single_node()
        if root is None:
            raise FdlError.single(Location(name, 1), "the file is empty; expected a mapping with a 'functions' key")
        document = SourceDocument(path, name, None)
        document.data = _build(loader, root, (), document)
        return document
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise FdlError.single(Location(name, line), f"YAML syntax error: {problem}") from None
    except yaml.reader.ReaderError as exc:
        raise _forbidden_character(exc, text, name) from None
    except yaml.YAMLError as exc:
        raise FdlError.single(Location(name), f"YAML syntax error: {exc}") from None
    finally:
        loader.dispose()


def _forbidden_character(exc: yaml.reader.ReaderError, text: str, name: str) -> FdlError:
    line = text.count("\n", 0, max(exc.position, 0)) + 1
    return FdlError.single(Location(name, line), f"YAML syntax error: character {exc.character!r} is not allowed")


def _build(loader: Any, node: yaml.Node, path: KeyPath, document: SourceDocument) -> Any:
    document.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves `<<` merge keys
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                raise FdlError.single(document.location(path), "mapping keys must be plain scalars")
            key = str(key) if not isinstance(key, str) else key
            child = path + (key,)
            if key in result:
                line = key_node.start_mark.line + 1
                raise FdlError.single(Location(document.display_name, line, dotted(child)), "duplicate key")
            document.lines[child] = key_node.start_mark.line + 1
            result[key] = _build(loader, value_node, child, document)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, path + (index,), document) for index, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
