"""Exceptions the supervisor raises; their messages are what users read in the logs."""

from __future__ import annotations

SUPERVISOR_FAILURE = 125  # exit status when the supervisor itself failed (not the user's script)


class SupervisorError(Exception):
    """Base class: something went wrong that is not the user script's own failure."""


class ConfigError(SupervisorError):
    """function_config.json or the environment set by Terraform is missing or invalid."""


class StorageError(SupervisorError):
    """An S3 transfer failed after retries; the message names the bucket and key."""


class ScriptFailed(Exception):
    """The user script exited non-zero or was killed at the deadline (Lambda)."""
