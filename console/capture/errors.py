"""The one error a capture raises: its message is safe to show (no secrets, no file contents)."""

from __future__ import annotations


class CaptureError(Exception):
    """The capture cannot go on; nothing has been recorded in the release log."""


class BadCaptureInput(CaptureError):
    """The request itself is wrong (bad tag, tag already captured, missing secret): exit 2."""
