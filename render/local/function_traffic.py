"""What the emulator answers to functions: AWS requests signed with a role's credentials, nothing else.

Where runs have network namespaces (render/local/execution/network.py), a function reaches the
emulator only through its namespace's relay, which connects from RELAY_SOURCE: nothing on the host
uses that address, and nothing inside a namespace can reach the host's loopback otherwise. So a
request from RELAY_SOURCE is a function's, and it is refused (403) unless it is
- an AWS request signed (SigV4 Authorization header) with temporary credentials of a role, which
  the emulator then checks against the role's policies (render/local/moto/access.py), or with
  an IAM user's access key (another account's keys, as a storage provider holds them: not
  checked against the user's policies), or
- a read of the emulator's registry (behind ECR's login: a token needs ecr:GetAuthorizationToken)
  or of a layer download URL (GetDownloadUrlForLayer's), as ECR serves them.
The fixed admin credentials, unsigned requests, presigned URLs and the emulator's own API
(`/moto-api`: reset, state; `/_faas/activity`) are refused there. Without namespaces the emulator
cannot tell a function's request from anyone else's (README, "Local mode").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from render.local.execution.network import RELAY_SOURCE
from render.local.moto.ecr import BLOB_PATH

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
REFUSED = (
    b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>"
    b"a function reaches the emulator only with its role's credentials (signed AWS requests)"
    b"</Message></Error></ErrorResponse>"
)


def open_to_functions(environ: dict[str, Any]) -> bool:
    """Whether a function may send this request (see the module's docstring)."""
    from render.local.moto.access import access_key_id, issued_role, user_key

    path, method = str(environ.get("PATH_INFO", "")), environ.get("REQUEST_METHOD")
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    if authorization.startswith("AWS4-HMAC-SHA256 "):
        key = access_key_id(authorization)
        return key is not None and (issued_role(key) is not None or user_key(key))
    if method in ("GET", "HEAD"):
        return path.startswith(("/v2/", BLOB_PATH + "/"))
    return False


def wsgi(app: WsgiApp) -> WsgiApp:
    """`app`, refusing functions' requests that are not open to them."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REMOTE_ADDR") != RELAY_SOURCE or open_to_functions(environ):
            return app(environ, start_response)
        headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(REFUSED)))]
        start_response("403 Forbidden", headers)
        return [REFUSED]

    return serve
