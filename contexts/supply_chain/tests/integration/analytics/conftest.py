"""The analytics read store on a real database, and the products' REST API over it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from contexts.supply_chain.infrastructure.analytics import AnalyticsReadStore
from contexts.supply_chain.interfaces.api.analytics import analytics_router
from shared_kernel.interfaces.app import create_api


@pytest.fixture
async def read_store(database_url: str) -> AsyncIterator[AnalyticsReadStore]:
    """An empty read store in the fresh database of ``database_url``."""
    store = AnalyticsReadStore(database_url)
    await store.create_all()
    try:
        yield store
    finally:
        await store.dispose()


@pytest.fixture
async def products_api(read_store: AnalyticsReadStore) -> AsyncIterator[httpx.AsyncClient]:
    """A small app serving only the data products, as the context's API mounts them."""
    app = create_api(
        title="supply chain data products",
        description="analytics read store",
        routers=[analytics_router(lambda: read_store)],
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
