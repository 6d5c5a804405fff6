"""What deserves a second look in a saved plan: stopped jobs, lost data, widened permissions."""

from __future__ import annotations

from render.review.changes import Change
from render.review.iam import PlannedDocuments, iam_warnings
from render.terraform.root_module import ARTIFACTS


def warnings(change: Change, documents: PlannedDocuments) -> list[str]:
    found: list[str] = []
    if change.type == "aws_batch_compute_environment":
        found += _compute_environment_warning(change)
    if change.type == "aws_batch_job_queue" and change.action in ("delete", "replace"):
        found.append(
            f"{change.address}: Batch job queue {'replaced' if change.action == 'replace' else 'destroyed'}; "
            "jobs waiting or running in it are terminated."
        )
    if change.type == "aws_s3_bucket" and change.action in ("delete", "replace"):
        found += _bucket_warning(change)
    found += iam_warnings(change, documents)
    return found


def _compute_environment_warning(change: Change) -> list[str]:
    if change.action == "replace":
        reason = {
            "replace_by_triggers": "replace_triggered_by",
            "replace_by_request": "-replace was requested",
        }.get(change.action_reason, ", ".join(change.replace_paths) or "a setting that cannot be updated")
        return [
            f"{change.address}: Batch compute environment replaced ({reason}). The new one is created first "
            "and the job queue moves to it; jobs still running on the old one are stopped when it is deleted."
        ]
    if change.action == "delete":
        return [f"{change.address}: Batch compute environment destroyed; jobs still running on it are stopped."]
    return []


def _bucket_warning(change: Change) -> list[str]:
    if change.index == ARTIFACTS:
        return []  # the deployment bucket: every render stages its contents again
    name = change.before.get("bucket") or change.address
    verb = "replaced (destroyed, then created empty)" if change.action == "replace" else "destroyed"
    if change.before.get("force_destroy"):
        return [f"bucket {name} is {verb} with force_destroy = true: every object in it is deleted, data may be lost."]
    return [
        f"bucket {name} is {verb}: with force_destroy = false the apply fails if it still holds objects; "
        "otherwise its data is lost. Copy what you need first."
    ]
