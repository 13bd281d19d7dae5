"""OAuth 2.0 client credentials for httpx: a service's own calls to other services.

The catalog's dashboard calls product APIs with it, a context registers its products
and sends its heartbeats to the catalog with it. One token is shared by every call
until shortly before it expires; a 401 fetches a new one and retries the call once.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncGenerator, Callable, Generator
from urllib.parse import quote_plus

import httpx

__all__ = ["ClientCredentials", "TokenUnavailable"]


class TokenUnavailable(Exception):
    """The token endpoint did not give the catalog a token."""


class ClientCredentials(httpx.Auth):
    """Bearer tokens from an OAuth 2.0 client-credentials grant (RFC 6749 §4.4).

    One token is shared by every call until ``refresh_before_s`` before it expires; a
    401 from a product API fetches a new one and retries the call once.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        refresh_before_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self._basic = base64.b64encode(
            f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
        ).decode()
        self._scope = scope
        self._refresh_before_s = refresh_before_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.tokens_fetched = 0

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("ClientCredentials works with httpx.AsyncClient only")
        yield request  # pragma: no cover

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        async with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                answer = yield self._token_request()
                # An overridden flow reads no body by itself (requires_response_body
                # applies to httpx's own flows only).
                await answer.aread()
                self._accept(answer)
            used = self._token
        request.headers["Authorization"] = f"Bearer {used}"
        response = yield request
        if response.status_code != 401:
            return
        async with self._lock:
            if self._token == used:  # nobody has refreshed it meanwhile
                answer = yield self._token_request()
                await answer.aread()
                self._accept(answer)
            used = self._token
        request.headers["Authorization"] = f"Bearer {used}"
        yield request

    def _token_request(self) -> httpx.Request:
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        return httpx.Request(
            "POST",
            self.token_url,
            data=form,
            headers={"Authorization": f"Basic {self._basic}", "Accept": "application/json"},
        )

    def _accept(self, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        token = body.get("access_token")
        if response.status_code != 200 or not isinstance(token, str) or not token:
            reason = body.get("error_description") or body.get("error") or "no access_token"
            raise TokenUnavailable(
                f"the token endpoint {self.token_url} answered {response.status_code}: {reason}"
            )
        try:
            lifetime = float(body.get("expires_in", 300))
        except (TypeError, ValueError):
            lifetime = 300.0
        self._token = token
        self._expires_at = self._clock() + max(lifetime - self._refresh_before_s, lifetime / 2)
        self.tokens_fetched += 1
