"""Health checks of the runbook's post-rollback verification, done over HTTP.

``curl -f .../api/health | jq`` becomes :func:`check_health`: the status code
must be the expected one, the body must be JSON, every ``expect`` entry (a
dotted key such as ``db.ok``) must hold, and the ``version`` the service reports
is compared with the release we meant to run. Every way of failing -- refused
connection, timeout, a body that is not JSON -- comes back as a
:class:`HealthResult` with ``error`` set, never as an exception, so a poller can
keep going while the stack is down.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import httpx

from console.config import HealthCheck
from console.http_clients import async_client
from console.secrets import SecretUnavailable

HISTORY_LENGTH = 60
_BODY_EXCERPT = 200
# Requests in flight at once per round: 100 checks started together cost the event loop one long
# step (bench/bench_health.py); a slow endpoint holds one slot, not the round.
MAX_CONCURRENT_CHECKS = 20
# Below the idle timeout of common servers (Node's 5 s), so a kept connection is never reused
# just as the server closes it (which would read as a failed check).
KEEPALIVE_SECONDS = 4.0


class _Missing:
    """The value of a key the health body does not contain."""

    def __repr__(self) -> str:
        return "(missing)"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


class ExpectationResult(NamedTuple):
    key: str
    expected: Any
    actual: Any
    passed: bool

    def describe(self) -> str:
        verdict = "ok" if self.passed else "FAIL"
        return f"{self.key}={_show(self.actual)} (expected {_show(self.expected)}) {verdict}"


@dataclass(frozen=True)
class HealthResult:
    check: str
    url: str
    ok: bool
    http_status: int | None = None
    latency_ms: float | None = None  # None when no response came back at all
    version: str | None = None
    expected_version: str | None = None
    expectations: list[ExpectationResult] = field(default_factory=list)
    error: str | None = None
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    expected_status: int = 200

    @property
    def status_ok(self) -> bool:
        return self.http_status == self.expected_status

    @property
    def version_ok(self) -> bool | None:
        """None when no version was expected."""
        if self.expected_version is None:
            return None
        return self.version == self.expected_version

    @property
    def failed_expectations(self) -> list[ExpectationResult]:
        return [e for e in self.expectations if not e.passed]

    @property
    def reason(self) -> str:
        """The first thing wrong, in words an operator can act on ('' when ok)."""
        if self.ok:
            return ""
        if self.http_status is None and self.error:
            return self.error
        if not self.status_ok:
            return f"HTTP {self.http_status}, expected {self.expected_status}"
        if self.error:
            return self.error
        failed = self.failed_expectations
        if failed:
            return "; ".join(e.describe() for e in failed)
        if self.version_ok is False:
            return f"version {self.version or '(missing)'}, expected {self.expected_version}"
        return "failed"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for the journal and reports."""
        return {
            "check": self.check,
            "url": self.url,
            "ok": self.ok,
            "http_status": self.http_status,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "version": self.version,
            "expected_version": self.expected_version,
            "expectations": [
                {"key": e.key, "expected": _jsonable(e.expected), "actual": _jsonable(e.actual), "passed": e.passed}
                for e in self.expectations
            ],
            "error": self.error,
            "checked_at": self.checked_at.isoformat(),
        }


def flatten_expectations(expect: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{db = {ok = true}}`` and ``{"db.ok" = true}`` both mean key ``db.ok``."""
    flat: dict[str, Any] = {}
    for key, value in expect.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten_expectations(value, path))
        else:
            flat[path] = value
    return flat


def lookup(body: Any, dotted: str) -> Any:
    """Walk ``a.b.0.c`` through dicts and lists; :data:`MISSING` when absent.

    A key that literally contains dots (``{"db.ok": true}``) wins over the walk.
    """
    if isinstance(body, Mapping) and dotted in body:
        return body[dotted]
    node = body
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
    return node


def matches(expected: Any, actual: Any) -> bool:
    """JSON equality without Python's ``True == 1``: a boolean only matches a boolean."""
    if actual is MISSING:
        return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return expected == actual
    return type(expected) is type(actual) and expected == actual


def evaluate(check: HealthCheck, body: Any) -> list[ExpectationResult]:
    results = []
    for key, expected in flatten_expectations(check.expect).items():
        actual = lookup(body, key)
        results.append(ExpectationResult(key, expected, actual, matches(expected, actual)))
    return results


async def check_health(
    check: HealthCheck, client: httpx.AsyncClient, expected_version: str | None = None
) -> HealthResult:
    """Run one health check; failures are results, never exceptions."""

    def result(ok: bool = False, **values: Any) -> HealthResult:
        return HealthResult(
            check=check.name,
            url=check.url,
            ok=ok,
            expected_version=expected_version,
            expected_status=check.expected_status,
            **values,
        )

    try:  # credentials come as headers by reference, resolved only for the request
        headers = {name: ref.resolve().reveal() for name, ref in check.headers.items()}
    except SecretUnavailable as exc:
        return result(error=f"header not sent: {exc}")
    started = time.perf_counter()
    try:
        response = await client.get(check.url, timeout=check.timeout, headers=headers or None)
    except httpx.TimeoutException as exc:
        return result(error=f"timed out after {check.timeout:g}s ({_kind(exc)})")
    except httpx.ConnectError as exc:
        return result(error=f"cannot connect: {_cause(exc)}")
    except httpx.HTTPError as exc:
        return result(error=f"request failed: {_kind(exc)}: {_cause(exc)}")
    except OSError as exc:  # a socket error httpx did not wrap
        return result(error=f"request failed: {exc.strerror or exc}")
    latency_ms = (time.perf_counter() - started) * 1000.0
    status = response.status_code
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        excerpt = response.text[:_BODY_EXCERPT].strip().replace("\n", " ")
        return result(http_status=status, latency_ms=latency_ms, error=f"response body is not JSON: {excerpt!r}")
    expectations = evaluate(check, body)
    version = None
    if check.version_key:
        raw = lookup(body, check.version_key)
        version = None if raw is MISSING or raw is None else str(raw)
    ok = (
        status == check.expected_status
        and all(e.passed for e in expectations)
        and (expected_version is None or version == expected_version)
    )
    return result(ok=ok, http_status=status, latency_ms=latency_ms, version=version, expectations=expectations)


async def check_all(
    checks: Sequence[HealthCheck],
    client: httpx.AsyncClient,
    expected_version: str | None = None,
    *,
    concurrency: int | None = None,
) -> list[HealthResult]:
    """All checks concurrently (at most ``concurrency`` in flight); results in the order of ``checks``."""
    if concurrency is None or concurrency >= len(checks):
        return list(await asyncio.gather(*(check_health(c, client, expected_version) for c in checks)))
    gate = asyncio.Semaphore(concurrency)

    async def bounded(check: HealthCheck) -> HealthResult:
        async with gate:
            return await check_health(check, client, expected_version)

    return list(await asyncio.gather(*(bounded(c) for c in checks)))


ResultsCallback = Callable[[list[HealthResult]], Awaitable[None] | None]


class HealthPoller:
    """Polls every check, one round at a time.

    The next round is armed only after the previous one finished, so a slow
    endpoint stretches the period instead of piling up overlapping requests.
    Without a ``client`` the poller makes one on first use and keeps it for every
    round (connections kept alive, the CA bundle loaded once, off the event loop);
    :meth:`aclose` closes it.
    """

    def __init__(
        self,
        checks: Iterable[HealthCheck],
        on_results: ResultsCallback,
        *,
        client: httpx.AsyncClient | None = None,
        interval: float | None = None,
        expected_version: str | None = None,
        history_length: int = HISTORY_LENGTH,
        concurrency: int = MAX_CONCURRENT_CHECKS,
    ) -> None:
        self.checks = list(checks)
        self.on_results = on_results
        self.client = client
        self.concurrency = concurrency
        self._own_client: httpx.AsyncClient | None = None
        self.interval = interval if interval is not None else min((c.interval for c in self.checks), default=5.0)
        self.expected_version = expected_version  # changes when the target release does
        self.history: dict[str, deque[float]] = {c.name: deque(maxlen=history_length) for c in self.checks}
        self.rounds = 0
        self._stopped = asyncio.Event()

    def latency_history(self) -> dict[str, list[float]]:
        return {name: list(values) for name, values in self.history.items()}

    async def _shared_client(self) -> httpx.AsyncClient:
        if self.client is not None:
            return self.client
        if self._own_client is None:
            limits = httpx.Limits(
                max_connections=self.concurrency,
                max_keepalive_connections=max(len(self.checks), 1),
                keepalive_expiry=KEEPALIVE_SECONDS,
            )
            # building a client loads the CA bundle (~30 ms of CPU): not on the UI's event loop
            self._own_client = await asyncio.to_thread(async_client, limits=limits)
        return self._own_client

    async def aclose(self) -> None:
        """Close the client the poller made (a client passed in is the caller's to close)."""
        client, self._own_client = self._own_client, None
        if client is not None:
            await client.aclose()

    async def poll_once(self) -> list[HealthResult]:
        client = await self._shared_client()
        results = await check_all(self.checks, client, self.expected_version, concurrency=self.concurrency)
        for r in results:
            if r.latency_ms is not None:
                self.history.setdefault(r.check, deque(maxlen=HISTORY_LENGTH)).append(r.latency_ms)
        self.rounds += 1
        outcome = self.on_results(results)
        if inspect.isawaitable(outcome):
            await outcome
        return results

    async def run(self, rounds: int | None = None) -> None:
        """Poll until :meth:`stop` (or ``rounds`` rounds, for tests and one-shot CLI use)."""
        self._stopped.clear()
        done = 0
        try:
            while not self._stopped.is_set():
                await self.poll_once()
                done += 1
                if rounds is not None and done >= rounds:
                    return
                try:
                    await asyncio.wait_for(self._stopped.wait(), timeout=self.interval)
                except TimeoutError:
                    pass
        finally:
            await self.aclose()

    def stop(self) -> None:
        self._stopped.set()


def _kind(exc: BaseException) -> str:
    return type(exc).__name__


def _cause(exc: BaseException) -> str:
    """The innermost message: 'Connection refused' rather than httpx's wrapper text."""
    inner: BaseException = exc
    while inner.__cause__ is not None or inner.__context__ is not None:
        inner = inner.__cause__ or inner.__context__  # type: ignore[assignment]
    if isinstance(inner, socket.gaierror):  # its errno is the resolver's (e.g. -2), not the OS's
        return f"host name not resolved ({inner.strerror or inner})"
    if isinstance(inner, OSError) and isinstance(inner.errno, int):
        # asyncio words it "Connect call failed (addr)"; the errno says *why*.
        return os.strerror(inner.errno)
    if isinstance(inner, OSError) and inner.strerror:
        return inner.strerror
    return str(inner) or str(exc) or _kind(exc)


def _show(value: Any) -> str:
    if value is MISSING:
        return "(missing)"
    return json.dumps(value) if isinstance(value, (bool, int, float, str)) or value is None else repr(value)


def _jsonable(value: Any) -> Any:
    return None if value is MISSING else value
