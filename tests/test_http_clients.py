"""console.http_clients: one TLS context per process (and per trust_env), shared by every client."""

from __future__ import annotations

import ssl

import httpx

from console.http_clients import async_client, shared_tls


async def test_clients_share_one_tls_context_per_trust_env(monkeypatch):
    built: list[bool] = []
    real = httpx.create_ssl_context

    def counting(*args, **kwargs):
        built.append(kwargs.get("trust_env", True))
        return real(*args, **kwargs)

    shared_tls.cache_clear()
    monkeypatch.setattr(httpx, "create_ssl_context", counting)
    try:
        clients = [
            async_client(),
            async_client(timeout=3),
            async_client(trust_env=False),
            async_client(trust_env=False),
        ]
        assert sorted(built) == [False, True]  # built once for each trust_env, not once per client
        assert shared_tls(True) is shared_tls(True) and shared_tls(False) is not shared_tls(True)
        assert all(isinstance(shared_tls(t), ssl.SSLContext) for t in (True, False))
        for client in clients:
            await client.aclose()
    finally:
        shared_tls.cache_clear()


async def test_a_given_verify_is_kept():
    shared_tls.cache_clear()
    client = async_client(verify=False)
    await client.aclose()
    assert shared_tls.cache_info().misses == 0  # the shared context was never asked for
