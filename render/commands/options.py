"""What the `faas` subcommands and `faas-render` share: their options, and how failures are reported."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from render.aws.connection import DEFAULT_REGION, NO_CREDENTIALS, Aws, AwsError, connect, is_aws
from render.commands.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, CommandError
from render.local.execution.errors import LocalError


def connection_arguments() -> argparse.ArgumentParser:
    """The AWS CLI's connection options, as a parent parser for every subcommand."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("AWS connection (as in the AWS CLI)")
    group.add_argument("--profile", help="named profile of ~/.aws/config (default: AWS_PROFILE, else 'default')")
    group.add_argument(
        "--region", help=f"AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / the profile's, else {DEFAULT_REGION})"
    )
    group.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="send every request to URL, e.g. http://127.0.0.1:4566 for `faas local` (default: AWS_ENDPOINT_URL)",
    )
    return parser


def connection(args: argparse.Namespace) -> Aws:
    """The connection the AWS CLI options describe."""
    return connect(args.profile, args.region, args.endpoint_url)


def root_argument() -> argparse.ArgumentParser:
    """--root: where the deployment was rendered (its zips hold the functions' code and configuration)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="the directory faas-render rendered the deployment into (default: the current directory)",
    )
    return parser


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


def settings_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of `load_deployment` that the settings options give."""
    return {
        "configs": args.config,
        "overrides": args.overrides,
        "region": args.region,
        "name": args.name,
        "use_scar_config": not args.no_scar_config,
    }


def reported(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Wrap a subcommand so that expected failures print one line on stderr and set the exit status."""

    @wraps(run)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except CommandError as error:
            message, status = str(error), error.status
        except (AwsError, LocalError) as error:
            message, status = str(error), EXIT_USAGE if error.invalid_input else EXIT_FAILED
        except EndpointConnectionError as error:
            endpoint = str(error.kwargs.get("endpoint_url", "the endpoint"))
            message = f"cannot reach {endpoint}"
            if not is_aws(endpoint):
                message += ": is the emulator running? Start it with `faas local`"
            status = EXIT_FAILED
        except NoCredentialsError:
            message = NO_CREDENTIALS
            status = EXIT_FAILED
        except (ClientError, BotoCoreError) as error:
            message, status = str(error), EXIT_FAILED
        except OSError as error:  # a local file or folder that cannot be read or written
            message, status = str(error), EXIT_FAILED
        except KeyboardInterrupt:
            message, status = "interrupted", EXIT_INTERRUPTED
        print(f"faas {args.command}: {message}", file=sys.stderr)
        return status

    return wrapper
