"""The `faas-render` command: FDL file in, Terraform root module out."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from faas_supervisor import contract

from render import __version__
from render.aws.bucket_notifications import (
    CheckSkipped,
    NotificationsUnreadable,
    existing_trigger_buckets,
    foreign_notifications,
    in_state,
    rendered,
)
from render.aws.connection import AwsError, connect
from render.commands.options import add_settings_arguments, settings_options
from render.fdl.errors import FdlError
from render.fdl.model import Deployment
from render.fdl.storage_credentials import CREDENTIALS_VARIABLE
from render.main import render_fdl
from render.terraform.run import TerraformFailed, run_steps
from render.terraform.supervisor_bundle import SupervisorBundleError

EXIT_INVALID = 2
EXIT_FAILED = 1
TERRAFORM_STEPS = ("init", "plan", "apply", "destroy")
SUMMARY_NAMES = 5  # function names listed per compute profile in the summary
CREDENTIALS_NOTICE = """\
faas-render: note: the storage provider keys in {fdl} are written to no file: Terraform needs
  them on every plan, apply and destroy. `faas-render {fdl} --plan/--apply/--destroy` hands them
  over; plain terraform needs TF_VAR_{variable} set. Storing the keys in SSM yourself and naming
  the parameter (credentials_parameter) needs neither."""

DESCRIPTION = """\
Render a SCAR function definition (FDL) file into a Terraform root module: main.tf, the
modules it uses (modules/) and the Lambda and Batch artifacts (artifacts/). Then run
`terraform init && terraform apply` in the output directory, or pass --apply.

Settings come from, highest first: --set flags, the FDL file, --config files, SCAR's
~/.scar/scar.cfg (when present), built-in defaults. Mappings merge key by key; lists replace.
"""

EPILOG = """\
examples:
  faas-render fdl.yaml && terraform init && terraform apply
  faas-render fdl.yaml -o deploy/ --config network.yaml --apply
  faas-render fdl.yaml --set lambda.memory=2048 --set batch.vcpus=2
  faas-render fdl.yaml --module-source app.terraform.io/acme/faas-render/aws --module-version 1.2.0
  faas-render fdl.yaml --module-source 'git::https://github.com/acme/faas-render.git?ref=v1.2.0'
  faas-render --schema > fdl.schema.json     # for yaml-language-server and other editors

exit status: 0 rendered (and terraform succeeded), 1 terraform failed, 2 invalid input
(nothing was written)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="faas-render",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("fdl", nargs="?", type=Path, help="the FDL file (SCAR's YAML format)")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="directory to write main.tf, modules/ and artifacts/ into (default: current directory)",
    )
    add_settings_arguments(parser)
    sources = parser.add_argument_group(
        "module source", "where main.tf takes the Terraform modules from (default: a copy in DIR/modules)"
    )
    sources.add_argument(
        "--module-source",
        metavar="SOURCE",
        help="a registry address HOST/NAMESPACE/NAME/PROVIDER (e.g. app.terraform.io/acme/faas-render/aws, "
        "needs --module-version) or a git source git::URL?ref=TAG (e.g. "
        "git::https://github.com/acme/faas-render.git?ref=v1.2.0); modules/ is then not copied",
    )
    sources.add_argument(
        "--module-version",
        metavar="VERSION",
        help="exact version of a registry source (e.g. 1.2.0), or the ref of a git source without ?ref=",
    )
    parser.add_argument(
        "--registry-mirror",
        metavar="URL",
        default=os.environ.get(contract.REGISTRY_MIRROR) or None,
        help="the image builder pulls Docker Hub bases through this registry mirror, e.g. an ECR pull-through "
        "cache https://ACCOUNT.dkr.ecr.REGION.amazonaws.com/PREFIX (its path is a repository prefix) "
        f"(default: {contract.REGISTRY_MIRROR})",
    )
    steps = parser.add_argument_group("terraform", "run terraform in DIR after rendering (in this order)")
    for step in TERRAFORM_STEPS:
        steps.add_argument(
            f"--{step}", action="store_true", help=f"terraform {step}" + (" (implies --init)" if step != "init" else "")
        )
    steps.add_argument(
        "--replace-notifications",
        action="store_true",
        help="plan/apply even when existing buckets have notifications this deployment does not hold "
        "(applying replaces a bucket's whole notification configuration, removing them)",
    )
    parser.add_argument("--schema", action="store_true", help="print the FDL JSON Schema and exit")
    parser.add_argument("--version", action="version", version=f"faas-render {__version__}")
    return parser


def summary(deployment: Deployment, directory: Path) -> str:
    modes = {
        mode: sum(f.execution_mode == mode for f in deployment.functions)
        for mode in ("lambda", "lambda-batch", "batch")
    }
    mode_text = ", ".join(f"{count} {mode}" for mode, count in modes.items() if count)
    created = sum(not b.existing for b in deployment.buckets.values())
    existing = len(deployment.buckets) - created
    lines = [
        f"Rendered deployment '{deployment.name}' ({deployment.region}) into {directory}/",
        f"  functions:  {len(deployment.functions)} ({mode_text})",
        f"  buckets:    {len(deployment.buckets)} ({created} created, {existing} existing)",
        f"  Batch compute profiles: {len(deployment.profiles)}",
    ]
    for key, profile in deployment.profiles.items():
        members = [f.name for f in deployment.functions_of(key)]
        names = ", ".join(members[:SUMMARY_NAMES]) + (
            f" and {len(members) - SUMMARY_NAMES} more" if len(members) > SUMMARY_NAMES else ""
        )
        lines.append(f"    {key}: {profile.compute_type}, max {profile.max_vcpus} vCPUs, used by {names}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.schema:
        sys.stdout.write(resources.files("render.fdl").joinpath("schema/fdl.schema.json").read_text())
        return 0
    if args.fdl is None:
        parser.error("the FDL file is required")
    try:
        result = render_fdl(
            args.fdl,
            args.output,
            module_source=args.module_source,
            module_version=args.module_version,
            registry_mirror=args.registry_mirror,
            **settings_options(args),
        )
    except FdlError as error:
        print(f"faas-render: {len(error.problems)} problem(s), nothing was written:", file=sys.stderr)
        print(error.format(), file=sys.stderr)
        return EXIT_INVALID
    except SupervisorBundleError as error:
        print(f"faas-render: nothing was written: {error}", file=sys.stderr)
        return EXIT_FAILED
    deployment = result.deployment
    for warning in deployment.warnings:
        print(f"faas-render: warning: {warning}", file=sys.stderr)
    print(summary(deployment, args.output))

    requested = [step for step in TERRAFORM_STEPS if getattr(args, step)]
    if not requested:
        print(f"Next: terraform -chdir={args.output} init && terraform -chdir={args.output} apply")
        if deployment.managed_credentials:
            print(CREDENTIALS_NOTICE.format(fdl=args.fdl, variable=CREDENTIALS_VARIABLE), file=sys.stderr)
        return 0
    if "init" not in requested:
        requested.insert(0, "init")
    secrets = result.credentials.terraform_environment()
    try:
        buckets = existing_trigger_buckets(deployment)
        if buckets and not args.replace_notifications and {"plan", "apply"} & set(requested):
            run_steps(args.output, ["init"], secrets)  # the check reads the root's state
            requested.remove("init")
            if not notifications_kept(args.output, deployment, buckets):
                return EXIT_FAILED
        run_steps(args.output, requested, secrets)
    except TerraformFailed as error:
        print(f"faas-render: {error}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def notifications_kept(directory: Path, deployment: Deployment, buckets: list[str]) -> bool:
    """False, after saying which, when existing buckets have notifications applying would remove."""
    try:
        aws = connect(region=deployment.region)
        foreign = foreign_notifications(aws, buckets, rendered(deployment) | in_state(directory))
    except (CheckSkipped, AwsError) as error:
        print(
            f"faas-render: note: not checked whether the existing buckets {', '.join(buckets)} have notifications of "
            f"their own, which applying would remove ({error})",
            file=sys.stderr,
        )
        return True
    except NotificationsUnreadable as error:
        print(
            f"faas-render: stopped: {error}, so it is unknown whether it has notifications of its own, which "
            "applying would remove (a bucket has one notification configuration, and this deployment writes all of "
            "it). Allow s3:GetBucketNotification on the bucket to the identity running faas-render, or pass "
            "--replace-notifications to replace whatever it holds.",
            file=sys.stderr,
        )
        return False
    if not foreign:
        return True
    print(
        "faas-render: stopped: applying would remove these notifications of existing buckets (a bucket has one "
        "notification configuration, and this deployment writes all of it):",
        file=sys.stderr,
    )
    for notification in foreign:
        print(f"  {notification}", file=sys.stderr)
    print(
        "Move them into the FDL (as functions triggered by the bucket) or onto another bucket, or pass "
        "--replace-notifications to replace them.",
        file=sys.stderr,
    )
    return False


if __name__ == "__main__":
    sys.exit(main())
