"""The supply chain's first schema: catalog, inventory, purchasing, shipping, outbox,
idempotency keys.

Types are spelled out rather than imported from the ORM so that this revision keeps
meaning what it meant when it ran: exact decimals are ``NUMERIC`` on PostgreSQL and
scaled ``BIGINT`` on SQLite (see ``persistence.types``), typed ids ``VARCHAR(128)``.

Revision ID: 0001
Revises:
Created: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(128)
NAME = sa.String(200)
UNIT = sa.String(16)
CURRENCY = sa.String(3)
STATUS = sa.String(32)
MOMENT = sa.DateTime(timezone=True)
QUANTITY = sa.Numeric(18, 6).with_variant(sa.BigInteger(), "sqlite")
PRICE = sa.Numeric(18, 4).with_variant(sa.BigInteger(), "sqlite")
DEGREES = sa.Numeric(10, 7).with_variant(sa.BigInteger(), "sqlite")
SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def _fk(
    table: str,
    columns: list[str],
    target: str,
    targets: list[str],
    ondelete: str | None = None,
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        columns,
        [f"{target}.{column}" for column in targets],
        name=op.f(f"fk_{table}_{columns[0]}"),
        ondelete=ondelete,
    )


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns))


def upgrade() -> None:
    op.create_table(
        "warehouses",
        sa.Column("code", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("latitude", DEGREES, nullable=False),
        sa.Column("longitude", DEGREES, nullable=False),
        sa.Column("capacity", QUANTITY, nullable=False),
        sa.Column("capacity_unit", UNIT, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _pk("warehouses", "code"),
    )
    op.create_table(
        "suppliers",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _pk("suppliers", "id"),
    )
    op.create_table(
        "skus",
        sa.Column("code", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("unit", UNIT, nullable=False),
        sa.Column("reorder_point", QUANTITY, nullable=False),
        sa.Column("safety_stock", QUANTITY, nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.Column("preferred_supplier", ID, nullable=True),
        sa.Column("standard_cost_amount", PRICE, nullable=True),
        sa.Column("standard_cost_currency", CURRENCY, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _pk("skus", "code"),
        _fk("skus", ["preferred_supplier"], "suppliers", ["id"]),
    )
    op.create_table(
        "inventory_items",
        sa.Column("id", ID, nullable=False),
        sa.Column("warehouse", ID, nullable=False),
        sa.Column("sku", ID, nullable=False),
        sa.Column("unit", UNIT, nullable=False),
        sa.Column("on_hand", QUANTITY, nullable=False),
        sa.Column("reserved", QUANTITY, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _pk("inventory_items", "id"),
        _fk("inventory_items", ["warehouse"], "warehouses", ["code"]),
        _fk("inventory_items", ["sku"], "skus", ["code"]),
        sa.UniqueConstraint("warehouse", "sku", name=op.f("uq_inventory_items_warehouse_sku")),
    )
    _index("inventory_items", "sku")
    op.create_table(
        "inventory_reservations",
        sa.Column("inventory_item_id", ID, nullable=False),
        sa.Column("reference", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("quantity", QUANTITY, nullable=False),
        sa.Column("unit", UNIT, nullable=False),
        sa.Column("reserved_at", MOMENT, nullable=False),
        _pk("inventory_reservations", "inventory_item_id", "reference"),
        _fk(
            "inventory_reservations",
            ["inventory_item_id"],
            "inventory_items",
            ["id"],
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "purchase_orders",
        sa.Column("id", ID, nullable=False),
        sa.Column("supplier", ID, nullable=False),
        sa.Column("warehouse", ID, nullable=False),
        sa.Column("currency", CURRENCY, nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("idempotency_key", NAME, nullable=True),
        sa.Column("drafted_at", MOMENT, nullable=False),
        sa.Column("placed_on", sa.Date(), nullable=True),
        sa.Column("promised_on", sa.Date(), nullable=True),
        sa.Column("cancellation_reason", sa.String(500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _pk("purchase_orders", "id"),
        _fk("purchase_orders", ["supplier"], "suppliers", ["id"]),
        _fk("purchase_orders", ["warehouse"], "warehouses", ["code"]),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_purchase_orders_idempotency_key")),
    )
    for column in ("status", "supplier", "warehouse", "drafted_at"):
        _index("purchase_orders", column)
    op.create_table(
        "purchase_order_lines",
        sa.Column("purchase_order_id", ID, nullable=False),
        sa.Column("sku", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("unit", UNIT, nullable=False),
        sa.Column("quantity", QUANTITY, nullable=False),
        sa.Column("unit_price", PRICE, nullable=False),
        sa.Column("currency", CURRENCY, nullable=False),
        sa.Column("accepted", QUANTITY, nullable=False),
        sa.Column("rejected", QUANTITY, nullable=False),
        _pk("purchase_order_lines", "purchase_order_id", "sku"),
        _fk(
            "purchase_order_lines",
            ["purchase_order_id"],
            "purchase_orders",
            ["id"],
            ondelete="CASCADE",
        ),
        _fk("purchase_order_lines", ["sku"], "skus", ["code"]),
    )
    _index("purchase_order_lines", "sku")
    op.create_table(
        "purchase_order_receipts",
        sa.Column("purchase_order_id", ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("on_time", sa.Boolean(), nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        _pk("purchase_order_receipts", "purchase_order_id", "number"),
        _fk(
            "purchase_order_receipts",
            ["purchase_order_id"],
            "purchase_orders",
            ["id"],
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "purchase_order_receipt_lines",
        sa.Column("purchase_order_id", ID, nullable=False),
        sa.Column("receipt_number", sa.Integer(), nullable=False),
        sa.Column("sku", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("unit", UNIT, nullable=False),
        sa.Column("accepted", QUANTITY, nullable=False),
        sa.Column("rejected", QUANTITY, nullable=False),
        _pk("purchase_order_receipt_lines", "purchase_order_id", "receipt_number", "sku"),
        _fk(
            "purchase_order_receipt_lines",
            ["purchase_order_id", "receipt_number"],
            "purchase_order_receipts",
            ["purchase_order_id", "number"],
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "shipments",
        sa.Column("id", ID, nullable=False),
        sa.Column("account", ID, nullable=False),
        sa.Column("warehouse", ID, nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("planned_delivery", MOMENT, nullable=False),
        sa.Column("eta", MOMENT, nullable=False),
        sa.Column("dispatched_at", MOMENT, nullable=True),
        sa.Column("delivered_at", MOMENT, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _pk("shipments", "id"),
        _fk("shipments", ["warehouse"], "warehouses", ["code"]),
    )
    for column in ("status", "account", "warehouse", "planned_delivery"):
        _index("shipments", column)
    op.create_table(
        "shipment_lines",
        sa.Column("shipment_id", ID, nullable=False),
        sa.Column("sku", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("unit", UNIT, nullable=False),
        sa.Column("quantity", QUANTITY, nullable=False),
        _pk("shipment_lines", "shipment_id", "sku"),
        _fk("shipment_lines", ["shipment_id"], "shipments", ["id"], ondelete="CASCADE"),
        _fk("shipment_lines", ["sku"], "skus", ["code"]),
    )
    op.create_table(
        "shipment_legs",
        sa.Column("shipment_id", ID, nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("origin", NAME, nullable=False),
        sa.Column("destination", NAME, nullable=False),
        sa.Column("carrier", NAME, nullable=False),
        sa.Column("planned_departure", MOMENT, nullable=False),
        sa.Column("planned_arrival", MOMENT, nullable=False),
        sa.Column("departed_at", MOMENT, nullable=True),
        sa.Column("arrived_at", MOMENT, nullable=True),
        _pk("shipment_legs", "shipment_id", "sequence"),
        _fk("shipment_legs", ["shipment_id"], "shipments", ["id"], ondelete="CASCADE"),
    )
    op.create_table(
        "outbox",
        sa.Column("seq", SEQUENCE, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("message_key", sa.String(200), nullable=False),
        sa.Column("aggregate_version", sa.Integer(), nullable=False),
        sa.Column("occurred_at", MOMENT, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("recorded_at", MOMENT, nullable=False),
        sa.Column("published_at", MOMENT, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        _pk("outbox", "seq"),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "seq"])
    op.create_index("ix_outbox_key_seq", "outbox", ["message_key", "seq"])
    op.create_table(
        "idempotency_keys",
        sa.Column("key", NAME, nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("recorded_at", MOMENT, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_headers", sa.Text(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("completed_at", MOMENT, nullable=True),
        _pk("idempotency_keys", "key"),
    )


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "outbox",
        "shipment_legs",
        "shipment_lines",
        "shipments",
        "purchase_order_receipt_lines",
        "purchase_order_receipts",
        "purchase_order_lines",
        "purchase_orders",
        "inventory_reservations",
        "inventory_items",
        "skus",
        "suppliers",
        "warehouses",
    ):
        op.drop_table(table)
