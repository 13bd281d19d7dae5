"""The SQL readers answer every query exactly as the in-memory read model does.

One scenario runs twice, through the real unit of work and through the fake one (the
reference the use-case tests rely on); then each query, with every filter and page,
must give equal views from both.
"""

from __future__ import annotations

from typing import Any

import pytest

from contexts.supply_chain.application import command_handlers
from contexts.supply_chain.application.queries.messages import (
    GetInventoryItem,
    GetPurchaseOrder,
    GetShipment,
    GetSku,
    GetSupplier,
    GetWarehouse,
    ListInventory,
    ListPurchaseOrders,
    ListShipments,
    ListSkus,
    ListSuppliers,
    ListWarehouses,
)
from contexts.supply_chain.bootstrap import SupplyChainContainer
from contexts.supply_chain.domain import PurchaseOrderStatus, ShipmentStatus
from contexts.supply_chain.tests.conftest import NOW
from contexts.supply_chain.tests.fakes import FakeReadModel, FakeUnitOfWork, FixedClock
from contexts.supply_chain.tests.scenario import (
    catalog,
    purchasing,
    run,
    shipping,
    stock,
)
from shared_kernel.application import MessageBus

pytestmark = pytest.mark.integration

QUERIES: list[tuple[str, Any]] = [
    ("list_warehouses", ListWarehouses()),
    ("list_warehouses", ListWarehouses(limit=1, offset=1)),
    ("warehouse", GetWarehouse(code="HAM-2")),
    ("warehouse", GetWarehouse(code="NOWHERE")),
    ("list_skus", ListSkus()),
    ("list_skus", ListSkus(limit=2)),
    ("sku", GetSku(code="KD-HUB-200")),
    ("sku", GetSku(code="KD-CAM-10")),
    ("sku", GetSku(code="KD-RESIN")),
    ("sku", GetSku(code="NOTHING")),
    ("list_suppliers", ListSuppliers()),
    ("supplier", GetSupplier(id="BOLT")),
    ("supplier", GetSupplier(id="NOBODY")),
    ("list_inventory", ListInventory()),
    ("list_inventory", ListInventory(warehouse="LYS-1")),
    ("list_inventory", ListInventory(sku="KD-HUB-200")),
    ("list_inventory", ListInventory(warehouse="LYS-1", sku="KD-CAM-10")),
    ("list_inventory", ListInventory(below_reorder_point=True)),
    ("list_inventory", ListInventory(limit=2, offset=1)),
    ("list_inventory", ListInventory(limit=2, offset=10)),
    ("inventory_item", GetInventoryItem(warehouse="LYS-1", sku="KD-HUB-200")),
    ("inventory_item", GetInventoryItem(warehouse="LYS-1", sku="KD-RESIN")),
    ("inventory_item", GetInventoryItem(warehouse="HAM-2", sku="KD-CAM-10")),
    ("list_purchase_orders", ListPurchaseOrders()),
    ("list_purchase_orders", ListPurchaseOrders(status=PurchaseOrderStatus.PLACED)),
    ("list_purchase_orders", ListPurchaseOrders(supplier="ACME")),
    ("list_purchase_orders", ListPurchaseOrders(warehouse="HAM-2")),
    ("list_purchase_orders", ListPurchaseOrders(limit=1, offset=1)),
    ("purchase_order", GetPurchaseOrder(purchase_order_id="PO-1")),
    ("purchase_order", GetPurchaseOrder(purchase_order_id="PO-3")),
    ("purchase_order", GetPurchaseOrder(purchase_order_id="PO-404")),
    ("list_shipments", ListShipments()),
    ("list_shipments", ListShipments(status=ShipmentStatus.DELAYED)),
    ("list_shipments", ListShipments(account="ACC-NOVA")),
    ("list_shipments", ListShipments(warehouse="LYS-1", limit=1)),
    ("shipment", GetShipment(shipment_id="SH-1")),
    ("shipment", GetShipment(shipment_id="SH-404")),
]


@pytest.fixture
async def both(
    migrated: SupplyChainContainer, pinned_clock: FixedClock
) -> tuple[FakeReadModel, SupplyChainContainer]:
    commands = [*catalog(), *stock(), *purchasing(), *shipping()]
    await run(migrated.message_bus(), pinned_clock, commands)
    fake_clock = FixedClock(NOW)
    fake_uow = FakeUnitOfWork()
    await run(MessageBus(fake_uow, command_handlers(fake_clock)), fake_clock, commands)
    return FakeReadModel(fake_uow.database), migrated


async def test_every_query_gives_the_fakes_answer(
    both: tuple[FakeReadModel, SupplyChainContainer],
) -> None:
    fake, container = both
    readers = [
        container.catalog_reader(),
        container.inventory_reader(),
        container.purchasing_reader(),
        container.shipping_reader(),
    ]
    checked = 0
    for method, query in QUERIES:
        [reader] = [r for r in readers if hasattr(r, method)]
        expected = await getattr(fake, method)(query)
        actual = await getattr(reader, method)(query)
        assert actual == expected, f"{method}({query})"
        checked += expected is not None and getattr(expected, "items", True) != ()
    # Seven queries look for what is not there; the others must find something, or
    # the comparison would be vacuous.
    assert checked == len(QUERIES) - 7


async def test_a_page_counts_every_match(both: tuple[FakeReadModel, SupplyChainContainer]) -> None:
    _, container = both
    page = await container.inventory_reader().list_inventory(ListInventory(limit=2, offset=1))
    assert (len(page.items), page.total, page.limit, page.offset) == (2, 4, 2, 1)
    assert [(level.warehouse, level.sku) for level in page.items] == [
        ("LYS-1", "KD-CAM-10"),
        ("LYS-1", "KD-HUB-200"),
    ]


async def test_views_carry_exact_amounts_and_utc_times(
    both: tuple[FakeReadModel, SupplyChainContainer],
) -> None:
    _, container = both
    resin = await container.inventory_reader().inventory_item(
        GetInventoryItem(warehouse="LYS-1", sku="KD-RESIN")
    )
    order = await container.purchasing_reader().purchase_order(
        GetPurchaseOrder(purchase_order_id="PO-1")
    )
    shipment = await container.shipping_reader().shipment(GetShipment(shipment_id="SH-1"))
    assert resin is not None
    assert order is not None
    assert shipment is not None
    assert str(resin.level.on_hand) == "12.375"
    assert str(order.summary.total) == "808.10 EUR"  # 40 x 17.99 + 3 x 29.50
    assert shipment.summary.destination == "Orbital SA, Nanterre"
    assert shipment.summary.eta.utcoffset() is not None
    assert shipment.summary.eta.utcoffset().total_seconds() == 0
