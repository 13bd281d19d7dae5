from decimal import Decimal

import pytest

from contexts.supply_chain.application import AggregateRef
from contexts.supply_chain.application.commands.inventory import (
    AdjustStock,
    ReceiveStock,
    ReleaseReservation,
    ReserveStock,
    ShipStock,
    TransferStock,
)
from contexts.supply_chain.domain import (
    AdjustmentReason,
    InventoryItem,
    InventoryItemId,
    ReservationRef,
)
from contexts.supply_chain.domain.inventory.events import (
    StockAdjusted,
    StockReceived,
    StockShipped,
    StockTransferred,
)
from contexts.supply_chain.tests.fakes import FakeUnitOfWork, events_of
from contexts.supply_chain.tests.unit.examples import HUB, T0, W1, W2
from shared_kernel.domain import BusinessRuleViolation, ConcurrencyConflict, NotFound

pytestmark = pytest.mark.usefixtures("catalog")


def stock(database, warehouse="LYS-1", sku="KD-HUB-200") -> tuple[int, int, int] | None:
    item = database.table(InventoryItem).get(InventoryItemId(f"{warehouse}:{sku}"))
    if item is None:
        return None
    return int(item.on_hand.amount), int(item.reserved.amount), int(item.available.amount)


def receive(amount: int, warehouse: str = "LYS-1", sku: str = "KD-HUB-200") -> ReceiveStock:
    return ReceiveStock(warehouse=warehouse, sku=sku, quantity=Decimal(amount))


async def test_the_first_receipt_starts_the_item(bus, database):
    result = await bus.handle(receive(40))

    assert result == AggregateRef("LYS-1:KD-HUB-200", 1)
    assert stock(database) == (40, 0, 40)
    [event] = database.events
    assert isinstance(event, StockReceived)
    assert event.occurred_at == T0


async def test_later_receipts_add_up(bus, database):
    await bus.handle(receive(40))
    result = await bus.handle(receive(2))

    assert result.version == 2
    assert stock(database) == (42, 0, 42)


async def test_the_quantity_takes_the_sku_unit(bus, database):
    await bus.handle(receive(12, sku="KD-RESIN"))

    assert database.table(InventoryItem)[InventoryItemId(f"{W1}:KD-RESIN")].on_hand.unit == "kg"


@pytest.mark.parametrize(
    ("warehouse", "sku"), [("NOPE", "KD-HUB-200"), ("LYS-1", "NOPE")], ids=["warehouse", "sku"]
)
async def test_receiving_needs_a_registered_warehouse_and_sku(bus, database, warehouse, sku):
    with pytest.raises(NotFound):
        await bus.handle(receive(1, warehouse=warehouse, sku=sku))

    assert database.events == []


async def test_a_receipt_beyond_the_warehouse_capacity_is_refused_and_nothing_is_stored(
    bus, database
):
    await bus.handle(receive(30, warehouse="HAM-2"))
    await bus.handle(receive(15, warehouse="HAM-2", sku="KD-CAM-10"))

    with pytest.raises(BusinessRuleViolation) as refused:
        await bus.handle(receive(6, warehouse="HAM-2"))

    assert refused.value.rule == "warehouse_capacity_exceeded"
    assert stock(database, "HAM-2") == (30, 0, 30)
    assert len(database.events) == 2


async def test_capacity_ignores_stock_counted_in_other_units(bus, database):
    await bus.handle(receive(50, warehouse="HAM-2"))

    await bus.handle(receive(500, warehouse="HAM-2", sku="KD-RESIN"))

    assert stock(database, "HAM-2", "KD-RESIN") == (500, 0, 500)


async def test_reserve_ship_and_release_against_one_order(bus, database):
    await bus.handle(receive(40))

    await bus.handle(
        ReserveStock(warehouse="LYS-1", sku="KD-HUB-200", reference="SO-1", quantity=Decimal(10))
    )
    await bus.handle(
        ShipStock(warehouse="LYS-1", sku="KD-HUB-200", reference="SO-1", quantity=Decimal(6))
    )
    assert stock(database) == (34, 4, 30)
    await bus.handle(ReleaseReservation(warehouse="LYS-1", sku="KD-HUB-200", reference="SO-1"))

    assert stock(database) == (34, 0, 34)
    [shipped] = events_of(database, StockShipped)
    assert (shipped.reference, shipped.quantity) == ("SO-1", 6)


async def test_moving_stock_that_was_never_received_is_not_found(bus):
    with pytest.raises(NotFound):
        await bus.handle(
            ReserveStock(warehouse="LYS-1", sku="KD-HUB-200", reference="SO-1", quantity=Decimal(1))
        )


async def test_a_refused_reservation_stores_nothing(bus, database):
    await bus.handle(receive(5))

    with pytest.raises(BusinessRuleViolation):
        await bus.handle(
            ReserveStock(warehouse="LYS-1", sku="KD-HUB-200", reference="SO-1", quantity=Decimal(6))
        )

    assert stock(database) == (5, 0, 5)
    assert database.table(InventoryItem)[InventoryItemId.of(W1, HUB)].version == 1


async def test_a_count_adjusts_on_hand(bus, database):
    await bus.handle(receive(40))

    await bus.handle(
        AdjustStock(
            warehouse="LYS-1", sku="KD-HUB-200", counted=Decimal(37), reason=AdjustmentReason.LOST
        )
    )

    assert stock(database) == (37, 0, 37)
    [adjusted] = events_of(database, StockAdjusted)
    assert adjusted.difference == -3


async def test_a_stale_expected_version_is_a_concurrency_conflict(bus, database):
    await bus.handle(receive(40))
    await bus.handle(receive(1))

    with pytest.raises(ConcurrencyConflict) as conflict:
        await bus.handle(
            ReserveStock(
                warehouse="LYS-1",
                sku="KD-HUB-200",
                reference="SO-1",
                quantity=Decimal(1),
                expected_version=1,
            )
        )

    assert (conflict.value.expected, conflict.value.actual) == (1, 2)
    assert stock(database) == (41, 0, 41)


async def test_the_current_expected_version_passes(bus, database):
    await bus.handle(receive(40))

    result = await bus.handle(
        ReserveStock(
            warehouse="LYS-1",
            sku="KD-HUB-200",
            reference="SO-1",
            quantity=Decimal(1),
            expected_version=1,
        )
    )

    assert result.version == 2


async def test_expecting_version_zero_means_expecting_no_stock_yet(bus, database):
    await bus.handle(
        ReceiveStock(warehouse="LYS-1", sku="KD-HUB-200", quantity=Decimal(1), expected_version=0)
    )

    with pytest.raises(ConcurrencyConflict):
        await bus.handle(
            ReceiveStock(
                warehouse="LYS-1", sku="KD-HUB-200", quantity=Decimal(1), expected_version=0
            )
        )


async def test_two_writers_of_the_same_item_cannot_both_commit(bus, database):
    await bus.handle(receive(10))
    slow = FakeUnitOfWork(database)

    async with slow:
        item = await slow.inventory.get(W1, HUB)
        assert item is not None
        item.reserve(ReservationRef("SO-1"), item.on_hand, at=T0)
        await bus.handle(
            ReserveStock(
                warehouse="LYS-1", sku="KD-HUB-200", reference="SO-2", quantity=Decimal(10)
            )
        )
        with pytest.raises(ConcurrencyConflict):
            await slow.commit()

    assert stock(database) == (10, 10, 0)
    assert database.table(InventoryItem)[InventoryItemId.of(W1, HUB)].reservation(
        ReservationRef("SO-2")
    )


async def test_a_transfer_moves_stock_between_warehouses_in_one_transaction(bus, database, uow):
    await bus.handle(receive(40))
    commits = uow.commits

    result = await bus.handle(
        TransferStock(
            warehouse="LYS-1",
            sku="KD-HUB-200",
            destination="HAM-2",
            quantity=Decimal(15),
            transfer_id="TR-1",
        )
    )

    assert uow.commits == commits + 1
    assert result == AggregateRef("LYS-1:KD-HUB-200", 2)
    assert stock(database) == (25, 0, 25)
    assert stock(database, "HAM-2") == (15, 0, 15)
    [out] = events_of(database, StockTransferred)
    into = events_of(database, StockReceived)[-1]
    assert (out.transfer_id, out.destination_warehouse) == ("TR-1", "HAM-2")
    assert (into.reference, into.source_warehouse, into.warehouse) == ("TR-1", "LYS-1", "HAM-2")


async def test_a_transfer_the_destination_cannot_hold_changes_nothing(bus, database):
    await bus.handle(receive(60))
    events = len(database.events)

    with pytest.raises(BusinessRuleViolation) as refused:
        await bus.handle(
            TransferStock(
                warehouse="LYS-1", sku="KD-HUB-200", destination="HAM-2", quantity=Decimal(51)
            )
        )

    assert refused.value.rule == "warehouse_capacity_exceeded"
    assert stock(database) == (60, 0, 60)
    assert stock(database, "HAM-2") is None
    assert len(database.events) == events


async def test_a_transfer_to_an_unknown_warehouse_changes_nothing(bus, database):
    await bus.handle(receive(60))

    with pytest.raises(NotFound):
        await bus.handle(
            TransferStock(
                warehouse="LYS-1", sku="KD-HUB-200", destination="NOPE", quantity=Decimal(5)
            )
        )

    assert stock(database) == (60, 0, 60)


async def test_a_transfer_without_id_gets_one(bus, database):
    await bus.handle(receive(10))

    await bus.handle(
        TransferStock(warehouse="LYS-1", sku="KD-HUB-200", destination=str(W2), quantity=Decimal(1))
    )

    [out] = events_of(database, StockTransferred)
    assert len(out.transfer_id) == 32
