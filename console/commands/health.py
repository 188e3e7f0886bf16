"""Health checks run from the host with curl (the runbook's ``curl -f .../api/health``)."""

from __future__ import annotations

from console.commands.base import argv
from console.validate import UnsafeValue, require_url

STATUS_MARKER = "\n@@incident-console-http-status@@ "


def _seconds(timeout: float) -> str:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 3600:
        raise UnsafeValue(f"refusing timeout {timeout!r}: it must be a number of seconds in (0, 3600]")
    return f"{timeout:g}"


def curl_health(url: str, timeout: float) -> list[str]:
    """Fail (exit 22) on any HTTP error status; only http(s), no redirects followed."""
    return argv("curl", "-fsS", "--proto", "=http,https", "--max-time", _seconds(timeout), require_url(url))


def curl_status(url: str, timeout: float) -> list[str]:
    """Body then a marker line with the status code, for checks expecting a non-200 status."""
    return argv(
        "curl",
        "-sS",
        "--proto",
        "=http,https",
        "--max-time",
        _seconds(timeout),
        "-w",
        STATUS_MARKER.replace("\n", r"\n") + "%{http_code}\n",
        require_url(url),
    )


def parse_curl_status(output: str) -> tuple[int | None, str]:
    """``(status, body)`` from :func:`curl_status` output; status None when it is missing."""
    body, sep, tail = output.rpartition(STATUS_MARKER)
    if not sep:
        return None, output
    code = tail.strip()
    return (int(code) if code.isascii() and code.isdigit() and code != "000" else None), body
