"""`faas review PLAN.json`: a saved plan summarised per function, with warnings (render/review/plan.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from render.review.changes import PlanError
from render.review.plan import load_plan, review
from render.review.report import format_markdown, format_text

EXIT_WARNINGS = 1
EXIT_INVALID = 2

DESCRIPTION = """\
Summarise a saved plan of a faas-render root (the JSON of `terraform show -json PLANFILE`) per
function: the resources created, changed, replaced and destroyed for each function, each Batch
compute profile, the shared storage and anything else. Then warn about what deserves a second
look: a Batch compute environment replaced or destroyed, a job queue destroyed, an IAM permission
widened, a bucket destroyed (with its data when force_destroy is set)."""

EPILOG = """\
examples:
  terraform plan -out tfplan && terraform show -json tfplan > plan.json
  faas review plan.json
  terraform show -json tfplan | faas review - --format markdown > comment.md
  faas review plan.json --fail-on-warning     # in CI: non-zero when something needs a second look

exit status: 0 reviewed, 1 warnings with --fail-on-warning, 2 unreadable or not a plan."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "review",
        help="summarise a saved Terraform plan per function, with warnings",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("plan", metavar="PLAN.json", help="the JSON of `terraform show -json PLANFILE`; - reads stdin")
    parser.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="text for a terminal (default), markdown for a pull request comment",
    )
    parser.add_argument(
        "--fail-on-warning", action="store_true", help=f"exit with status {EXIT_WARNINGS} when there are warnings"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    name = "stdin" if args.plan == "-" else args.plan
    try:
        data = sys.stdin.buffer.read() if args.plan == "-" else Path(args.plan).read_bytes()
        result = review(load_plan(data, name))
    except OSError as error:
        print(f"faas review: cannot read {name}: {error.strerror or error}", file=sys.stderr)
        return EXIT_INVALID
    except PlanError as error:
        print(f"faas review: {name}: {error}", file=sys.stderr)
        return EXIT_INVALID
    sys.stdout.write(format_markdown(result) if args.format == "markdown" else format_text(result))
    return EXIT_WARNINGS if args.fail_on_warning and result.warnings else 0
