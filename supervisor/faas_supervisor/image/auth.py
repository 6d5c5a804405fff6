"""Registry authentication: the Bearer token flow (anonymous or with credentials), Basic auth, and ECR's login."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from faas_supervisor.image.ecr_login import ecr_credentials, is_ecr_challenge
from faas_supervisor.image.errors import RegistryError
from faas_supervisor.image.transport import send

_PARAM = re.compile(r'(\w+)="([^"]*)"|(\w+)=([^\s,]+)')


@dataclass(frozen=True)
class Credentials:
    """A registry user name and password (or token); the password never appears in a repr or log."""

    username: str
    password: str = field(repr=False)

    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="https://auth.docker.io/token",service="x",scope="y"` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m[1] or m[3]: m[2] if m[1] else m[4] for m in _PARAM.finditer(rest)}
    return scheme.lower(), params


class Authenticator:
    """Answers a registry's 401 challenges; keeps one Authorization value per scope."""

    def __init__(self, credentials: Credentials | None) -> None:
        self._credentials = credentials
        self._known: dict[str, str] = {}
        self._ecr: dict[str, str] = {}  # by the challenge's realm

    def cached(self, scope: str) -> str | None:
        return self._known.get(scope)

    def answer(self, challenge: str, scope: str, doing: str) -> str:
        """The Authorization header value that answers `challenge` for `scope` (space-separated scopes)."""
        scheme, params = parse_challenge(challenge)
        if scheme == "bearer" and "realm" in params:
            value = "Bearer " + self._token(params, scope, doing)
        elif scheme == "basic" and self._credentials:
            value = self._credentials.basic()
        elif scheme == "basic" and is_ecr_challenge(params):
            value = self._ecr_login(params, doing)
        elif scheme == "basic":
            raise RegistryError(f"{doing}: the registry requires credentials and none were given")
        else:
            raise RegistryError(f"{doing}: unsupported authentication challenge {scheme!r}")
        self._known[scope] = value
        return value

    def _ecr_login(self, params: dict[str, str], doing: str) -> str:
        """ECR's token, asked for once per registry (it lasts 12 hours, longer than any build)."""
        realm = params.get("realm", "")
        if realm not in self._ecr:
            self._ecr[realm] = Credentials(*ecr_credentials(realm, doing)).basic()
        return self._ecr[realm]

    def _token(self, params: dict[str, str], scope: str, doing: str) -> str:
        scopes = sorted(set(scope.split()) | set(params.get("scope", "").split()))
        query = [("service", params["service"])] if "service" in params else []
        query += [("scope", s) for s in scopes]
        url = params["realm"] + ("&" if "?" in params["realm"] else "?") + urlencode(query)
        headers = {"Authorization": self._credentials.basic()} if self._credentials else {}
        response = send("GET", url, headers)
        if response.status != 200:
            raise response.error(f"{doing}: getting a registry token")
        try:
            answer = json.loads(response.document())
            token = answer.get("token") or answer.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{doing}: the token service {params['realm']} answered no token")
        return token
