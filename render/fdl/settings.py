"""Build each function's effective settings from its layers, remembering where each value came from.

Precedence, highest first: command-line `--set` flags, the FDL file, config files (`--config`,
then SCAR's `~/.scar/scar.cfg`), built-in defaults. Dicts merge key by key; lists and scalars
replace (SCAR concatenates lists, which silently kept its defaults next to the user's values);
an explicit `null` means "not set here".
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from render.fdl.defaults import BUILTIN_DEFAULTS, STALE_SCAR_DEFAULTS
from render.fdl.errors import FdlError, Location
from render.fdl.overrides import override_values
from render.fdl.yaml_source import KeyPath, SourceDocument, dotted, load_document

BUILTIN_LABEL = "(built-in default)"
# Config files and --set values are copied into every function: at most this many copies in all
# (SCAR's full scar.cfg, about 100 values, copied into 1000 functions makes 100,000).
MAX_SHARED_COPIES = 500_000


@dataclass
class Layer:
    """Function settings from one source, and how to locate a key path of it in that source."""

    values: dict[str, Any]
    document: SourceDocument | None  # None for built-in defaults and command-line flags
    base: KeyPath = ()  # where `values` sits inside the document
    label: str = ""

    def location(self, path: KeyPath) -> Location:
        if self.document is None:
            return Location(self.label, 0, dotted(path))
        return self.document.location(self.base + path)


@dataclass
class FunctionSettings:
    """The merged settings of one function and the origin of every key path in them."""

    index: int
    values: dict[str, Any]
    anchor: Location  # the function's item in the FDL
    origins: dict[KeyPath, Location] = field(default_factory=dict)

    def origin(self, path: KeyPath) -> Location:
        """Where `path` was set; a value nobody wrote (a default) is reported at the function."""
        probe = path
        while probe and probe not in self.origins:
            probe = probe[:-1]
        found = self.origins.get(probe)
        if found is None or found.file == BUILTIN_LABEL:
            return Location(self.anchor.file, self.anchor.line, f"functions.aws[{self.index}].{dotted(path)}")
        return found

    def is_set(self, path: KeyPath) -> bool:
        """Whether a file or flag wrote `path` (not a built-in default)."""
        found = self.origins.get(path)
        return found is not None and found.file != BUILTIN_LABEL

    def get(self, path: KeyPath, default: Any = None) -> Any:
        node: Any = self.values
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def variables(self, path: KeyPath) -> dict[str, str]:
        """An environment mapping at `path`, sorted, values as the strings AWS stores."""
        values = self.get(path) or {}
        return {key: _env_string(values[key]) for key in sorted(values)}


def _env_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Settings:
    """Everything the renderer reads: the FDL document, the config files, the merged functions."""

    fdl: SourceDocument
    configs: list[SourceDocument]
    functions: list[FunctionSettings]
    storage_providers: dict[str, Any]
    buckets: dict[str, Any]
    bucket_origins: dict[str, Location]
    warnings: list[str]


def scar_config_path() -> Path:
    folder = os.environ.get("SCAR_CONFIG_FOLDER") or str(Path.home() / ".scar")
    return Path(folder) / "scar.cfg"


def load_settings(
    fdl_path: Path,
    config_paths: list[Path],
    overrides: list[str],
    use_scar_config: bool = True,
) -> Settings:
    fdl = load_document(fdl_path, fdl_path.name if fdl_path.parent == Path() else str(fdl_path))
    configs = []
    scar_cfg = scar_config_path()
    if use_scar_config and scar_cfg.is_file():
        configs.append(load_document(scar_cfg))
    configs.extend(load_document(path) for path in config_paths)

    problems: list[tuple[Location, str]] = []
    warnings: list[str] = []
    fdl_items = _function_items(fdl, problems, warnings)
    config_layers = [
        _config_layer(doc, problems, is_scar=(i == 0 and doc.path == scar_cfg and use_scar_config))
        for i, doc in enumerate(configs)
    ]
    override_layer = Layer(override_values(overrides, problems), None, label="--set")
    shared = [layer for layer in [*config_layers, override_layer] if layer]
    _check_copies(shared, len(fdl_items), problems)
    if problems:
        raise FdlError(problems)

    builtin = Layer(copy.deepcopy(BUILTIN_DEFAULTS), None, label=BUILTIN_LABEL)
    functions = []
    for index, item in enumerate(fdl_items):
        merged = FunctionSettings(index, {}, fdl.location(("functions", "aws", index)))
        fdl_layer = Layer(item, fdl, ("functions", "aws", index))
        for layer in [builtin, *[c for c in config_layers if c], fdl_layer, override_layer]:
            _merge(merged, layer, layer.values, ())
        functions.append(merged)

    storage_providers, _ = _top_level_mapping(fdl, configs, "storage_providers", problems)
    buckets, bucket_origins = _top_level_mapping(fdl, configs, "buckets", problems)
    if problems:
        raise FdlError(problems)
    return Settings(fdl, configs, functions, storage_providers, buckets, bucket_origins, warnings)


def _check_copies(shared: list[Layer], functions: int, problems: list) -> None:
    """Refuse config files and --set values that would be copied into the functions too many times."""
    sizes = [sum(1 for _ in _paths(layer.values, ())) - 1 for layer in shared]
    copies = functions * sum(sizes)
    if copies > MAX_SHARED_COPIES:
        where = shared[sizes.index(max(sizes))].location(())
        message = f"{sum(sizes)} values from config files and --set copied into {functions} functions make {copies}"
        problems.append((where, f"{message} copies (limit {MAX_SHARED_COPIES}): refused"))


def _function_items(fdl: SourceDocument, problems: list, warnings: list[str]) -> list[dict[str, Any]]:
    data = fdl.data
    if not isinstance(data, dict):
        problems.append((fdl.location(()), "expected a mapping with a 'functions' key at the top level"))
        return []
    unknown = sorted(set(data) - {"functions", "storage_providers", "buckets"})
    for key in unknown:
        problems.append(
            (fdl.location((key,)), "unknown top-level key; expected functions, storage_providers or buckets")
        )
    functions = data.get("functions")
    if not isinstance(functions, dict):
        problems.append((fdl.location(("functions",)), "expected 'functions' to be a mapping with an 'aws' list"))
        return []
    for provider in sorted(set(functions) - {"aws"}):
        if provider == "oscar":
            warnings.append(
                f"{fdl.location(('functions', 'oscar'))}: OSCAR services are not deployed by faas-render "
                "(AWS only); ignored"
            )
        else:
            problems.append(
                (fdl.location(("functions", provider)), "unknown provider; faas-render deploys functions.aws")
            )
    items = functions.get("aws")
    if not isinstance(items, list) or not items:
        problems.append(
            (fdl.location(("functions", "aws")), "expected a non-empty list of functions under functions.aws")
        )
        return []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append((fdl.location(("functions", "aws", index)), "expected a mapping with a 'lambda' key"))
    return [item if isinstance(item, dict) else {} for item in items]


def _config_layer(doc: SourceDocument, problems: list, is_scar: bool) -> Layer | None:
    data = doc.data
    if data is None:
        return None
    if not isinstance(data, dict):
        problems.append((doc.location(()), "expected a mapping with an 'aws' key"))
        return None
    section = data.get("aws") or {}
    if not isinstance(section, dict):
        problems.append((doc.location(("aws",)), "expected 'aws' to be a mapping of function defaults"))
        return None
    values = copy.deepcopy(section)
    if is_scar:
        for path, stale in STALE_SCAR_DEFAULTS.items():
            parent = _get_parent(values, path)
            if parent is not None and parent.get(path[-1]) == stale:
                del parent[path[-1]]
    return Layer(values, doc, ("aws",))


def _top_level_mapping(
    fdl: SourceDocument, configs: list[SourceDocument], key: str, problems: list
) -> tuple[dict[str, Any], dict[str, Location]]:
    """Merge a top-level mapping (`buckets`, `storage_providers`) across config files and the FDL."""
    merged: dict[str, Any] = {}
    origins: dict[str, Location] = {}
    for doc in [*configs, fdl]:
        section = doc.data.get(key) if isinstance(doc.data, dict) else None
        if section is None:
            continue
        if not isinstance(section, dict):
            problems.append((doc.location((key,)), f"expected '{key}' to be a mapping"))
            continue
        for name, value in section.items():
            merged[name] = _deep_merged(merged.get(name), value)
            origins[name] = doc.location((key, name))
    return merged, origins


def _deep_merged(base: Any, overlay: Any) -> Any:
    if isinstance(base, dict) and isinstance(overlay, dict):
        result = dict(base)
        for key, value in overlay.items():
            if value is not None:
                result[key] = _deep_merged(result.get(key), value)
        return result
    return copy.deepcopy(overlay)


def _merge(target: FunctionSettings, layer: Layer, values: dict[str, Any], path: KeyPath) -> None:
    node: dict[Any, Any] = target.values
    for part in path:
        node = node[part]
    for key, value in values.items():
        child = path + (key,)
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(node.get(key), dict):
            target.origins[child] = layer.location(child)
            _merge(target, layer, value, child)
            continue
        if key in node:  # the origins under `child` are those of the value replaced: as many, not all of them
            for stale in _paths(node[key], child):
                target.origins.pop(stale, None)
        node[key] = copy.deepcopy(value)
        for done in _paths(value, child):
            target.origins[done] = layer.location(done)


def _paths(value: Any, path: KeyPath) -> Iterator[KeyPath]:
    """`path` and the path of everything inside `value`."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, path + (index,))


def _get_parent(values: dict[Any, Any], path: KeyPath) -> dict[Any, Any] | None:
    node: Any = values
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None
