"""The emulator's S3 answers a bucket's lifecycle configuration as it was put, as S3 does.

After PutBucketLifecycleConfiguration the aws provider reads the configuration back until ten
answers in a row equal what it put (the rules compared field by field, and the transition default
minimum object size): one differing answer and every apply of the storage module's expiry rules
fails after the three-minute create timeout.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from render.local import emulator

BUCKET = "lifecycle-answers"
SIZE = "all_storage_classes_128K"  # what the provider sends when the module does not set it


def staged_events_rule(function: str, days: int) -> dict[str, Any]:
    """A rule as modules/storage sends it: the staged events of a Batch function expire."""
    return {
        "ID": f"staged-events/{function}",
        "Status": "Enabled",
        "Filter": {"Prefix": f"events/{function}/"},
        "Expiration": {"Days": days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }


@pytest.fixture
def s3(aws_env: dict[str, str]) -> Any:
    emulator.reset(aws_env["AWS_ENDPOINT_URL"])
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.mark.parametrize(
    "rules",
    [
        [staged_events_rule("video-split", 14)],
        [staged_events_rule("video-split", 14), staged_events_rule("frame-stats", 3)],
    ],
    ids=["one-function", "two-functions"],
)
def test_the_configuration_read_back_is_the_one_put(s3: Any, rules: list[dict[str, Any]]) -> None:
    s3.put_bucket_lifecycle_configuration(
        Bucket=BUCKET, LifecycleConfiguration={"Rules": rules}, TransitionDefaultMinimumObjectSize=SIZE
    )
    answer = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)
    assert answer["Rules"] == rules
    assert answer["TransitionDefaultMinimumObjectSize"] == SIZE
