"""Move files between S3 and the work dir: ONE code path for Lambda and Batch.

Transfers use boto3's managed transfer (multipart for large files). Every failure is reported
as a StorageError naming the bucket and key, after botocore's retries (see aws.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from . import aws
from .config import Output
from .errors import StorageError
from .events import S3Object

log = logging.getLogger(__name__)


def parse_s3_uri(uri: str) -> S3Object:
    if not uri.startswith("s3://"):
        raise StorageError(f"{uri!r} is not an s3://bucket/key address")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise StorageError(f"{uri!r} is not an s3://bucket/key address")
    return S3Object(bucket, key)


def _fail(action: str, obj: S3Object, exc: Exception) -> StorageError:
    return StorageError(f"cannot {action} {obj.uri}: {exc}")


def _storage_errors() -> tuple[type[Exception], ...]:
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    return (Boto3Error, BotoCoreError, ClientError)


def download(obj: S3Object, dest: Path, s3: Any | None = None) -> Path:
    s3 = s3 or aws.client("s3")
    try:
        s3.download_file(obj.bucket, obj.key, str(dest))
    except _storage_errors() as exc:
        raise _fail("download", obj, exc) from exc
    log.debug("downloaded %s to %s", obj.uri, dest)
    return dest


def read_bytes(obj: S3Object, s3: Any | None = None) -> bytes:
    s3 = s3 or aws.client("s3")
    try:
        data: bytes = s3.get_object(Bucket=obj.bucket, Key=obj.key)["Body"].read()
        return data
    except _storage_errors() as exc:
        raise _fail("read", obj, exc) from exc


def write_bytes(
    obj: S3Object, data: bytes, s3: Any | None = None, content_type: str = "application/json"
) -> None:
    s3 = s3 or aws.client("s3")
    try:
        s3.put_object(Bucket=obj.bucket, Key=obj.key, Body=data, ContentType=content_type)
    except _storage_errors() as exc:
        raise _fail("write", obj, exc) from exc


def stage_input_path(input_dir: Path, key: str) -> Path:
    """Local path for an input object: its base name inside TMP_INPUT_DIR."""
    name = PurePosixPath(key).name
    if name in ("", ".", ".."):
        raise StorageError(f"object key {key!r} has no usable file name")
    return input_dir / name


def output_files(output_dir: Path) -> Iterator[tuple[Path, str]]:
    """(path, relative POSIX path) of every file under output_dir, recursively, sorted."""
    for root, dirs, files in os.walk(output_dir):
        dirs.sort()
        for name in sorted(files):
            path = Path(root, name)
            if path.is_file():
                yield path, path.relative_to(output_dir).as_posix()


def upload_outputs(output_dir: Path, outputs: tuple[Output, ...], s3: Any | None = None) -> list[str]:
    """Upload each file to every output whose filters match; returns the s3:// URIs written."""
    uploaded: list[str] = []
    if not outputs:
        return uploaded
    s3 = s3 or aws.client("s3")
    for path, rel in output_files(output_dir):
        targets = [o for o in outputs if o.matches(rel)]
        if not targets:
            log.info("output %s matches no output filter: not uploaded", rel)
        for out in targets:
            obj = S3Object(out.bucket, out.key_for(rel))
            try:
                s3.upload_file(str(path), obj.bucket, obj.key)
            except _storage_errors() as exc:
                raise _fail("upload " + rel + " to", obj, exc) from exc
            log.debug("uploaded %s to %s", rel, obj.uri)
            uploaded.append(obj.uri)
    return uploaded
