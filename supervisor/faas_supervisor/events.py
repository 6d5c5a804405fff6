"""Turn an incoming event into work items: what to stage as input and what the script sees.

Kinds, first match wins (see supervisor/README.md, "Events"):
- S3 notification (``Records[].eventSource == "aws:s3"``): one item per created object;
- API Gateway proxy event (REST v1 ``httpMethod`` or HTTP API v2): the body is the input file,
  query string parameters become ``CONT_VAR_<name>``; a JSON body that is an S3 event is parsed
  as one (recursively);
- S3's ``s3:TestEvent`` (sent when a notification is configured): nothing to do;
- any other JSON value (direct invocation): written as ``event.json``;
- anything else (a string that is not JSON, bytes): written as-is to ``event``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class WorkItem:
    """One run of the script. `own_event` is an event that reproduces just this item."""

    own_event: Any
    source: S3Object | None = None  # download this object as the input file ...
    body: bytes | None = None  # ... or write these bytes as the input file
    body_name: str = "event"
    event_time: str | None = None

    @property
    def object_key(self) -> str | None:
        return self.source.key if self.source else None


@dataclass(frozen=True)
class ParsedEvent:
    kind: str  # "s3", "apigateway", "s3-test", "json", "raw", "none"
    raw_json: str  # exported to the script as EVENT
    items: tuple[WorkItem, ...]
    extra_env: dict[str, str] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()  # human-readable reasons for records that were not processed

    def describe(self) -> str:
        objs = [i.source.uri for i in self.items if i.source]
        what = f"{self.kind} event, {len(self.items)} item(s)"
        return f"{what}: {', '.join(objs)}" if objs else what


_ENV_NAME_BAD = re.compile(r"[^A-Za-z0-9_]")


def _is_s3_event(doc: Any) -> bool:
    if not isinstance(doc, dict) or not isinstance(doc.get("Records"), list) or not doc["Records"]:
        return False
    first = doc["Records"][0]
    return isinstance(first, dict) and first.get("eventSource") == "aws:s3"


def _is_api_gateway(doc: dict[str, Any]) -> bool:
    if "httpMethod" in doc:
        return True
    ctx = doc.get("requestContext")
    return doc.get("version") == "2.0" and isinstance(ctx, dict) and "http" in ctx


def _dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _s3_items(doc: dict[str, Any], rewrap: Any) -> tuple[list[WorkItem], list[str]]:
    """Items for the S3 records of `doc`; `rewrap(record_event)` builds each item's own event."""
    items: list[WorkItem] = []
    skipped: list[str] = []
    records = doc["Records"]
    for n, rec in enumerate(records):
        try:
            bucket = rec["s3"]["bucket"]["name"]
            key = unquote_plus(rec["s3"]["object"]["key"])
        except (KeyError, TypeError):
            skipped.append(f"record {n}: not an S3 object record")
            continue
        name = str(rec.get("eventName", ""))
        if rec.get("eventSource") != "aws:s3" or name.startswith("ObjectRemoved"):
            skipped.append(f"record {n}: {name or rec.get('eventSource')} on s3://{bucket}/{key}")
            continue
        if key.endswith("/"):
            skipped.append(f"record {n}: s3://{bucket}/{key} is a folder marker")
            continue
        single = doc if len(records) == 1 else {**doc, "Records": [rec]}
        items.append(
            WorkItem(
                own_event=rewrap(single),
                source=S3Object(bucket, key),
                event_time=rec.get("eventTime"),
            )
        )
    return items, skipped


def _api_gateway(doc: dict[str, Any], raw_json: str) -> ParsedEvent:
    params = doc.get("queryStringParameters") or {}
    extra_env = {
        "CONT_VAR_" + _ENV_NAME_BAD.sub("_", str(k)): str(v) for k, v in sorted(params.items()) if v is not None
    }
    ctx = doc.get("requestContext")
    if not isinstance(ctx, dict):
        ctx = {}
    event_time = ctx.get("requestTime") or ctx.get("time")
    body = doc.get("body")
    if body is None:
        item = WorkItem(own_event=doc, event_time=event_time)
        return ParsedEvent("apigateway", raw_json, (item,), extra_env)
    data = body.encode("utf-8") if isinstance(body, str) else _dumps(body).encode("utf-8")
    if doc.get("isBase64Encoded") and isinstance(body, str):
        with contextlib.suppress(binascii.Error, ValueError):  # flagged but not base64: keep the text
            data = base64.b64decode(body, validate=True)
    try:
        inner = json.loads(data)
    except ValueError:
        inner = None
    if _is_s3_event(inner):

        def rewrap(s3_event: Any) -> Any:
            if s3_event is inner:
                return doc
            return {**doc, "body": _dumps(s3_event), "isBase64Encoded": False}

        items, skipped = _s3_items(inner, rewrap)
        return ParsedEvent("apigateway", raw_json, tuple(items), extra_env, tuple(skipped))
    name = "body.json" if inner is not None else "body"
    item = WorkItem(own_event=doc, body=data, body_name=name, event_time=event_time)
    return ParsedEvent("apigateway", raw_json, (item,), extra_env)


def parse_event(event: Any) -> ParsedEvent:
    """Classify `event` (as Lambda hands it over, or decoded from FAAS_EVENT)."""
    if event is None:
        return ParsedEvent("none", "null", (WorkItem(own_event=None),))
    if isinstance(event, (bytes, bytearray)):
        try:
            event = bytes(event).decode("utf-8")
        except UnicodeDecodeError:
            raw = bytes(event)
            item = WorkItem(own_event=base64.b64encode(raw).decode(), body=raw)
            return ParsedEvent("raw", _dumps(item.own_event), (item,))
    if isinstance(event, str):
        try:
            decoded = json.loads(event)
        except ValueError:
            item = WorkItem(own_event=event, body=event.encode("utf-8"), body_name="event")
            return ParsedEvent("raw", _dumps(event), (item,))
        if isinstance(decoded, (dict, list)):
            event = decoded
        else:
            item = WorkItem(own_event=event, body=event.encode("utf-8"), body_name="event")
            return ParsedEvent("raw", _dumps(event), (item,))
    raw_json = _dumps(event)
    if isinstance(event, dict):
        if _is_s3_event(event):
            items, skipped = _s3_items(event, lambda e: e)
            return ParsedEvent("s3", raw_json, tuple(items), {}, tuple(skipped))
        if _is_api_gateway(event):
            return _api_gateway(event, raw_json)
        if event.get("Event") == "s3:TestEvent":
            return ParsedEvent("s3-test", raw_json, ())
    item = WorkItem(own_event=event, body=raw_json.encode("utf-8"), body_name="event.json")
    return ParsedEvent("json", raw_json, (item,))
