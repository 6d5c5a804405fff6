"""What the patched moto calls back into while an emulator runs in this process.

moto's backends are per process, and so are the patches: one emulator at a time binds its blob
store (the ECR patches keep pushed bytes there) and, for `faas local`, its service (the S3 and
Lambda patches hand it what uploads trigger and what Invoke asks for; the Batch patch leaves its
jobs RUNNABLE for it to run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from render.local.ecr_blobs import BlobStore
from render.local.state import JobEnd


class Outcome(Protocol):
    """A finished invocation, as Invoke answers it."""

    @property
    def failed(self) -> bool: ...

    @property
    def payload(self) -> Any: ...


class Service(Protocol):
    """Runs functions (render/local/service.py's LocalService)."""

    def triggered(self, account_id: str, event_body: dict[str, Any], function_arn: str, region_name: str) -> None: ...

    def invoke(self, function_arn: str, event: Any) -> Outcome: ...

    def invoke_async(self, function_arn: str, event: Any) -> None: ...

    def replayed_job(self, fingerprint: str) -> JobEnd | None:
        """While it replays its recorded requests, how a replayed job ended (None: not replaying)."""
        ...


@dataclass
class Hooks:
    store: BlobStore | None = None
    service: Service | None = None  # None: uploads and Invoke run nothing (`faas put` and `faas invoke` do)

    def blobs(self) -> BlobStore:
        if self.store is None:
            raise RuntimeError("moto's ECR is patched but no emulator holds a blob store")
        return self.store


HOOKS = Hooks()
