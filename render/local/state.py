"""`faas local --state DIR`: what the emulator holds survives a stop and a crash (kill -9 too).

Two files in DIR:
- `requests.jsonl`: moto's recorder (render/local/moto/recording.py) appends every request the
  emulator answers, bodies included: buckets and objects, functions, queues and their messages,
  images pushed to ECR. At the next start `replay` sends them again, in order, to the fresh moto
  before anyone else is answered, the service paused so that nothing replayed runs a function.
  moto gives new upload ids to a replayed S3 multipart upload and ECR layer upload: the later
  requests naming the recorded id get the new one.
- `in-flight.jsonl`: the journal of asynchronous events (uploads' notifications, Event invokes).
  An event is written (and synced to disk) when it is queued, and marked done when its run, its
  retries and its failure record are over. At start the ones not done were in flight: each is
  queued again, so it runs, or is retried and kept as a failure, as if it had just arrived.
- `batch-jobs.jsonl`: how each Batch job ended (status, reason, exit code, times), appended when it
  ends. moto gives a replayed SubmitJob a new job id, so an end is found again by what was
  submitted (name, definition, queue, overrides): the replayed job takes the end its original had.
  A job with no end was cut short by a crash: it is FAILED, and kept so (the event that submitted
  it, when it was in flight, runs again and submits it anew).
"""

from __future__ import annotations

import base64
import errno
import fcntl
import http.client
import json
import os
import re
import threading
from collections import defaultdict, deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

RECORDING = "requests.jsonl"
JOURNAL = "in-flight.jsonl"
JOB_ENDS = "batch-jobs.jsonl"
CUT_SHORT = "faas local stopped before the job ended"
LOCK = ".lock"
ECR_INITIATE = "AmazonEC2ContainerRegistry_V20150921.InitiateLayerUpload"
S3_UPLOAD_ID = re.compile(rb"<UploadId>([^<]+)</UploadId>")
SKIPPED_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


def claim(folder: Path) -> None:
    """Create the folder and hold its lock while this process lives (a crash lets go of it too);
    OSError when it cannot be made or another emulator holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise OSError(errno.EBUSY, "another faas local keeps its state there") from None


@dataclass(frozen=True)
class Pending:
    """An asynchronous event written to the journal before it runs."""

    ident: str
    function_arn: str
    event: Any
    cause: str

    def entry(self) -> dict[str, Any]:
        return {"id": self.ident, "function": self.function_arn, "event": self.event, "cause": self.cause}


class Journal:
    """The in-flight events of `path` (appended to, one JSON object a line, each synced)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def started(self, pending: Pending) -> None:
        self._append(pending.entry())

    def finished(self, ident: str) -> None:
        self._append({"done": ident})

    def unfinished(self) -> list[Pending]:
        """The events started and not finished; the journal is rewritten to hold only them."""
        started: dict[str, Pending] = {}
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:  # a line torn by a crash: its event was not queued yet
                continue
            if "done" in entry:
                started.pop(str(entry["done"]), None)
            else:
                started[entry["id"]] = Pending(entry["id"], entry["function"], entry["event"], entry["cause"])
        events = list(started.values())
        fresh = self.path.with_name(f".{self.path.name}.new")
        with fresh.open("w") as out:
            for pending in events:
                out.write(json.dumps(pending.entry()) + "\n")
            out.flush()
            os.fsync(out.fileno())
        fresh.replace(self.path)
        sync_folder(self.path.parent)
        return events

    def _append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            append_synced(self.path, entry)


@dataclass(frozen=True)
class JobEnd:
    """How a Batch job ended, found again by what was submitted (`fingerprint`)."""

    fingerprint: str
    status: str  # SUCCEEDED or FAILED
    reason: str | None
    exit_code: int | None
    started_at: int  # milliseconds since the epoch
    stopped_at: int


class JobEnds:
    """The ends of the Batch jobs run with `path`'s state; `replayed` hands them back, in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._kept: dict[str, deque[JobEnd]] | None = None

    def ended(self, end: JobEnd) -> None:
        with self._lock:
            append_synced(self.path, asdict(end))

    def replayed(self, fingerprint: str, at: int) -> JobEnd:
        """The end of the next job submitted as `fingerprint`; one that has none was cut short (FAILED at `at`)."""
        with self._lock:
            if self._kept is None:
                self._kept = defaultdict(deque)
                try:
                    lines = self.path.read_bytes().splitlines()
                except FileNotFoundError:
                    lines = []
                for line in lines:
                    try:
                        end = JobEnd(**json.loads(line))
                    except (ValueError, TypeError):  # torn by a crash
                        continue
                    self._kept[end.fingerprint].append(end)
            kept = self._kept[fingerprint]
            if kept:
                return kept.popleft()
            cut_short = JobEnd(fingerprint, "FAILED", CUT_SHORT, None, at, at)
            append_synced(self.path, asdict(cut_short))  # the next replay finds the same end
            return cut_short


def append_synced(path: Path, entry: dict[str, Any]) -> None:
    """Append one JSON line to `path` and sync it to disk."""
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, (json.dumps(entry) + "\n").encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class UploadIds:
    """Recorded upload ids to the ones the replay got, paired in order per bucket key or repository."""

    def __init__(self) -> None:
        self._new: dict[str, deque[str]] = defaultdict(deque)
        self._mapped: dict[str, str] = {}

    def started(self, where: str, new: str) -> None:
        self._new[where].append(new)

    def mapped(self, where: str, recorded: str) -> str:
        if recorded not in self._mapped and self._new[where]:
            self._mapped[recorded] = self._new[where].popleft()
        return self._mapped.get(recorded, recorded)


def replay(recording: Path, endpoint: str) -> int:
    """Send the recorded requests to `endpoint`, in order; how many."""
    try:
        lines = recording.read_bytes().splitlines()
    except FileNotFoundError:
        return 0
    ids = UploadIds()
    target = urlsplit(endpoint)
    connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
    sent = 0
    try:
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:  # a request torn by a crash: it was never answered
                continue
            _send(connection, entry, ids)
            sent += 1
    finally:
        connection.close()
    return sent


def _send(connection: http.client.HTTPConnection, entry: dict[str, Any], ids: UploadIds) -> None:
    recorded = urlsplit(entry["url"])
    body = base64.b64decode(entry["body"]) if entry.get("body_encoded") else str(entry.get("body") or "").encode()
    headers = {k: v for k, v in entry["headers"].items() if k.lower() not in SKIPPED_HEADERS}
    target = headers.get("X-Amz-Target", "")
    query = parse_qsl(recorded.query, keep_blank_values=True)
    path = recorded.path + (f"?{recorded.query}" if recorded.query else "")
    if any(name == "uploadId" for name, _ in query):  # an S3 multipart upload's part or end
        query = [(n, ids.mapped(recorded.path, v) if n == "uploadId" else v) for n, v in query]
        path = f"{recorded.path}?{urlencode(query)}"
    elif body.startswith(b"{") and b'"uploadId"' in body:  # an ECR layer upload's part or end
        document = json.loads(body)
        document["uploadId"] = ids.mapped(str(document.get("repositoryName")), document["uploadId"])
        body = json.dumps(document).encode()
    connection.request(entry["method"], path, body=body, headers=headers | {"Host": recorded.netloc})
    response = connection.getresponse()
    answer = response.read()
    if response.status != 200:
        return
    if target == ECR_INITIATE:
        ids.started(str(json.loads(body).get("repositoryName")), json.loads(answer)["uploadId"])
    elif entry["method"] == "POST" and ("uploads", "") in query and (found := S3_UPLOAD_ID.search(answer)):
        ids.started(recorded.path, found.group(1).decode())
