"""Read requests for list and detail views. Lists are paginated by limit and offset."""

from __future__ import annotations

from dataclasses import dataclass

from contexts.supply_chain.domain.purchasing.status import PurchaseOrderStatus
from contexts.supply_chain.domain.shipping.status import ShipmentStatus
from shared_kernel.application import Query
from shared_kernel.domain import InvalidValue

MAX_PAGE_SIZE = 500


def _check_page(limit: int, offset: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidValue("limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidValue("offset", "must be a whole number, 0 or more")


@dataclass(frozen=True, slots=True, kw_only=True)
class ListQuery(Query):
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        _check_page(self.limit, self.offset)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListWarehouses(ListQuery):
    """Ordered by code."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GetWarehouse(Query):
    code: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ListSkus(ListQuery):
    """Ordered by code."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GetSku(Query):
    code: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ListSuppliers(ListQuery):
    """Ordered by id."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GetSupplier(Query):
    id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ListInventory(ListQuery):
    """Inventory levels, optionally of one warehouse and/or SKU; ordered by warehouse,
    then SKU. ``below_reorder_point`` keeps items whose available stock is at or below
    their SKU's reorder point."""

    warehouse: str | None = None
    sku: str | None = None
    below_reorder_point: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GetInventoryItem(Query):
    warehouse: str
    sku: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ListPurchaseOrders(ListQuery):
    """Newest draft first, then by id."""

    status: PurchaseOrderStatus | None = None
    supplier: str | None = None
    warehouse: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetPurchaseOrder(Query):
    purchase_order_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ListShipments(ListQuery):
    """Soonest planned delivery first, then by id."""

    status: ShipmentStatus | None = None
    account: str | None = None
    warehouse: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetShipment(Query):
    shipment_id: str
