"""Credentials of a function's own role for each run, issued by the emulator as Lambda and ECS get them.

A Lambda function runs with temporary credentials of its execution role, a Batch job with its
job role's, in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. Local mode asks
the emulator's STS for them (sts:AssumeRole with the admin credentials) and the emulator then
allows a request signed with them only what the role's policies allow (render/local/moto/access.py).
Runs never get the admin credentials. A role that does not exist in the emulator (an `iam.role`
ARN from the FDL that nothing created there) fails the run, as Lambda refuses a role it cannot
assume. A Batch job definition without a job role gives its job no credentials, as ECS does.
Credentials are kept per role while it stays the same role (its RoleId): moto's never expire,
and a role deleted and created again gets new ones.
"""

from __future__ import annotations

import threading

from botocore.exceptions import ClientError

from render.aws.connection import Aws
from render.local.execution.errors import LocalError

CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
SESSION_SECONDS = 43200  # the longest AWS issues; moto's do not expire anyway


def role_name(role_arn: str) -> str:
    """`arn:aws:iam::1:role/path/name` -> `name` (IAM looks roles up by name)."""
    return role_arn.rpartition("/")[2]


class RoleCredentials:
    """Issues (and keeps, per role) the emulator's temporary credentials of roles."""

    def __init__(self, aws: Aws) -> None:
        self.aws = aws
        self._lock = threading.Lock()
        self._issued: dict[tuple[str, str], dict[str, str]] = {}

    def environment(self, role_arn: str | None, session: str) -> dict[str, str]:
        """Region, endpoint and the role's credentials for a run (no credentials without a role).

        LocalError when the role does not exist in the emulator.
        """
        env = {k: v for k, v in self.aws.process_environment().items() if k not in CREDENTIAL_VARIABLES}
        if not role_arn:
            return env
        try:
            role = self.aws.client("iam").get_role(RoleName=role_name(role_arn))["Role"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
            role = None
        if role is None or role["Arn"] != role_arn:
            raise LocalError(
                f"the role {role_arn} does not exist in the emulator, so the run cannot assume it "
                "(terraform apply creates the roles it renders; an existing role given as iam.role "
                "must be created in the emulator too, e.g. with aws iam create-role)"
            )
        with self._lock:
            issued = self._issued.get((role_arn, role["RoleId"]))
        if issued is None:
            answer = self.aws.client("sts").assume_role(
                RoleArn=role_arn, RoleSessionName=f"faas-{session}"[:64], DurationSeconds=SESSION_SECONDS
            )["Credentials"]
            issued = {
                "AWS_ACCESS_KEY_ID": answer["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": answer["SecretAccessKey"],
                "AWS_SESSION_TOKEN": answer["SessionToken"],
            }
            with self._lock:
                self._issued[(role_arn, role["RoleId"])] = issued
        return {**env, **issued}
