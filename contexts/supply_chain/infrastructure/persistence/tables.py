"""The supply chain's tables: one per aggregate, one per child entity, plus the outbox.

Children (reservations, order lines, goods receipts and their lines, shipment lines,
route legs) get tables of their own rather than JSON columns: the readers filter and
sum over them (``quantity_on_order`` sums open order lines), constraints hold them to
their parent, and changing one line writes one row. Lines keep the order they were
written in through a ``position`` column; legs and receipts have natural numbers.

Aggregates refer to each other by id. Foreign keys between aggregate tables are the
database's guard behind the handlers' own existence checks; nothing is ever deleted,
so they never cascade. A child's key starts with its parent's id, and the child
foreign keys cascade on delete.

``version`` is each aggregate's optimistic-concurrency column (see ``orm``).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from contexts.supply_chain.domain.ids import (
    AccountId,
    InventoryItemId,
    PurchaseOrderId,
    ReservationRef,
    ShipmentId,
    SkuCode,
    SupplierId,
    WarehouseCode,
)
from contexts.supply_chain.domain.purchasing.status import PurchaseOrderStatus
from contexts.supply_chain.domain.shipping.status import ShipmentStatus
from contexts.supply_chain.domain.values import NAME_MAX_LENGTH
from shared_kernel.infrastructure.persistence.outbox import outbox_table
from shared_kernel.infrastructure.persistence.types import (
    DEGREES,
    PRICE,
    QUANTITY,
    StrEnumType,
    TypedId,
    UtcDateTime,
)

#: Constraint names that are the same on every backend, so migrations can name them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    # PostgreSQL cuts identifiers at 63 characters: the referred table is left out.
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

UNIT_LENGTH = 16
CURRENCY_LENGTH = 3

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _name(column: str) -> Column[str]:
    return Column(column, String(NAME_MAX_LENGTH), nullable=False)


def _unit(column: str = "unit") -> Column[str]:
    return Column(column, String(UNIT_LENGTH), nullable=False)


def _version() -> Column[int]:
    return Column("version", Integer, nullable=False)


# -- catalog -------------------------------------------------------------------------

warehouses = Table(
    "warehouses",
    metadata,
    Column("code", TypedId(WarehouseCode), primary_key=True),
    _name("name"),
    Column("latitude", DEGREES, nullable=False),
    Column("longitude", DEGREES, nullable=False),
    Column("capacity", QUANTITY, nullable=False),
    _unit("capacity_unit"),
    _version(),
)

suppliers = Table(
    "suppliers",
    metadata,
    Column("id", TypedId(SupplierId), primary_key=True),
    _name("name"),
    Column("country", String(2), nullable=False),
    _version(),
)

skus = Table(
    "skus",
    metadata,
    Column("code", TypedId(SkuCode), primary_key=True),
    _name("name"),
    _unit(),
    Column("reorder_point", QUANTITY, nullable=False),
    Column("safety_stock", QUANTITY, nullable=False),
    Column("lead_time_days", Integer, nullable=False),
    Column("preferred_supplier", TypedId(SupplierId), ForeignKey("suppliers.id"), nullable=True),
    Column("standard_cost_amount", PRICE, nullable=True),
    Column("standard_cost_currency", String(CURRENCY_LENGTH), nullable=True),
    _version(),
)

# -- inventory -----------------------------------------------------------------------

inventory_items = Table(
    "inventory_items",
    metadata,
    Column("id", TypedId(InventoryItemId), primary_key=True),
    Column("warehouse", TypedId(WarehouseCode), ForeignKey("warehouses.code"), nullable=False),
    Column("sku", TypedId(SkuCode), ForeignKey("skus.code"), nullable=False),
    _unit(),
    Column("on_hand", QUANTITY, nullable=False),
    Column("reserved", QUANTITY, nullable=False),
    _version(),
    UniqueConstraint("warehouse", "sku"),
    Index(None, "sku"),
)

inventory_reservations = Table(
    "inventory_reservations",
    metadata,
    Column(
        "inventory_item_id",
        TypedId(InventoryItemId),
        ForeignKey("inventory_items.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("reference", TypedId(ReservationRef), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("quantity", QUANTITY, nullable=False),
    _unit(),
    Column("reserved_at", UtcDateTime(), nullable=False),
)

# -- purchasing ----------------------------------------------------------------------

purchase_orders = Table(
    "purchase_orders",
    metadata,
    Column("id", TypedId(PurchaseOrderId), primary_key=True),
    Column("supplier", TypedId(SupplierId), ForeignKey("suppliers.id"), nullable=False),
    Column("warehouse", TypedId(WarehouseCode), ForeignKey("warehouses.code"), nullable=False),
    Column("currency", String(CURRENCY_LENGTH), nullable=False),
    Column("status", StrEnumType(PurchaseOrderStatus), nullable=False),
    # Unique where set: at most one automatic proposal per warehouse, SKU and day.
    Column("idempotency_key", String(NAME_MAX_LENGTH), nullable=True, unique=True),
    Column("drafted_at", UtcDateTime(), nullable=False),
    Column("placed_on", Date, nullable=True),
    Column("promised_on", Date, nullable=True),
    Column("cancellation_reason", String(500), nullable=True),
    _version(),
    Index(None, "status"),
    Index(None, "supplier"),
    Index(None, "warehouse"),
    Index(None, "drafted_at"),
)

purchase_order_lines = Table(
    "purchase_order_lines",
    metadata,
    Column(
        "purchase_order_id",
        TypedId(PurchaseOrderId),
        ForeignKey("purchase_orders.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("sku", TypedId(SkuCode), ForeignKey("skus.code"), primary_key=True),
    Column("position", Integer, nullable=False),
    _unit(),
    Column("quantity", QUANTITY, nullable=False),
    Column("unit_price", PRICE, nullable=False),
    Column("currency", String(CURRENCY_LENGTH), nullable=False),
    Column("accepted", QUANTITY, nullable=False),
    Column("rejected", QUANTITY, nullable=False),
    Index(None, "sku"),
)

purchase_order_receipts = Table(
    "purchase_order_receipts",
    metadata,
    Column(
        "purchase_order_id",
        TypedId(PurchaseOrderId),
        ForeignKey("purchase_orders.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("number", Integer, primary_key=True),
    Column("received_on", Date, nullable=False),
    Column("on_time", Boolean, nullable=False),
    Column("lead_time_days", Integer, nullable=False),
)

purchase_order_receipt_lines = Table(
    "purchase_order_receipt_lines",
    metadata,
    Column("purchase_order_id", TypedId(PurchaseOrderId), primary_key=True),
    Column("receipt_number", Integer, primary_key=True),
    Column("sku", TypedId(SkuCode), primary_key=True),
    Column("position", Integer, nullable=False),
    _unit(),
    Column("accepted", QUANTITY, nullable=False),
    Column("rejected", QUANTITY, nullable=False),
    ForeignKeyConstraint(
        ["purchase_order_id", "receipt_number"],
        ["purchase_order_receipts.purchase_order_id", "purchase_order_receipts.number"],
        ondelete="CASCADE",
    ),
)

# -- shipping ------------------------------------------------------------------------

shipments = Table(
    "shipments",
    metadata,
    Column("id", TypedId(ShipmentId), primary_key=True),
    # The account lives in another context: no foreign key.
    Column("account", TypedId(AccountId), nullable=False),
    Column("warehouse", TypedId(WarehouseCode), ForeignKey("warehouses.code"), nullable=False),
    Column("status", StrEnumType(ShipmentStatus), nullable=False),
    Column("planned_delivery", UtcDateTime(), nullable=False),
    Column("eta", UtcDateTime(), nullable=False),
    Column("dispatched_at", UtcDateTime(), nullable=True),
    Column("delivered_at", UtcDateTime(), nullable=True),
    _version(),
    Index(None, "status"),
    Index(None, "account"),
    Index(None, "warehouse"),
    Index(None, "planned_delivery"),
)

shipment_lines = Table(
    "shipment_lines",
    metadata,
    Column(
        "shipment_id",
        TypedId(ShipmentId),
        ForeignKey("shipments.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("sku", TypedId(SkuCode), ForeignKey("skus.code"), primary_key=True),
    Column("position", Integer, nullable=False),
    _unit(),
    Column("quantity", QUANTITY, nullable=False),
)

shipment_legs = Table(
    "shipment_legs",
    metadata,
    Column(
        "shipment_id",
        TypedId(ShipmentId),
        ForeignKey("shipments.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("sequence", Integer, primary_key=True),
    _name("origin"),
    _name("destination"),
    _name("carrier"),
    Column("planned_departure", UtcDateTime(), nullable=False),
    Column("planned_arrival", UtcDateTime(), nullable=False),
    Column("departed_at", UtcDateTime(), nullable=True),
    Column("arrived_at", UtcDateTime(), nullable=True),
)

# -- plumbing ------------------------------------------------------------------------

outbox = outbox_table(metadata)

#: Responses to requests sent with an ``Idempotency-Key`` (see ``idempotency``).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(NAME_MAX_LENGTH), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("response_headers", Text, nullable=True),
    Column("response_body", Text, nullable=True),
    Column("completed_at", UtcDateTime(), nullable=True),
)
