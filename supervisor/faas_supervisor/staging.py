"""Move files between S3 and the work dir: ONE code path for Lambda and Batch.

Transfers use boto3's managed transfer (multipart for large files). Every failure is reported
as a StorageError naming the bucket and key, after botocore's retries (see aws.py). Outputs are
listed and checked before the first upload; when an upload fails part-way, the objects already
written stay and the error lists them (see supervisor/README.md, "Outputs"). Outputs of another
account (`storage_provider: s3.<id>`) are written with that provider's keys (credentials.py),
obtained for every provider the uploads need before the first upload.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from . import aws, logs
from .config import DEFAULT_STORAGE_PROVIDER, Output
from .errors import StorageError
from .events import S3Object

if TYPE_CHECKING:
    from .credentials import StorageClients

log = logging.getLogger(__name__)


def parse_s3_uri(uri: str) -> S3Object:
    if not uri.startswith("s3://"):
        raise StorageError(f"{uri!r} is not an s3://bucket/key address")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise StorageError(f"{uri!r} is not an s3://bucket/key address")
    return S3Object(bucket, key)


MAX_LISTED = 20  # objects named in an error message; the rest are counted


def _fail(action: str, obj: S3Object, exc: Exception) -> StorageError:
    return StorageError(f"cannot {action} {obj.uri}: {aws.describe_error(exc)}")


def _listing(uris: list[str]) -> str:
    shown = ", ".join(uris[:MAX_LISTED])
    return shown + (f" and {len(uris) - MAX_LISTED} more" if len(uris) > MAX_LISTED else "")


def download(obj: S3Object, dest: Path, s3: Any | None = None) -> Path:
    s3 = s3 or aws.client("s3")
    try:
        s3.download_file(obj.bucket, obj.key, str(dest))
    except aws.client_errors() as exc:
        raise _fail("download the input object", obj, exc) from exc
    log.debug("downloaded %s to %s", obj.uri, dest)
    return dest


def read_bytes(obj: S3Object, s3: Any | None = None) -> bytes:
    s3 = s3 or aws.client("s3")
    try:
        data: bytes = s3.get_object(Bucket=obj.bucket, Key=obj.key)["Body"].read()
        return data
    except aws.client_errors() as exc:
        raise _fail("read", obj, exc) from exc


def write_bytes(obj: S3Object, data: bytes, s3: Any | None = None, content_type: str = "application/json") -> None:
    s3 = s3 or aws.client("s3")
    try:
        s3.put_object(Bucket=obj.bucket, Key=obj.key, Body=data, ContentType=content_type)
    except aws.client_errors() as exc:
        raise _fail("write", obj, exc) from exc


def stage_input_path(input_dir: Path, key: str) -> Path:
    """Local path for an input object: its base name inside TMP_INPUT_DIR."""
    name = PurePosixPath(key).name
    if name in ("", ".", ".."):
        raise StorageError(f"object key {key!r} has no usable file name")
    return input_dir / name


def output_files(output_dir: Path) -> Iterator[tuple[Path, str]]:
    """(path, relative POSIX path) of every regular file under output_dir, recursively, sorted.

    Anything else (dangling symlinks, FIFOs, sockets, devices) is skipped and logged.
    """
    for root, dirs, files in os.walk(output_dir):
        dirs.sort()
        for name in sorted(files):
            path = Path(root, name)
            rel = path.relative_to(output_dir).as_posix()
            if path.is_file():
                yield path, rel
            else:
                log.info("output %s is not a regular file: not uploaded", rel)


@dataclass(frozen=True)
class Upload:
    path: Path
    rel: str  # path relative to the output dir, "/"-separated
    target: S3Object
    provider: str = DEFAULT_STORAGE_PROVIDER  # whose keys sign the upload: "s3" (ours) or "s3.<id>"

    @property
    def described(self) -> str:
        """The target, with the storage provider when it is another account's."""
        if self.provider == DEFAULT_STORAGE_PROVIDER:
            return self.target.uri
        return f"{self.target.uri} (storage provider {self.provider})"


def plan_uploads(output_dir: Path, outputs: tuple[Output, ...]) -> list[Upload]:
    """Every (file, destination) pair, in upload order: files sorted, then outputs in config order."""
    plan: list[Upload] = []
    if not outputs:
        return plan
    for path, rel in output_files(output_dir):
        targets = [o for o in outputs if o.matches(rel)]
        if not targets:
            log.info("output %s matches no output filter: not uploaded", rel)
        plan.extend(Upload(path, rel, S3Object(out.bucket, out.key_for(rel)), out.storage_provider) for out in targets)
    return plan


def _vanished(rel: str) -> str:
    return f"output file {rel} disappeared before it was uploaded (removed by a process still running?)"


def _clients(plan: list[Upload], s3: Any | None, storage: StorageClients | None) -> dict[str, Any]:
    """An S3 client for each storage provider the plan uses, all of them before any upload."""
    clients: dict[str, Any] = {}
    for up in plan:
        if up.provider in clients:
            continue
        if up.provider == DEFAULT_STORAGE_PROVIDER:
            clients[up.provider] = s3 or aws.client("s3")
        elif storage is None:
            raise StorageError(f"storage provider {up.provider}: no credentials given for it")
        else:
            clients[up.provider] = storage.s3(up.provider)
    return clients


def upload_plan(plan: list[Upload], s3: Any | None = None, storage: StorageClients | None = None) -> list[str]:
    """Upload in order; returns the s3:// URIs written.

    Every file is checked first, and every storage provider's keys obtained (`storage`), so a
    file already gone or keys that cannot be read mean nothing is uploaded. A failure after that
    raises a StorageError that names the object and lists those already uploaded, which are left
    in place.
    """
    for up in plan:
        if not up.path.is_file():
            raise StorageError(_vanished(up.rel) + "; nothing uploaded")
    if not plan:
        return []
    try:
        clients = _clients(plan, s3, storage)
    except StorageError as exc:
        raise StorageError(f"{exc}; nothing uploaded") from None
    uploaded: list[str] = []
    for up in plan:
        try:
            clients[up.provider].upload_file(str(up.path), up.target.bucket, up.target.key)
        except FileNotFoundError as exc:
            raise StorageError(_vanished(up.rel) + _partial(uploaded)) from exc
        except OSError as exc:
            raise StorageError(f"cannot read output file {up.rel}: {exc.strerror or exc}" + _partial(uploaded)) from exc
        except aws.client_errors() as exc:
            why = f"cannot upload {up.rel} to {up.described}: {logs.mask(aws.describe_error(exc))}"
            # Another account's error response may quote its access key: not kept in the chain.
            cause = exc if up.provider == DEFAULT_STORAGE_PROVIDER else None
            raise StorageError(why + _partial(uploaded)) from cause
        log.debug("uploaded %s to %s", up.rel, up.described)
        uploaded.append(up.target.uri)
    return uploaded


def _partial(uploaded: list[str]) -> str:
    if not uploaded:
        return "; nothing uploaded"
    return f"\n{len(uploaded)} object(s) already uploaded by this run and left in place: {_listing(uploaded)}"


def upload_outputs(
    output_dir: Path,
    outputs: tuple[Output, ...],
    s3: Any | None = None,
    storage: StorageClients | None = None,
) -> list[str]:
    """Upload each file to every output whose filters match; returns the s3:// URIs written."""
    return upload_plan(plan_uploads(output_dir, outputs), s3, storage)
