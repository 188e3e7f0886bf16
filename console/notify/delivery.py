"""How one HTTP delivery attempt fails, in words safe to journal.

httpx exceptions may quote the request URL, and a Slack webhook URL *is* the
secret, so errors are rebuilt here from the exception type and the response
status, then scrubbed again with every secret the sender knows.
"""

from __future__ import annotations

import httpx

from console.secrets import Secret, redact_text

# Statuses worth retrying: the service is down, overloaded or rate limiting.
RETRYABLE_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class DeliveryError(Exception):
    """A message was not delivered; ``retryable`` says whether waiting can help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


def from_response(response: httpx.Response, secrets: list[Secret]) -> DeliveryError:
    status = response.status_code
    body = " ".join(response.text.split())[:200]
    retryable = status in RETRYABLE_STATUSES or status >= 500
    message = f"HTTP {status}" + (f": {body}" if body else "")
    return DeliveryError(redact_text(message, secrets), retryable=retryable)


def from_exception(exc: Exception, secrets: list[Secret]) -> DeliveryError:
    if isinstance(exc, httpx.TimeoutException):
        message = "timed out"
    elif isinstance(exc, httpx.ConnectError):
        message = "connection failed"
    elif isinstance(exc, httpx.RemoteProtocolError):
        message = "connection closed by the server"
    else:
        message = type(exc).__name__
    detail = str(exc)
    if detail and "://" not in detail:
        message += f" ({detail})"
    return DeliveryError(redact_text(message, secrets), retryable=True)
