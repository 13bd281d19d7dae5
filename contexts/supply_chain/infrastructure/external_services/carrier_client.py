"""HTTP client of the external carrier tracking API.

Transport only: it fetches a tracking as JSON, and knows nothing of its meaning (the
ACL in ``infrastructure.acl.carrier`` does). What it adds over a bare httpx client:

- the base URL and API key from ``SUPPLY_CHAIN_CARRIER_*`` settings, bounded timeouts;
- retries with exponential backoff (capped, with a little jitter) on what is worth
  retrying: connection errors, timeouts, 5xx and 429 (honouring a numeric
  ``Retry-After`` up to the cap); GET is safe to repeat;
- errors that say what went wrong: :class:`CarrierUnavailable` once the retries are
  spent, :class:`CarrierRequestRejected` for a 4xx (no retry: asking again will not
  help), :class:`MalformedTrackingPayload` when the body is not JSON. A 404 is not an
  error: the carrier does not know the tracking number (yet), and ``None`` says so.

The carrier API, as this client speaks it: ``GET {api_url}/v1/trackings/{number}``
with the key in the ``X-Api-Key`` header.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contexts.supply_chain.application.tracking import CarrierTrackingError

__all__ = [
    "API_KEY_HEADER",
    "CarrierClient",
    "CarrierRequestRejected",
    "CarrierSettings",
    "CarrierUnavailable",
    "MalformedTrackingPayload",
    "RetryPolicy",
]

API_KEY_HEADER = "X-Api-Key"
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class CarrierSettings(BaseSettings):
    """``SUPPLY_CHAIN_CARRIER_API_URL`` turns tracking on (unset: no tracking);
    ``SUPPLY_CHAIN_CARRIER_API_KEY``, ``..._TIMEOUT_S``, ``..._ATTEMPTS``,
    ``..._BACKOFF_S``, ``..._MAX_BACKOFF_S`` and ``..._POLL_INTERVAL_S`` tune it."""

    model_config = SettingsConfigDict(env_prefix="SUPPLY_CHAIN_CARRIER_", extra="ignore")

    api_url: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = Field(default=5.0, gt=0)
    connect_timeout_s: float = Field(default=2.0, gt=0)
    attempts: int = Field(default=4, ge=1, le=10)
    backoff_s: float = Field(default=0.25, ge=0)
    max_backoff_s: float = Field(default=5.0, ge=0)
    poll_interval_s: float = Field(default=30.0, gt=0)

    @property
    def enabled(self) -> bool:
        return bool(self.api_url)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            attempts=self.attempts, backoff_s=self.backoff_s, max_backoff_s=self.max_backoff_s
        )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` tries in all; before retry ``n`` (from 1) wait
    ``backoff_s * 2 ** (n - 1)``, at most ``max_backoff_s``, give or take ``jitter``
    (a fraction) so that clients that failed together do not retry together."""

    attempts: int = 4
    backoff_s: float = 0.25
    max_backoff_s: float = 5.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.backoff_s < 0 or self.max_backoff_s < 0 or not 0 <= self.jitter < 1:
            raise ValueError("backoff must not be negative and jitter must be in [0, 1)")

    def delay(self, retry: int, rng: random.Random, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff_s)
        base: float = min(self.backoff_s * 2.0 ** (retry - 1), self.max_backoff_s)
        return base * (1 + self.jitter * (2 * rng.random() - 1))


class CarrierUnavailable(CarrierTrackingError):
    """The carrier did not answer usefully in ``attempts`` tries."""

    def __init__(self, tracking_number: str, attempts: int, cause: str) -> None:
        super().__init__(
            f"carrier tracking API unavailable for {tracking_number!r} after {attempts} "
            f"attempt(s); last: {cause}"
        )
        self.tracking_number = tracking_number
        self.attempts = attempts
        self.cause = cause


class CarrierRequestRejected(CarrierTrackingError):
    """The carrier refused the request (4xx other than 404 and 429)."""

    def __init__(self, tracking_number: str, status_code: int, detail: str) -> None:
        hint = " (check SUPPLY_CHAIN_CARRIER_API_KEY)" if status_code in (401, 403) else ""
        super().__init__(
            f"carrier refused the tracking request for {tracking_number!r}: "
            f"{status_code} {detail}{hint}"
        )
        self.tracking_number = tracking_number
        self.status_code = status_code


class MalformedTrackingPayload(CarrierTrackingError):
    """The carrier answered, but not with a tracking we can read."""


Sleep = Callable[[float], Awaitable[None]]


class CarrierClient:
    """Fetches trackings from the carrier; owns its httpx client (close it, or use
    ``async with``). ``sleep`` and ``rng`` are injectable so that backoff can be
    checked without waiting."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._http = http
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()

    @classmethod
    def from_settings(
        cls,
        settings: CarrierSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> CarrierClient:
        """A client for ``settings.api_url``; ``transport`` replaces the network (tests,
        or an in-process carrier)."""
        if not settings.api_url:
            raise ValueError("SUPPLY_CHAIN_CARRIER_API_URL is not set: carrier tracking is off")
        headers = {"Accept": "application/json"}
        if settings.api_key is not None:
            headers[API_KEY_HEADER] = settings.api_key.get_secret_value()
        http = httpx.AsyncClient(
            base_url=settings.api_url,
            headers=headers,
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            transport=transport,
        )
        return cls(http, retry=settings.retry_policy(), sleep=sleep, rng=rng)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def tracking(self, tracking_number: str) -> Any | None:
        """The carrier's tracking of ``tracking_number`` as decoded JSON; None on 404."""
        path = f"/v1/trackings/{quote(tracking_number, safe='')}"
        cause = ""
        for attempt in range(1, self._retry.attempts + 1):
            retry_after: float | None = None
            try:
                response = await self._http.get(path)
            except httpx.TransportError as exc:  # connection errors and timeouts
                cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if response.status_code == 404:
                    return None
                if response.is_success:
                    return _decoded(tracking_number, response)
                if response.status_code not in RETRYABLE_STATUSES:
                    raise CarrierRequestRejected(
                        tracking_number, response.status_code, response.reason_phrase
                    )
                cause = f"HTTP {response.status_code} {response.reason_phrase}"
                retry_after = _retry_after(response)
            if attempt < self._retry.attempts:
                await self._sleep(self._retry.delay(attempt, self._rng, retry_after))
        raise CarrierUnavailable(tracking_number, self._retry.attempts, cause)


def _decoded(tracking_number: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedTrackingPayload(
            f"carrier answered {tracking_number!r} with a body that is not JSON "
            f"({response.headers.get('content-type', 'no content type')}): {exc}"
        ) from None


def _retry_after(response: httpx.Response) -> float | None:
    """A ``Retry-After`` in seconds; an HTTP date is left to the backoff."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
