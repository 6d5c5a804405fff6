"""IAM for the credentials of roles: requests signed with them are allowed only what the role allows.

moto checks every request it serves in one place (`ActionAuthenticatorMixin._authenticate_and_authorize_action`:
every service's `call_action`, and S3's handlers), but only when its access control is switched on,
for every caller at once (`settings.INITIAL_NO_AUTH_ACTION_COUNT`). The emulator switches it on
per request instead: a request whose access key is temporary credentials of a role (what
sts:AssumeRole gives, and what local mode gives each function run: render/local/execution/role_credentials.py)
is checked, anyone else's (the fixed admin credentials Terraform and the CLI use) is not.

A checked request must carry a valid SigV4 signature and session token (moto's check), and the
role's policies must allow its action on its resources (render/local/iam_policy.py): the inline
and attached policies, within its permissions boundary and the session policy when there is one.
The resource is moto's where moto names one (S3 buckets and objects, SQS queues, IAM roles,
sts:AssumeRole), ours for the actions in `_resources`, and a copy's source object needs
s3:GetObject too (moto checks only the target); any other action is checked against `*`,
so only a statement for every resource (`"Resource": "*"`) allows it. moto's action names are
used, except S3's, which moto maps to IAM's in `data["Action"]` (HeadObject is s3:GetObject).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlparse

from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.models import PARTITION_NAMES, Policy, iam_backends
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

from render.local.iam_policy import allowed
from render.local.moto.patch import Patches

PATCHES = Patches()
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def access_key_id(authorization: str) -> str | None:
    """The access key a SigV4 Authorization header names."""
    match = CREDENTIAL.search(authorization)
    return match.group(1) if match else None


def _access_key(key: str) -> tuple[str, str, Any] | None:
    """(account, partition, moto's access key) of `key`, in whichever account IAM holds it."""
    for account_id, account in list(iam_backends.items()):
        for partition in PARTITION_NAMES:
            found = account[partition].access_keys.get(key)
            if found is not None:
                return account_id, partition, found
    return None


def issued_role(key: str) -> tuple[str, str, str] | None:
    """(account, partition, role ARN) when `key` is temporary credentials of a role, else None."""
    found = _access_key(key)
    if found is None or not found[2].role_arn:
        return None
    return found[0], found[1], str(found[2].role_arn)


def user_key(key: str) -> bool:
    """Whether `key` is an access key IAM created for a user (in any account)."""
    found = _access_key(key)
    return found is not None and bool(getattr(found[2], "user_name", None))


def _document(policy: Any) -> str:
    if isinstance(policy, Policy):
        return str(next(v.document for v in policy.versions if v.is_default))
    return str(policy)


def role_documents(account: str, partition: str, role_arn: str, key: str) -> tuple[list[str], list[str]]:
    """The role's identity policies, and the policies that bound them (boundary, session policy).

    A role that no longer exists has none: every action is denied.
    """
    backend = iam_backends[account][partition]
    role = next((r for r in backend.get_roles() if r.arn == role_arn), None)
    if role is None:
        return [], []
    documents = [*map(_document, role.policies.values()), *map(_document, role.managed_policies.values())]
    bounds: list[str] = []
    if role.permissions_boundary_arn:
        boundary = backend.managed_policies.get(role.permissions_boundary_arn)
        bounds.append(_document(boundary) if boundary else '{"Statement": []}')  # a missing boundary allows nothing
    session = sts_backends[account][partition].get_assumed_role_from_access_key(key)
    if session is not None and session.policy:
        bounds.append(str(session.policy))
    return documents, bounds


def _parameters(response: Any) -> dict[str, Any]:
    """A JSON request's parameters (the ECR, SSM, Secrets Manager and Batch APIs)."""
    try:
        parsed = json.loads(response.body or "{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _named(value: Any, prefix: str) -> str:
    """`value` as an ARN: itself when it is one, else `prefix` + the name."""
    text = str(value or "*")
    return text if text.startswith("arn:") else prefix + text


def _secret_arn(account: str, region: str, secret_id: str, prefix: str) -> str:
    from moto.secretsmanager.models import secretsmanager_backends

    secret = secretsmanager_backends[account][region].secrets.get(secret_id)
    return str(secret.arn) if secret is not None else _named(secret_id, prefix + "secret:")


def _copy_source(response: Any, region: str) -> list[tuple[str, str]]:
    """A copy (CopyObject, UploadPartCopy) reads its source: s3:GetObject on it too (moto checks only the target)."""
    source = response.headers.get("x-amz-copy-source")
    if not source:
        return []
    text = source.decode() if isinstance(source, bytes) else str(source)
    return [("s3:GetObject", f"arn:{get_partition(region)}:s3:::{unquote(urlparse(text).path).lstrip('/')}")]


def _checks(action: str, response: Any, account: str, region: str, moto_resource: str) -> list[tuple[str, str]]:
    """Each (action, resource) the request needs, as IAM names them: moto's resource where it names
    one, else the request's for the actions below (batch:SubmitJob needs its job queue and its job
    definition), else `*`."""
    if action.startswith("s3:"):
        return [(action, moto_resource), *_copy_source(response, region)]
    return [(action, resource) for resource in _resources(action, response, account, region, moto_resource)]


def _resources(action: str, response: Any, account: str, region: str, moto_resource: str) -> list[str]:
    service = action.partition(":")[0]
    if moto_resource != "*" or service not in ("batch", "ssm", "secretsmanager", "ecr"):
        return [moto_resource]
    params = _parameters(response)
    prefix = f"arn:{get_partition(region)}:{service}:{region}:{account}:"
    if action == "batch:SubmitJob":
        return [
            _named(params.get("jobQueue"), prefix + "job-queue/"),
            _named(params.get("jobDefinition"), prefix + "job-definition/"),
        ]
    if action in ("ssm:GetParameter", "ssm:GetParameters"):
        names = params.get("Names") or [params.get("Name")]
        return [_named(str(n or "*").lstrip("/"), prefix + "parameter/") for n in names] or ["*"]
    if action == "secretsmanager:GetSecretValue" and params.get("SecretId"):
        return [_secret_arn(account, region, str(params["SecretId"]), prefix)]
    if service == "ecr":
        names = params.get("repositoryNames") or ([params["repositoryName"]] if "repositoryName" in params else [])
        owner = params.get("registryId") or account
        return [f"arn:{get_partition(region)}:ecr:{region}:{owner}:repository/{name}" for name in names] or ["*"]
    return [moto_resource]


def _context(response: Any, action: str) -> dict[str, str]:
    """The condition keys the emulator knows for this request (s3:prefix of a listing)."""
    if action == "s3:ListBucket":
        prefix = (getattr(response, "querystring", None) or {}).get("prefix")
        if prefix:
            return {"s3:prefix": str(prefix[0])}
    return {}


@PATCHES.patch(ActionAuthenticatorMixin, "_authenticate_and_authorize_action", ("self", "iam_request_cls", "resource"))
def authorize(original: Any, self: Any, iam_request_cls: type, resource: str = "*") -> None:
    """Check a role's request as AWS would; anyone else's as moto does (not at all, as configured)."""
    key = access_key_id(str(self.headers.get("Authorization", "")))
    role = issued_role(key) if key else None
    if key is None or role is None:
        return original(self, iam_request_cls, resource)
    account, partition, role_arn = role
    path = self.raw_path + (f"?{urlparse(self.uri).query}" if urlparse(self.uri).query else "")
    request = iam_request_cls(
        account_id=account,
        method=self.method,
        path=path,
        data=self.data,
        body=self.raw_body,
        headers=self.headers,
        action=self._get_action(),
    )  # raises InvalidClientTokenId for a session token that is not the key's
    try:
        request.check_signature()
    except (KeyError, ValueError, IndexError):  # a header the signature covers is missing or malformed
        request._raise_signature_does_not_match()
    action = request._action
    if action == "sts:GetCallerIdentity":  # AWS answers it whatever the policies say
        return None
    if isinstance(self.data, Mapping) and action.startswith("s3:") and self.data.get("Action"):
        action = f"s3:{self.data['Action']}"
    documents, bounds = role_documents(account, partition, role_arn, key)
    context = _context(self, action)
    for needed, target in _checks(action, self, account, request._region, resource):
        permitted = allowed(documents, needed, target, context)
        if not (permitted and all(allowed([bound], needed, target, context) for bound in bounds)):
            request._raise_access_denied()
    return None
