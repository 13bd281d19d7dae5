"""A client of the catalog for platform code: register, report, search and resolve.

Contexts register through ``shared_kernel.infrastructure.catalog_registration`` (they
never import the platform); this client reuses it, so both send the same documents the
same way, and adds the reads a platform tool or a consumer needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from shared_kernel.infrastructure import catalog_registration
from shared_kernel.infrastructure.catalog_registration import (
    CatalogError,
    CatalogRejected,
    CatalogUnavailable,
    build_registrations,
    send_heartbeat,
)

__all__ = [
    "CatalogClient",
    "CatalogError",
    "CatalogRejected",
    "CatalogUnavailable",
    "build_registrations",
    "register_products",
    "send_heartbeat",
]


async def register_products(
    catalog_url: str,
    registration: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    attempts: int = 5,
    backoff_s: float = 0.5,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[str]:
    """Register one document or several, retrying while the catalog is unreachable."""
    documents = [registration] if isinstance(registration, Mapping) else list(registration)
    return await catalog_registration.register_products(
        catalog_url, documents, attempts=attempts, backoff_s=backoff_s, transport=transport
    )


class CatalogClient:
    """Reads of the catalog API; raises ``httpx.HTTPStatusError`` on an error answer."""

    def __init__(
        self,
        catalog_url: str,
        *,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=catalog_url, timeout=timeout_s, transport=transport
        )

    async def __aenter__(self) -> CatalogClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def resolve(self, urn: str) -> dict[str, Any]:
        """A product's ports, schemas, contracts, owner and SLOs."""
        return await self._get(f"/api/v1/products/{urn}")

    async def search(
        self,
        q: str | None = None,
        *,
        domain: str | None = None,
        owner: str | None = None,
        tag: str | None = None,
    ) -> list[dict[str, Any]]:
        criteria = {"q": q, "domain": domain, "owner": owner, "tag": tag}
        page = await self._get(
            "/api/v1/products", params={k: v for k, v in criteria.items() if v is not None}
        )
        return list(page["items"])

    async def lineage(self) -> dict[str, Any]:
        return await self._get("/api/v1/lineage")

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        response = await self._client.get(path, params=params)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body
