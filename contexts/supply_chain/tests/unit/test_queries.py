"""Query messages validate their paging; detail reads report a miss as NotFound."""

from decimal import Decimal

import pytest

from contexts.supply_chain.application.commands.inventory import ReceiveStock, ReserveStock
from contexts.supply_chain.application.queries.handlers import (
    get_inventory_item,
    get_purchase_order,
    get_shipment,
    get_sku,
    get_supplier,
    get_warehouse,
)
from contexts.supply_chain.application.queries.messages import (
    GetInventoryItem,
    GetPurchaseOrder,
    GetShipment,
    GetSku,
    GetSupplier,
    GetWarehouse,
    ListInventory,
    ListPurchaseOrders,
    ListWarehouses,
)
from contexts.supply_chain.domain import PurchaseOrderStatus
from contexts.supply_chain.tests.fakes import FakeReadModel
from contexts.supply_chain.tests.unit.test_purchasing_handlers import draft
from contexts.supply_chain.tests.unit.test_shipping_handlers import plan
from shared_kernel.domain import InvalidValue, NotFound


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (501, 0), (10, -1), (True, 0)], ids=str)
def test_pages_are_bounded(limit, offset):
    with pytest.raises(InvalidValue):
        ListInventory(limit=limit, offset=offset)


@pytest.mark.usefixtures("catalog")
async def test_inventory_levels_are_filtered_and_paged(bus, database):
    for warehouse, sku, amount in [
        ("LYS-1", "KD-HUB-200", 200),
        ("LYS-1", "KD-CAM-10", 4),
        ("HAM-2", "KD-HUB-200", 30),
    ]:
        await bus.handle(ReceiveStock(warehouse=warehouse, sku=sku, quantity=Decimal(amount)))
    await bus.handle(
        ReserveStock(warehouse="LYS-1", sku="KD-HUB-200", reference="SO-1", quantity=Decimal(150))
    )
    reads = FakeReadModel(database)

    everything = await reads.list_inventory(ListInventory())
    lyon = await reads.list_inventory(ListInventory(warehouse="LYS-1", limit=1, offset=1))
    low = await reads.list_inventory(ListInventory(below_reorder_point=True))

    assert [(x.warehouse, x.sku) for x in everything.items] == [
        ("HAM-2", "KD-HUB-200"),
        ("LYS-1", "KD-CAM-10"),
        ("LYS-1", "KD-HUB-200"),
    ]
    assert (lyon.total, [x.sku for x in lyon.items]) == (2, ["KD-HUB-200"])
    assert {(x.warehouse, x.sku, x.available) for x in low.items} == {
        ("HAM-2", "KD-HUB-200", 30),
        ("LYS-1", "KD-CAM-10", 4),
        ("LYS-1", "KD-HUB-200", 50),
    }
    detail = await get_inventory_item(GetInventoryItem(warehouse="LYS-1", sku="KD-HUB-200"), reads)
    assert [(r.reference, r.quantity) for r in detail.reservations] == [("SO-1", 150)]
    warehouses = await reads.list_warehouses(ListWarehouses(limit=1))
    assert (warehouses.total, warehouses.items[0].code) == (2, "HAM-2")


@pytest.mark.parametrize(
    ("read", "query"),
    [
        (get_warehouse, GetWarehouse(code="NOPE")),
        (get_sku, GetSku(code="NOPE")),
        (get_supplier, GetSupplier(id="NOPE")),
        (get_inventory_item, GetInventoryItem(warehouse="LYS-1", sku="NOPE")),
        (get_purchase_order, GetPurchaseOrder(purchase_order_id="NOPE")),
        (get_shipment, GetShipment(shipment_id="NOPE")),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
async def test_a_missing_detail_is_not_found(database, read, query):
    with pytest.raises(NotFound):
        await read(query, FakeReadModel(database))


@pytest.mark.usefixtures("catalog")
async def test_purchase_orders_and_shipments_read_back_as_stored(bus, database):
    await bus.handle(draft())
    await bus.handle(plan())
    reads = FakeReadModel(database)

    drafts = await reads.list_purchase_orders(
        ListPurchaseOrders(status=PurchaseOrderStatus.DRAFT, supplier="ACME")
    )
    placed = await reads.list_purchase_orders(ListPurchaseOrders(status=PurchaseOrderStatus.PLACED))
    order = await get_purchase_order(GetPurchaseOrder(purchase_order_id="PO-1"), reads)
    shipment = await get_shipment(GetShipment(shipment_id="SH-1"), reads)

    assert ([x.id for x in drafts.items], placed.total) == (["PO-1"], 0)
    assert [(x.sku, x.outstanding) for x in order.lines] == [("KD-HUB-200", 100), ("KD-CAM-10", 20)]
    assert [(leg.sequence, leg.carrier) for leg in shipment.legs] == [
        (1, "Geodis"),
        (2, "Chronopost"),
    ]
    assert shipment.summary.destination == "Orbital SA, Nanterre"
