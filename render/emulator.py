"""The local AWS emulator: a moto server on loopback, set up the way faas-render needs it.

`python -m render.emulator serve` listens on 127.0.0.1:4566 (LocalStack's port, so
localstack-client sessions and AWS_ENDPOINT_URL=http://127.0.0.1:4566 reach it);
`python -m render.emulator network --write FILE` creates a VPC, subnet and security group in it
and writes them as a faas-render config file, which Batch functions need.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
EMULATOR_CONFIG = {"batch": {"use_docker": False}, "lambda": {"use_docker": False}}


def configure(endpoint: str) -> None:
    """moto runs neither Lambda code nor Batch containers: faas-render runs the supervisor itself."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/config",
        data=json.dumps(EMULATOR_CONFIG).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()


def start(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> tuple[ThreadedMotoServer, str]:
    """Start a moto server in this process (port 0 picks a free one); returns it and its endpoint."""
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # AWS managed policies can be attached
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    endpoint = f"http://{bound_host}:{bound_port}"
    configure(endpoint)
    return server, endpoint


def reset(endpoint: str) -> None:
    """Forget every resource (about a second) and set the emulator up again."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30).read()
    configure(endpoint)


def serve(host: str, port: int) -> None:
    server, endpoint = start(host, port)
    print(f"AWS emulator (moto) listening on {endpoint}", flush=True)
    print(
        f"  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test"
        " AWS_DEFAULT_REGION=us-east-1",
        flush=True,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    print("AWS emulator stopped", flush=True)


def create_network(config_file: Path, region: str = "us-east-1") -> tuple[str, str]:
    """Create a VPC, a subnet and a security group, and write them as Batch settings."""
    import boto3

    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.80.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.80.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(VpcId=vpc, GroupName=f"faas-render-{vpc}", Description="faas-render Batch hosts")[
        "GroupId"
    ]
    config_file.write_text(
        "# Batch network settings created in the local emulator\n"
        f"aws:\n  batch:\n    compute_resources:\n      subnets: [{subnet}]\n      security_group_ids: [{group}]\n"
    )
    return subnet, group


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m render.emulator", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the emulator in the foreground until interrupted")
    serve_parser.add_argument("--host", default=DEFAULT_HOST)
    serve_parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    network_parser = commands.add_parser("network", help="create a VPC/subnet/security group and write a config file")
    network_parser.add_argument("--write", type=Path, required=True, metavar="FILE")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.host, args.port)
    else:
        if not os.environ.get("AWS_ENDPOINT_URL"):
            print("AWS_ENDPOINT_URL is not set: refusing to create a network in a real AWS account", file=sys.stderr)
            return 2
        subnet, group = create_network(args.write)
        print(f"created {subnet} and {group}; wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
