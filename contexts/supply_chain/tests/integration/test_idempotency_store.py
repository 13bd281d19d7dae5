"""Idempotency keys are claimed in the command's own transaction: stored with its
effect, or not at all."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from contexts.supply_chain.application.commands.inventory import ReceiveStock
from contexts.supply_chain.bootstrap import SupplyChainContainer
from contexts.supply_chain.infrastructure.persistence.idempotency import SqlIdempotencyStore
from contexts.supply_chain.infrastructure.persistence.tables import inventory_items
from contexts.supply_chain.tests.scenario import catalog, run
from shared_kernel.domain import BusinessRuleViolation, Conflict

pytestmark = pytest.mark.integration

RECEIVE = ReceiveStock(warehouse="LYS-1", sku="KD-HUB-200", quantity=Decimal(5))


@pytest.fixture
async def seeded(migrated: SupplyChainContainer, pinned_clock: Any) -> SupplyChainContainer:
    await run(migrated.message_bus(), pinned_clock, catalog())
    return migrated


def bus_claiming(container: SupplyChainContainer, key: str, request_hash: str) -> Any:
    store: SqlIdempotencyStore = container.idempotency_store()
    bus = container.message_bus()
    bus.uow.add_before_commit(store.claim(key, request_hash))
    return bus


async def items(container: SupplyChainContainer) -> int:
    async with container.engine().connect() as connection:
        return (
            await connection.execute(select(func.count()).select_from(inventory_items))
        ).scalar_one()


async def test_a_key_is_claimed_with_the_commands_effect_then_answered(
    seeded: SupplyChainContainer,
) -> None:
    store = seeded.idempotency_store()
    await bus_claiming(seeded, "k-1", "hash-1").handle(RECEIVE)

    claimed = await store.find("k-1")
    assert claimed is not None
    assert (claimed.request_hash, claimed.status_code) == ("hash-1", None)

    await store.save("k-1", "hash-1", 200, {"etag": '"1"'}, b'{"on_hand": "5"}')
    answered = await store.find("k-1")
    assert answered is not None
    assert (answered.status_code, dict(answered.headers), answered.body) == (
        200,
        {"etag": '"1"'},
        b'{"on_hand": "5"}',
    )


async def test_a_refused_command_claims_nothing(seeded: SupplyChainContainer) -> None:
    too_much = ReceiveStock(warehouse="HAM-2", sku="KD-HUB-200", quantity=Decimal(51))
    with pytest.raises(BusinessRuleViolation):
        await bus_claiming(seeded, "k-2", "hash-2").handle(too_much)
    assert await seeded.idempotency_store().find("k-2") is None


async def test_of_two_commands_with_one_key_only_the_first_takes_effect(
    seeded: SupplyChainContainer,
) -> None:
    first = bus_claiming(seeded, "k-3", "hash-3")
    second = bus_claiming(seeded, "k-3", "hash-3")
    await first.handle(RECEIVE)

    with pytest.raises(Conflict):
        await second.handle(ReceiveStock(warehouse="HAM-2", sku="KD-CAM-10", quantity=Decimal(1)))

    assert await items(seeded) == 1  # the second command's item was rolled back


async def test_a_response_without_a_claim_is_recorded_once(seeded: SupplyChainContainer) -> None:
    store = seeded.idempotency_store()
    await store.save("k-4", "hash-4", 200, {}, b"first")
    await store.save("k-4", "hash-4", 201, {}, b"second")
    recorded = await store.find("k-4")
    assert recorded is not None
    assert (recorded.status_code, recorded.body) == (200, b"first")


async def test_a_claim_is_inserted_once_however_often_the_unit_of_work_commits(
    seeded: SupplyChainContainer,
) -> None:
    """Event handlers may commit again on the request's unit of work."""
    bus = bus_claiming(seeded, "k-5", "hash-5")
    await bus.handle(RECEIVE)
    await bus.handle(ReceiveStock(warehouse="LYS-1", sku="KD-HUB-200", quantity=Decimal(1)))
    assert await seeded.idempotency_store().find("k-5") is not None


async def test_keys_older_than_the_retention_are_forgotten(seeded: SupplyChainContainer) -> None:
    store = seeded.idempotency_store()
    await store.save("old", "hash-old", 200, {}, b"{}")
    horizon = datetime.now(UTC)  # "old" was recorded before it, "new" after
    await store.save("new", "hash-new", 200, {}, b"{}")

    assert await store.expire(horizon) == 1
    assert await store.find("old") is None
    assert await store.find("new") is not None
