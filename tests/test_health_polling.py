"""The poller's HTTP client and load: one client for every round, a bounded number of requests in flight."""

from __future__ import annotations

import httpx
import pytest

from console.config import HealthCheck
from console.live import health
from console.live.health import HealthPoller, check_all
from tests._http_support import JSONServer

PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture
def server(monkeypatch):
    for name in PROXY_VARIABLES:  # the poller's own client trusts the environment: keep it on loopback
        monkeypatch.delenv(name, raising=False)
    with JSONServer() as http:
        http.answer("/ok", 200, {"status": "ok"})
        http.answer("/slow", 200, {"status": "ok"}, delay=0.2)
        yield http.base_url


def checks(url: str, count: int) -> list[HealthCheck]:
    return [HealthCheck(name=f"c{i}", url=url, expect={"status": "ok"}) for i in range(count)]


async def test_the_poller_makes_one_client_for_all_rounds_and_closes_it(server, monkeypatch):
    made: list[httpx.AsyncClient] = []

    class CountingClient(httpx.AsyncClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(health.httpx, "AsyncClient", CountingClient)
    rounds = []
    poller = HealthPoller(checks(f"{server}/ok", 3), rounds.append, interval=0.0)
    await poller.run(rounds=4)
    assert len(rounds) == 4 and all(r.ok for results in rounds for r in results)
    assert len(made) == 1
    assert made[0].is_closed


async def test_check_all_keeps_at_most_concurrency_requests_in_flight(server):
    in_flight = max_in_flight = 0

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
        results = await check_all(checks(f"{server}/slow", 9), client, concurrency=3)
    assert [r.check for r in results] == [f"c{i}" for i in range(9)]
    assert all(r.ok for r in results)
    assert max_in_flight == 3
