"""What the Prometheus and Alertmanager clients share: one HTTP request with the same error rules.

A timeout or a connection failure says the server is unreachable; header values are secrets,
revealed only for the request; the URL is never repeated in an error. httpx is imported when the
first request is made, so loading the config and the first paint stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from console.http_clients import async_client
from console.secrets import Secret

if TYPE_CHECKING:
    import httpx


class ApiError(Exception):
    """The server could not answer; ``unreachable``: the server (not the request) is the problem."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


class ApiClient:
    """``Client(url, headers)``; ``headers`` values are :class:`Secret` (resolved references)."""

    NAME: ClassVar[str] = "the server"
    ERROR: ClassVar[type[ApiError]] = ApiError

    def __init__(
        self,
        url: str,
        headers: dict[str, Secret] | None = None,
        *,
        timeout: float = 5.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._headers = dict(headers or {})
        self.timeout = timeout
        self._client = client

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        headers = {name: value.reveal() for name, value in self._headers.items()}
        client = self._client or async_client(trust_env=False, follow_redirects=False)
        try:
            return await client.request(method, self.url + path, headers=headers, timeout=self.timeout, **kwargs)
        except httpx.TimeoutException:
            raise self.ERROR(f"{self.NAME} did not answer within {self.timeout:g}s", unreachable=True) from None
        except httpx.HTTPError as exc:
            raise self.ERROR(f"{self.NAME} is unreachable ({type(exc).__name__})", unreachable=True) from None
        finally:
            if self._client is None:
                await client.aclose()
