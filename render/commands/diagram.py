"""`faas diagram FDL`: the functions, buckets, triggers and Batch queues of an FDL as a picture."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from render.commands.options import add_settings_arguments, settings_options
from render.fdl.errors import FdlError
from render.fdl.load import load_deployment
from render.review.diagram import build_graph, to_dot, to_mermaid

EXIT_FAILED = 1
EXIT_INVALID = 2
IMAGE_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
TEXT_FORMATS = {".mmd": "mermaid", ".mermaid": "mermaid", ".md": "mermaid", ".dot": "dot", ".gv": "dot"}

DESCRIPTION = """\
Draw a deployment from its FDL file: the functions (with their execution mode), the bucket
folders that trigger them and that they write to (so workflows show as chains), API Gateway
endpoints and the Batch job queues they share. Mermaid renders in GitHub and GitLab Markdown;
DOT and images need Graphviz."""

EPILOG = """\
examples:
  faas diagram fdl.yaml                          # Mermaid on stdout
  faas diagram fdl.yaml -o docs/deployment.md    # a ```mermaid block for a README
  faas diagram fdl.yaml --format dot -o deployment.dot
  faas diagram fdl.yaml -o deployment.svg        # an image, drawn by Graphviz `dot`
  faas diagram fdl.yaml --config network.yaml    # the settings faas-render is given

The format follows the output file's extension (.md/.mmd: Mermaid, .dot/.gv: DOT, .png/.svg/.pdf:
an image through Graphviz) unless --format says otherwise.

exit status: 0 drawn, 1 Graphviz missing or failed, 2 invalid input (nothing was written)."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diagram",
        help="draw the functions, buckets, triggers and Batch queues of an FDL",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("fdl", type=Path, metavar="FDL", help="the FDL file (SCAR's YAML format)")
    parser.add_argument(
        "--format", choices=("mermaid", "dot"), help="mermaid (default) or Graphviz dot; see the extensions below"
    )
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="write FILE instead of printing")
    add_settings_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    suffix = args.output.suffix.lower() if args.output else ""
    image = IMAGE_FORMATS.get(suffix)
    if image and args.format == "mermaid":
        return _invalid(f"{args.output}: images are drawn by Graphviz from DOT; leave out --format mermaid")
    try:
        graph = build_graph(load_deployment(args.fdl, **settings_options(args))[0])
    except FdlError as error:
        print(f"faas diagram: {len(error.problems)} problem(s), nothing was written:", file=sys.stderr)
        print(error.format(), file=sys.stderr)
        return EXIT_INVALID
    text_format = "dot" if image else args.format or TEXT_FORMATS.get(suffix, "mermaid")
    text = to_dot(graph) if text_format == "dot" else to_mermaid(graph)
    if image:
        return _draw(text, image, args.output)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    if suffix == ".md" and text_format == "mermaid":
        text = f"```mermaid\n{text}```\n"
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as error:
        return _invalid(f"cannot write {args.output}: {error.strerror or error}")
    return 0


def _draw(dot_source: str, image_format: str, output: Path) -> int:
    dot = shutil.which("dot")
    if dot is None:
        print(
            f"faas diagram: drawing {output} needs Graphviz's `dot` (e.g. apt-get install graphviz); "
            "or write the source with -o FILE.dot or FILE.md",
            file=sys.stderr,
        )
        return EXIT_FAILED
    result = subprocess.run(
        [dot, f"-T{image_format}", "-o", str(output)], input=dot_source, text=True, capture_output=True, check=False
    )
    if result.returncode != 0:
        print(f"faas diagram: dot failed: {result.stderr.strip()}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _invalid(message: str) -> int:
    print(f"faas diagram: {message}", file=sys.stderr)
    return EXIT_INVALID
