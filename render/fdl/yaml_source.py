"""Load YAML while remembering the line of every key, so errors can point into the file.

Every YAML faas-render reads (the FDL, `--config` files, scar.cfg, `--set` values) goes through
`load_document` or `load_value`, which refuse a document over the limits below before building
anything from it: an alias bomb of a few hundred bytes, a file of gigabytes or nesting deeper
than Python recurses is one located error, found in well under a second and a few MB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from render.fdl.errors import FdlError, Location, is_utf8, printable

KeyPath = tuple[str | int, ...]
# libyaml's parser when PyYAML was built with it (about 5x faster); nodes and marks are the same.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The limits, checked on the parser's events before a node is composed. SCAR's largest FDL is
# 10 KB with 217 nodes nested 8 deep; a 1000-function FDL is about 250 KB and 30,000 nodes.
MAX_BYTES = 1 << 20  # 1 MiB: a hundred times SCAR's largest FDL, and read, parsed and built in well under a second
MAX_DEPTH = 64  # nested collections, aliases expanded: every later step (merging, the schema) recurses per level
MAX_NODES = 100_000  # nodes, aliases at their expanded size: the built document keeps a value and a line per node


class LimitExceeded(Exception):
    """A document over one of the limits, and the line where it went over."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


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
    """Parse `path` within the limits; syntax errors, duplicate keys, an empty file and a document
    over a limit are reported with a line."""
    name = display_name or str(path)
    if not is_utf8(name):  # written into main.tf, and shown in every message
        raise FdlError.single(Location(printable(name)), "the file name is not UTF-8: rename the file")
    text = _read(path, name)
    loader = None
    try:
        _check_limits(text)
        loader = SafeLoader(text)
        root = loader.get_single_node()
        if root is None:
            raise FdlError.single(Location(name, 1), "the file is empty; expected a mapping with a 'functions' key")
        document = SourceDocument(path, name, None)
        document.data = _build(loader, root, (), document)
        return document
    except LimitExceeded as exc:
        raise FdlError.single(Location(name, exc.line), exc.message) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise FdlError.single(Location(name, line), f"YAML syntax error: {problem}") from None
    except yaml.reader.ReaderError as exc:  # the reader checks the first characters at once
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        problem = f"YAML syntax error: character {exc.character!r} is not allowed"
        raise FdlError.single(Location(name, line), problem) from None
    except yaml.YAMLError as exc:
        raise FdlError.single(Location(name), f"YAML syntax error: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_value(text: str, where: Location) -> Any:
    """A value given on the command line, read as YAML within the limits.

    A value over a limit raises FdlError at `where`; a syntax error raises yaml.YAMLError, so the
    caller can take the text as a plain string.
    """
    try:
        if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
            raise LimitExceeded(1, f"the value is more than {MAX_BYTES} bytes (limit {MAX_BYTES}): refused")
        _check_limits(text)
    except LimitExceeded as exc:
        raise FdlError.single(where, exc.message) from None
    return yaml.load(text, Loader=SafeLoader)


def _read(path: Path, name: str) -> str:
    """The file's text, reading no more than one byte over MAX_BYTES whatever its size."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise FdlError.single(Location(name), "file not found") from None
    except OSError as exc:
        raise FdlError.single(Location(name), f"cannot read the file: {exc}") from None
    if len(data) > MAX_BYTES:
        line = data.count(b"\n", 0, MAX_BYTES) + 1
        message = f"the file is more than {MAX_BYTES} bytes (limit {MAX_BYTES}; FDLs are a few KB): refused"
        raise FdlError.single(Location(name, line), message)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FdlError.single(Location(name), f"cannot read the file: {exc}") from None


@dataclass
class _Open:
    """A collection whose end the scan has not reached yet."""

    anchor: str | None
    counted_before: int  # nodes counted before this collection
    deepest: int  # the deepest level reached inside it so far, aliases expanded


def _check_limits(text: str) -> None:
    """Raise LimitExceeded at the first node over MAX_DEPTH or MAX_NODES, or at a cyclic alias.

    One pass over the parser's events, without recursion and without composing: each anchor's
    expanded size and height are remembered when its node ends, so an alias costs one lookup and
    counts what building the document would create. A syntax error raises as composing would; an
    undefined alias is left to the composer.
    """
    loader = SafeLoader(text)
    try:
        stack: list[_Open] = []
        anchored: dict[str, tuple[int, int]] = {}  # anchor → (expanded nodes, levels of nesting)
        nodes = 0
        while not loader.check_event(yaml.StreamEndEvent):
            event = loader.get_event()
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent):
                anchor = str(event.anchor)
                if any(open_.anchor == anchor for open_ in stack):
                    raise LimitExceeded(line, f"alias *{anchor} refers to a node that contains it: refused")
                size, height = anchored.get(anchor, (1, 0))  # an undefined alias: the composer says so
                nodes += size
                reach = len(stack) + height
                if reach > MAX_DEPTH:
                    message = f"alias *{anchor} nests the document more than {MAX_DEPTH} levels deep"
                    raise LimitExceeded(line, f"{message} (limit {MAX_DEPTH}): refused")
                if nodes > MAX_NODES:
                    message = f"aliases expand the document to more than {MAX_NODES} nodes"
                    raise LimitExceeded(line, f"{message} (limit {MAX_NODES}): refused")
                if stack:
                    stack[-1].deepest = max(stack[-1].deepest, reach)
            elif isinstance(event, yaml.ScalarEvent):
                nodes += 1
                if event.anchor is not None:
                    anchored[event.anchor] = (1, 0)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                stack.append(_Open(event.anchor, nodes, len(stack) + 1))
                nodes += 1
                if len(stack) > MAX_DEPTH:
                    raise LimitExceeded(line, f"nested more than {MAX_DEPTH} levels deep (limit {MAX_DEPTH}): refused")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                done = stack.pop()
                if done.anchor is not None:
                    anchored[done.anchor] = (nodes - done.counted_before, done.deepest - len(stack))
                if stack:
                    stack[-1].deepest = max(stack[-1].deepest, done.deepest)
            elif isinstance(event, yaml.DocumentStartEvent):
                anchored.clear()  # anchors belong to one document
            if nodes > MAX_NODES:
                raise LimitExceeded(line, f"more than {MAX_NODES} nodes (limit {MAX_NODES}): refused")
    except yaml.MarkedYAMLError as exc:  # libyaml's scanner reads ahead, and stops at 1000 levels itself
        if "maximum nesting depth" not in str(exc.problem) or exc.problem_mark is None:
            raise
        line = exc.problem_mark.line + 1
        raise LimitExceeded(line, f"nested more than {MAX_DEPTH} levels deep (limit {MAX_DEPTH}): refused") from None
    finally:
        loader.dispose()


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
