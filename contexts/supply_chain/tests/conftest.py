"""Fixtures for the supply chain's integration and API tests: the context's real
container and app, bound to the fresh database of ``database_url`` (SQLite, and
PostgreSQL when ``TEST_DATABASE_URL`` or Docker provides one).

Only two providers are overridden: the settings (which database) and the clock
(pinned, so dates in assertions are known).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from dependency_injector import providers
from fastapi import FastAPI

from contexts.supply_chain.bootstrap import SupplyChainContainer, create_app
from contexts.supply_chain.infrastructure.persistence.migrations import upgrade_database
from contexts.supply_chain.infrastructure.settings import SupplyChainSettings
from contexts.supply_chain.tests.fakes import FixedClock

#: The pinned "now" of integration and API tests: Monday 3 March 2025, 09:00 UTC.
NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def pinned_clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
async def container(
    database_url: str, pinned_clock: FixedClock, tmp_path: Path
) -> AsyncIterator[SupplyChainContainer]:
    """The context's container on an empty database (not migrated), its read store and
    snapshots in the test's own folder."""
    settings = SupplyChainSettings(
        database_url=database_url,
        analytics_database_url=f"sqlite+aiosqlite:///{tmp_path / 'analytics.db'}",
        snapshot_dir=str(tmp_path / "snapshots"),
        migrate_on_startup=True,
    )
    container = SupplyChainContainer(
        settings=providers.Object(settings), clock=providers.Object(pinned_clock)
    )
    yield container
    await container.engine().dispose()


@pytest.fixture
async def migrated(container: SupplyChainContainer) -> SupplyChainContainer:
    """The container, its database migrated to head."""
    await upgrade_database(container.engine())
    return container


@pytest.fixture
async def app(container: SupplyChainContainer) -> AsyncIterator[FastAPI]:
    """The real app, started: its lifespan migrates the database (and disposes the
    engine at the end)."""
    app = create_app(container)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
