"""Keep the Requirements/Inputs/Outputs reference of each module README in sync with its code.

The tables sit between `<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->` (the terraform-docs
markers) and are generated from versions.tf, variables.tf and outputs.tf:

    python tools/module_docs.py            # rewrite the tables of every module under modules/
    python tools/module_docs.py --check    # exit 1 and name the READMEs that are out of date
    python tools/module_docs.py modules/iam
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_STALE = 1
EXIT_INVALID = 2

try:
    import hcl2
except ImportError:
    print("module_docs.py: needs python-hcl2 (pip install 'python-hcl2>=8')", file=sys.stderr)
    sys.exit(EXIT_INVALID)

REPO = Path(__file__).resolve().parent.parent
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"


class DocsError(Exception):
    """A module or README this tool cannot document (missing file, missing markers, bad HCL)."""


def _load(path: Path, wrap_expressions: bool) -> dict[str, Any]:
    """Parse a .tf file; with wrap_expressions, lists and objects stay HCL text (`${...}`)."""
    options = hcl2.SerializationOptions(
        with_comments=False,
        explicit_blocks=False,
        strip_string_quotes=True,
        wrap_objects=wrap_expressions,
        wrap_tuples=wrap_expressions,
    )
    try:
        with path.open(encoding="utf-8") as handle:
            return hcl2.load(handle, serialization_options=options)
    except FileNotFoundError as error:
        raise DocsError(f"{path}: missing") from error
    except Exception as error:  # lark raises several unrelated exception types
        raise DocsError(f"{path}: cannot parse: {error}") from error


def _blocks(document: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(name, body) for block in document.get(kind, []) for name, body in block.items()]


def _unwrapped(value: str) -> str | None:
    """The HCL text of a list or object expression (`${...}`), or None for a plain string."""
    return value[2:-1] if value.startswith("${") and value.endswith("}") else None


def _literal(value: Any) -> str:
    """A default value as it is written in HCL: lists and objects verbatim, strings quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        expression = _unwrapped(value)
        return expression if expression is not None else json.dumps(value, ensure_ascii=False)
    return json.dumps(value)


def _type(value: str) -> str:
    """A type constraint: `string`, or a wrapped expression such as `list(string)`."""
    expression = _unwrapped(value)
    return expression if expression is not None else value


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{_cell(text)}`"


def _table(header: Sequence[str], rows: list[list[str]], separator: Sequence[str]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(separator) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def requirements(module: Path) -> list[str]:
    terraform = _load(module / "versions.tf", wrap_expressions=False).get("terraform", [{}])[0]
    rows = [["terraform", _code(terraform.get("required_version", "any"))]]
    for block in terraform.get("required_providers", []):
        for name, spec in block.items():
            rows.append([f"{name} (`{spec.get('source', name)}`)", _code(spec.get("version", "any"))])
    return ["## Requirements", "", *_table(["Name", "Version"], rows, ["------", "---------"])]


def inputs(module: Path) -> list[str]:
    rows = []
    for name, body in _blocks(_load(module / "variables.tf", wrap_expressions=True), "variable"):
        if "description" not in body or "type" not in body:
            raise DocsError(f"{module / 'variables.tf'}: variable {name} needs a type and a description")
        required = "default" not in body
        rows.append(
            [
                f"`{name}`",
                _cell(body["description"]),
                _code(_type(body["type"])),
                "n/a" if required else _code(_literal(body["default"])),
                "yes" if required else "no",
            ]
        )
    header = ["Name", "Description", "Type", "Default", "Required"]
    return ["## Inputs", "", *_table(header, rows, ["------", "-------------", "------", "---------", ":--------:"])]


def outputs(module: Path) -> list[str]:
    rows = []
    for name, body in _blocks(_load(module / "outputs.tf", wrap_expressions=True), "output"):
        if "description" not in body:
            raise DocsError(f"{module / 'outputs.tf'}: output {name} needs a description")
        rows.append([f"`{name}`", _cell(body["description"])])
    return ["## Outputs", "", *_table(["Name", "Description"], rows, ["------", "-------------"])]


def reference(module: Path) -> str:
    """The generated block, markers included."""
    sections = [requirements(module), inputs(module), outputs(module)]
    body = "\n\n".join("\n".join(section) for section in sections)
    return f"{BEGIN}\n{body}\n{END}"


def updated_readme(module: Path) -> tuple[Path, str, str]:
    """The README path, its current text and its text with a freshly generated reference."""
    readme = module / "README.md"
    if not readme.is_file():
        raise DocsError(f"{readme}: missing")
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise DocsError(f"{readme}: needs the markers {BEGIN} and {END} (in this order) around the reference")
    return readme, text, text[:start] + reference(module) + text[end + len(END) :]


def modules_in(root: Path) -> list[Path]:
    return sorted(path.parent for path in root.glob("*/variables.tf"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="module_docs.py",
        description="Generate the Requirements/Inputs/Outputs tables of module READMEs from the module code, "
        f"between {BEGIN} and {END}.",
    )
    parser.add_argument(
        "modules", nargs="*", type=Path, metavar="MODULE_DIR", help="module folders (default: every module in modules/)"
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a README is out of date")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    modules = args.modules or modules_in(REPO / "modules")
    stale = []
    try:
        for module in modules:
            readme, current, wanted = updated_readme(module)
            if current == wanted:
                continue
            stale.append(readme)
            if not args.check:
                readme.write_text(wanted, encoding="utf-8")
    except DocsError as error:
        print(f"module_docs.py: {error}", file=sys.stderr)
        return EXIT_INVALID
    if args.check and stale:
        for readme in stale:
            print(f"{readme}: out of date; run python tools/module_docs.py", file=sys.stderr)
        return EXIT_STALE
    for readme in stale:
        print(f"updated {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
