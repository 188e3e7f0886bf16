"""Every HTTP client the console makes shares one TLS context per process.

httpx builds a new ``ssl.SSLContext`` for each client and loads the whole CA bundle into it
(~20 ms of CPU); a rollback made about seven clients (Slack, the status page, health waits), all
on the run's path. The context is built once, on first use, and shared: an OpenSSL context is
safe to share between connections and threads. ``trust_env`` keeps its meaning (SSL_CERT_FILE /
SSL_CERT_DIR honoured or not), so there is one context for each.
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from typing import Any

import httpx


@lru_cache(maxsize=2)
def shared_tls(trust_env: bool) -> ssl.SSLContext:
    return httpx.create_ssl_context(trust_env=trust_env)


def async_client(**options: Any) -> httpx.AsyncClient:
    """``httpx.AsyncClient(**options)`` on the shared TLS context (unless ``verify`` is given)."""
    if "verify" not in options:
        options["verify"] = shared_tls(bool(options.get("trust_env", True)))
    return httpx.AsyncClient(**options)
