"""S3 event notifications, as local mode sends and receives them.

`triggers` reads a bucket's notification configuration (which functions an object fires, with
their events and prefix and suffix filters), `s3_event` writes the notification S3 sends for a
new object, and `from_moto_event` turns the one moto's server hands the emulator into S3's own
(moto encodes keys differently, and announces a multipart upload twice: `is_moto_duplicate`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, unquote_plus


@dataclass(frozen=True)
class Trigger:
    """One Lambda function configuration of a bucket notification."""

    function_arn: str
    configuration_id: str
    events: tuple[str, ...]
    prefix: str = ""
    suffix: str = ""

    def matches(self, key: str, event_name: str) -> bool:
        wanted = f"s3:{event_name}"
        event_ok = any(e == wanted or (e.endswith(":*") and wanted.startswith(e[:-1])) for e in self.events)
        return event_ok and key.startswith(self.prefix) and key.endswith(self.suffix)


def triggers(notification: dict[str, Any]) -> list[Trigger]:
    """The Lambda triggers of a GetBucketNotificationConfiguration answer."""
    found = []
    for entry in notification.get("LambdaFunctionConfigurations", []):
        rules = {r["Name"].lower(): r["Value"] for r in entry.get("Filter", {}).get("Key", {}).get("FilterRules", [])}
        found.append(
            Trigger(
                entry["LambdaFunctionArn"],
                entry.get("Id", ""),
                tuple(entry.get("Events", [])),
                rules.get("prefix", ""),
                rules.get("suffix", ""),
            )
        )
    return found


def s3_event(
    region: str,
    bucket: str,
    key: str,
    size: int,
    etag: str,
    configuration_id: str,
    event_name: str = "ObjectCreated:Put",
) -> dict[str, Any]:
    """The notification S3 sends for a new object (the key URL-encoded, as S3 does)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": event_name,
                "userIdentity": {"principalId": "local"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": configuration_id,
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "local"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": size,
                        "eTag": etag.strip('"'),
                        "sequencer": f"{time.time_ns():016X}",
                    },
                },
            }
        ]
    }


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def from_moto_event(event_body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """S3's own event (render/local/cloud.py's) for moto's, and the object's s3:// URI."""
    record = event_body["Records"][0]
    bucket, item = record["s3"]["bucket"]["name"], record["s3"]["object"]
    key = unquote_plus(item["key"])  # moto encodes '/' as well
    event = s3_event(
        record["awsRegion"],
        bucket,
        key,
        item["size"],
        item["eTag"],
        record["s3"]["configurationId"],
        record["eventName"],
    )
    return event, f"s3://{bucket}/{key}"


def is_moto_duplicate(event_body: dict[str, Any]) -> bool:
    """moto sends ObjectCreated:Put, then ObjectCreated:CompleteMultipartUpload, for a multipart upload.

    S3 sends only the second. The first is recognisable: a single PUT's ETag never has a part count.
    """
    record = event_body["Records"][0]
    return bool(record["eventName"] == "ObjectCreated:Put" and "-" in record["s3"]["object"]["eTag"])
