"""What a capture tells its user: the reporter interface, kept apart from the docker-using capture code
so the CLI can subclass it without importing the docker SDK at start-up."""

from __future__ import annotations


class CaptureReporter:
    """What a capture tells its user. Methods may be called from a worker thread
    (docker and PostgreSQL calls run in threads so the event loop stays free)."""

    def step(self, message: str) -> None:
        """A stage began or finished."""

    def warning(self, message: str) -> None:
        """Something the operator must know that does not stop the capture."""

    def push_progress(self, image: str, layer: str | None, status: str, current: int | None, total: int | None) -> None:
        """One event of a push stream (per image and layer)."""

    def upload_progress(self, name: str, done: int, total: int) -> None:
        """Bytes of one artifact on the host so far."""

    def build_output(self, image: str, line: str) -> None:
        """One line of the build of ``image`` (``<image>:<source-tag>``), colour codes removed."""
