"""Release capture (runbook section 1): images, compose bundle, database snapshot, upload, record.

``incident-console capture --tag TAG`` runs :func:`console.capture.release.capture_release`.
"""

from console.capture.errors import CaptureError

__all__ = ["CaptureError"]
