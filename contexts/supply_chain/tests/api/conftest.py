"""API tests run the real app (``create_app``) on a real database through httpx.

The context's mapping is on while these tests run, and undone after them, so the
use-case tests elsewhere keep working with plain domain classes.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from contexts.supply_chain.bootstrap import SupplyChainContainer
from contexts.supply_chain.infrastructure.persistence.orm import clear_mappers, start_mappers
from contexts.supply_chain.tests import scenario


@pytest.fixture(scope="package", autouse=True)
def mapped_domain() -> Iterator[None]:
    start_mappers()
    yield
    clear_mappers()


@pytest.fixture
async def catalog(client: httpx.AsyncClient, container: SupplyChainContainer) -> httpx.AsyncClient:
    """The client, once the catalog holds two warehouses (LYS-1 holds 1000, HAM-2
    holds 50), suppliers ACME and BOLT, SKUs KD-HUB-200 (from ACME at 18 EUR),
    KD-CAM-10 (no sourcing) and KD-RESIN (in kg). Registered through the context's
    message bus: registration over HTTP has tests of its own."""
    bus = container.message_bus()
    for command in scenario.catalog():
        await bus.handle(command)
    return client
