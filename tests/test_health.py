"""Health checks against a real HTTP server on 127.0.0.1 (an ephemeral port, in a thread)."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest

from console.config import HealthCheck
from console.live.health import MISSING, HealthPoller, check_all, check_health, flatten_expectations, lookup, matches
from tests._http_support import JSONServer
from tests._waiting import wait_for

ROUTES = {
    "/ok": (200, {"status": "ok", "version": "v1", "db": {"ok": True}}),
    "/broken": (500, {"status": "error", "version": "v2"}),
    "/degraded": (200, {"status": "degraded", "version": "v2", "db": {"ok": False}}),
    "/badjson": (200, "<html>502 Bad Gateway</html>"),
    "/intversion": (200, {"status": "ok", "version": 3}),
}


@pytest.fixture(scope="module")
def server():
    with JSONServer() as http:
        for path, (status, body) in ROUTES.items():
            http.answer(path, status, body)
        http.answer("/slow", 200, {"status": "ok"}, delay=1.0)
        yield http.base_url


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(url: str, **kw) -> HealthCheck:
    kw.setdefault("expect", {"status": "ok"})
    return HealthCheck(name=kw.pop("name", "backend"), url=url, **kw)


async def run(hc: HealthCheck, expected_version: str | None = None):
    # trust_env=False: a proxy from the environment must never carry test traffic off this host.
    async with httpx.AsyncClient(trust_env=False) as client:
        return await check_health(hc, client, expected_version)


@pytest.mark.asyncio
async def test_healthy_endpoint_passes_with_version_and_expectations(server):
    r = await run(check(f"{server}/ok", expect={"status": "ok", "db.ok": True}), "v1")
    assert r.ok, r.reason
    assert r.http_status == 200 and r.version == "v1" and r.version_ok is True
    assert [(e.key, e.expected, e.actual, e.passed) for e in r.expectations] == [
        ("status", "ok", "ok", True),
        ("db.ok", True, True, True),
    ]
    assert r.error is None and r.latency_ms is not None and r.latency_ms > 0
    assert r.reason == ""


@pytest.mark.asyncio
async def test_nested_toml_table_means_the_same_dotted_key(server):
    r = await run(check(f"{server}/degraded", expect={"db": {"ok": True}}))
    assert not r.ok
    assert r.expectations == [("db.ok", True, False, False)]
    assert "db.ok=false (expected true) FAIL" in r.reason


@pytest.mark.asyncio
async def test_http_500_fails_but_still_reports_version(server):
    r = await run(check(f"{server}/broken"), "v1")
    assert not r.ok and r.http_status == 500 and r.error is None
    assert r.version == "v2" and r.version_ok is False
    assert r.reason == "HTTP 500, expected 200"
    assert r.expectations[0] == ("status", "ok", "error", False)


@pytest.mark.asyncio
async def test_expected_status_other_than_200(server):
    r = await run(check(f"{server}/broken", expected_status=500, expect={}))
    assert r.ok


@pytest.mark.asyncio
async def test_body_that_is_not_json_is_an_error_result(server):
    r = await run(check(f"{server}/badjson"))
    assert not r.ok and r.http_status == 200
    assert r.error.startswith("response body is not JSON") and "502 Bad Gateway" in r.error
    assert r.reason == r.error


@pytest.mark.asyncio
async def test_wrong_version_fails_only_when_a_version_is_expected(server):
    assert (await run(check(f"{server}/degraded", expect={}))).ok
    r = await run(check(f"{server}/degraded", expect={}), "v1")
    assert not r.ok and r.version == "v2"
    assert r.reason == "version v2, expected v1"


@pytest.mark.asyncio
async def test_numeric_version_compared_as_text(server):
    r = await run(check(f"{server}/intversion"), "3")
    assert r.ok and r.version == "3"


@pytest.mark.asyncio
async def test_missing_version_key_with_expected_version_fails(server):
    r = await run(check(f"{server}/ok", version_key="build.sha", expect={}), "v1")
    assert not r.ok and r.version is None
    assert r.reason == "version (missing), expected v1"


@pytest.mark.asyncio
async def test_timeout_is_a_result_not_an_exception(server):
    started = time.perf_counter()
    r = await run(check(f"{server}/slow", timeout=0.2))
    assert time.perf_counter() - started < 0.9
    assert not r.ok and r.http_status is None and r.latency_ms is None
    assert r.error.startswith("timed out after 0.2s")


@pytest.mark.asyncio
async def test_connection_refused_is_a_result_not_an_exception():
    r = await run(check(f"http://127.0.0.1:{_closed_port()}/health"))
    assert not r.ok and r.http_status is None
    assert r.error.startswith("cannot connect") and "refused" in r.error.lower()
    assert r.reason == r.error


@pytest.mark.asyncio
async def test_an_unresolvable_host_name_is_said_so():
    class Unresolvable(httpx.AsyncBaseTransport):  # what the resolver answers: no DNS query leaves
        async def handle_async_request(self, request):
            try:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            except socket.gaierror as exc:
                raise httpx.ConnectError("[Errno -2] Name or service not known") from exc

    async with httpx.AsyncClient(trust_env=False, transport=Unresolvable()) as client:
        r = await check_health(check("http://vps.invalid/health"), client)
    assert r.error == "cannot connect: host name not resolved (Name or service not known)"


@pytest.mark.asyncio
async def test_check_all_keeps_order_and_runs_concurrently(server):
    checks = [
        check(f"{server}/slow", name="slow", timeout=2.0),
        check(f"{server}/slow", name="slow2", timeout=2.0),
        check(f"{server}/ok", name="ok"),
    ]
    started = time.perf_counter()
    async with httpx.AsyncClient(trust_env=False) as client:
        results = await check_all(checks, client)
    assert time.perf_counter() - started < 1.9  # two 1 s requests overlapped
    assert [r.check for r in results] == ["slow", "slow2", "ok"]
    assert all(r.ok for r in results)


@pytest.mark.asyncio
async def test_poller_never_overlaps_rounds_and_bounds_history(server):
    in_flight = 0
    max_in_flight = 0
    rounds: list[list] = []

    async def on_results(results):
        rounds.append(results)

    class CountingTransport(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request):
            nonlocal in_flight, max_in_flight
            in_flight += 1
            max_in_flight = max(max_in_flight, in_flight)
            try:
                return await super().handle_async_request(request)
            finally:
                in_flight -= 1

    async with httpx.AsyncClient(trust_env=False, transport=CountingTransport()) as client:
        poller = HealthPoller(
            [check(f"{server}/ok", interval=0.0)], on_results, client=client, interval=0.0, history_length=5
        )
        await poller.run(rounds=8)
    assert len(rounds) == 8 and poller.rounds == 8
    assert max_in_flight == 1
    assert len(poller.history["backend"]) == 5  # bounded
    assert poller.latency_history()["backend"] == list(poller.history["backend"])


@pytest.mark.asyncio
async def test_poller_stop_ends_the_wait_and_sync_callbacks_work(server):
    seen = []
    async with httpx.AsyncClient(trust_env=False) as client:
        poller = HealthPoller([check(f"{server}/ok")], seen.append, client=client, interval=30)
        task = asyncio.create_task(poller.run())
        await wait_for(lambda: seen, 5, "the first round")
        poller.stop()
        await asyncio.wait_for(task, timeout=2)
    assert seen[0][0].ok


@pytest.mark.asyncio
async def test_to_dict_is_json_serialisable(server):
    r = await run(check(f"{server}/ok", expect={"missing.key": 1}))
    data = json.loads(json.dumps(r.to_dict()))
    assert data["expectations"] == [{"key": "missing.key", "expected": 1, "actual": None, "passed": False}]


def test_lookup_and_matching_rules():
    body = {"a": {"b": [10, {"c": "x"}]}, "d.e": 1}
    assert lookup(body, "a.b.1.c") == "x"
    assert lookup(body, "d.e") == 1
    assert lookup(body, "a.z") is MISSING
    assert not matches(True, 1) and not matches(1, True)
    assert matches(1, 1.0) and not matches("1", 1)
    assert flatten_expectations({"a": {"b": 1}, "c.d": 2}) == {"a.b": 1, "c.d": 2}
