"""The options that read an FDL file into a Deployment, shared by `faas-render` and `faas diagram`."""

from __future__ import annotations

import argparse
from pathlib import Path

from render.fdl.model import Deployment
from render.fdl.resolve import resolve
from render.fdl.settings import load_settings
from render.fdl.storage_credentials import StorageCredentials, storage_credentials


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """--config, --set, --region, --name and --no-scar-config (the FDL file is the caller's)."""
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="config file of defaults (SCAR's scar.cfg format: an 'aws' mapping merged into every "
        "function); may be repeated, later files win",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        dest="overrides",
        help="override a setting of every function, e.g. lambda.memory=2048 (VALUE is read as YAML)",
    )
    parser.add_argument(
        "--region", help="AWS region of the deployment (default: the FDL's lambda.region, else us-east-1)"
    )
    parser.add_argument("--name", help="deployment name used for shared resources (default: from the FDL file name)")
    parser.add_argument("--no-scar-config", action="store_true", help="ignore ~/.scar/scar.cfg")


def load_deployment(fdl: Path, args: argparse.Namespace) -> Deployment:
    """Load, merge and validate; raises FdlError naming every problem."""
    return load_deployment_and_credentials(fdl, args)[0]


def load_deployment_and_credentials(fdl: Path, args: argparse.Namespace) -> tuple[Deployment, StorageCredentials]:
    """The deployment, and the storage keys the FDL holds (for Terraform's environment, nothing else)."""
    settings = load_settings(fdl, args.config, args.overrides, use_scar_config=not args.no_scar_config)
    deployment = resolve(settings, name=args.name, region=args.region)
    return deployment, storage_credentials(settings, deployment.managed_credentials)
