"""The supply chain scenario's reference data, its work items and its summary.

The story itself is told in ``simulator.py`` (its docstring) and its lanes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from rich.table import Table

__all__ = [
    "ACCOUNTS",
    "ACTIVE_SHIPMENT_STATUSES",
    "API",
    "FALLBACK",
    "HOT_ITEM",
    "HOT_OPENING_STOCK",
    "LANES",
    "OPEN_PO_STATUSES",
    "SKUS",
    "SKU_BY_CODE",
    "SUPPLIERS",
    "WAREHOUSES",
    "Account",
    "ApiProblem",
    "CarrierStep",
    "CustomerOrder",
    "PurchaseWork",
    "ShipmentWork",
    "SkuSpec",
    "Summary",
    "SupplierSpec",
    "WarehouseSpec",
]

API = "/api/v1"


# Reference data ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WarehouseSpec:
    code: str
    name: str
    latitude: str
    longitude: str
    capacity: int = 20_000


@dataclass(frozen=True, slots=True)
class SupplierSpec:
    id: str
    name: str
    country: str


@dataclass(frozen=True, slots=True)
class SkuSpec:
    code: str
    name: str
    reorder_point: int
    safety_stock: int
    lead_time_days: int
    supplier: str
    cost: str

    @property
    def opening_stock(self) -> int:
        return 3 * self.reorder_point


@dataclass(frozen=True, slots=True)
class Account:
    """A customer: where its site is, and the hubs a delivery goes through."""

    code: str
    site: str
    hub: str
    depot: str | None = None


WAREHOUSES = (
    WarehouseSpec("LYS-1", "Lyon distribution centre", "45.7640", "4.8357"),
    WarehouseSpec("HAM-1", "Hamburg distribution centre", "53.5511", "9.9937"),
    WarehouseSpec("MAD-1", "Madrid distribution centre", "40.4168", "-3.7038"),
)
SUPPLIERS = (
    SupplierSpec("ACME", "Acme Components GmbH", "DE"),
    SupplierSpec("NORDSENS", "Nordic Sensor Works AB", "SE"),
    SupplierSpec("PEARL", "Pearl River Electronics Ltd", "CN"),
)
SKUS = (
    SkuSpec("KD-HUB-200", "Kestrel Hub 200", 80, 50, 7, "ACME", "18.00"),
    SkuSpec("KD-CAM-10", "Kestrel Cam 10", 40, 20, 14, "PEARL", "24.50"),
    SkuSpec("KD-SENSE-3", "Kestrel Motion Sensor 3", 120, 60, 10, "NORDSENS", "6.20"),
    SkuSpec("KD-LOCK-5", "Kestrel Smart Lock 5", 30, 15, 21, "PEARL", "41.00"),
    SkuSpec("KD-PLUG-1", "Kestrel Smart Plug", 150, 80, 5, "ACME", "4.80"),
    SkuSpec("KD-THERMO-4", "Kestrel Thermostat 4", 25, 10, 12, "NORDSENS", "33.90"),
    SkuSpec("KD-SIREN-7", "Kestrel Siren 7", 20, 10, 9, "ACME", "12.75"),
    SkuSpec("KD-BRIDGE-2", "Kestrel Zigbee Bridge 2", 35, 15, 8, "PEARL", "9.40"),
)
ACCOUNTS = (
    Account("ACC-ENT-ORBITAL", "SITE-ORBITAL-NANTERRE", "HUB-PAR", "DEPOT-PAR-92"),
    Account("ACC-ENT-HELIX", "SITE-HELIX-MUNICH", "HUB-MUC"),
    Account("ACC-ENT-TAGUS", "SITE-TAGUS-LISBON", "HUB-LIS", "DEPOT-LIS-1"),
    Account("ACC-SMB-BRIOCHE", "SITE-BRIOCHE-LYON", "HUB-LYS"),
    Account("ACC-SMB-KANAL", "SITE-KANAL-HAMBURG", "HUB-HAM"),
    Account("ACC-SMB-SOL", "SITE-SOL-MADRID", "HUB-MAD"),
    Account("ACC-RET-NOVA", "SITE-NOVA-GRENOBLE", "HUB-LYS", "DEPOT-GRE-38"),
    Account("ACC-RET-FJORD", "SITE-FJORD-AARHUS", "HUB-HAM", "DEPOT-AAR-8000"),
)
#: The promotion: demand for this (warehouse, SKU) outruns its replenishment.
HOT_ITEM = ("LYS-1", "KD-CAM-10")
HOT_OPENING_STOCK = 60

SKU_BY_CODE = {sku.code: sku for sku in SKUS}
LANES = (
    "demand",
    "purchasing",
    "shipping",
    "demand",
    "fulfil",
    "shipping",
    "demand",
    "purchasing",
    "shipping",
    "fulfil",
)
#: Where a lane with nothing to do hands its tick.
FALLBACK = ("fulfil", "demand")
OPEN_PO_STATUSES = ("draft", "placed", "confirmed", "partially_received")
ACTIVE_SHIPMENT_STATUSES = ("planned", "dispatched", "in_transit", "delayed")


# Errors and the summary -------------------------------------------------------------


def problem_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def problem_rule(response: httpx.Response) -> str | None:
    """The business rule a 409 names (``insufficient_stock``...), if any."""
    rule = problem_body(response).get("rule")
    return rule if isinstance(rule, str) else None


class ApiProblem(Exception):
    """The API refused a step: status, and the problem's rule or detail."""

    def __init__(self, action: str, response: httpx.Response) -> None:
        self.status = response.status_code
        self.rule = problem_rule(response)
        reason = self.rule or problem_body(response).get("detail") or response.reason_phrase
        super().__init__(f"{action}: {self.status} {reason}")


@dataclass
class Summary:
    steps: int = 0
    errors: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    reference: Counter[str] = field(default_factory=Counter)
    units: dict[str, Decimal] = field(default_factory=dict)
    lost_orders: Counter[str] = field(default_factory=Counter)
    purchases: Counter[str] = field(default_factory=Counter)
    shipments: Counter[str] = field(default_factory=Counter)
    lowest_available: dict[str, Decimal] = field(default_factory=dict)

    def add_units(self, movement: str, amount: Decimal) -> None:
        self.units[movement] = self.units.get(movement, Decimal(0)) + amount

    def count_error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] += 1

    def observe(self, level: dict[str, Any]) -> None:
        key = f"{level['sku']} @ {level['warehouse']}"
        available = Decimal(str(level["available"]))
        if key not in self.lowest_available or available < self.lowest_available[key]:
            self.lowest_available[key] = available

    def table(self) -> Table:
        table = Table(title="Simulation summary", show_header=False, expand=False)
        table.add_row("steps", str(self.steps))
        table.add_row("errors", f"{self.errors} {counts_text(self.error_kinds)}".strip())
        table.add_row("reference data", counts_text(self.reference))
        table.add_row(
            "units", ", ".join(f"{k} {as_units(v)}" for k, v in sorted(self.units.items()))
        )
        table.add_row("orders lost to stock-outs", counts_text(self.lost_orders) or "0")
        table.add_row("purchase orders", counts_text(self.purchases) or "0")
        table.add_row("shipments", counts_text(self.shipments) or "0")
        hot = f"{HOT_ITEM[1]} @ {HOT_ITEM[0]}"
        if hot in self.lowest_available:
            table.add_row(
                "promotion",
                f"{hot}: lowest available {self.lowest_available[hot]} "
                f"(reorder point {SKU_BY_CODE[HOT_ITEM[1]].reorder_point})",
            )
        return table


def counts_text(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counter.items()))


# Work in progress -------------------------------------------------------------------


@dataclass
class CustomerOrder:
    reference: str
    warehouse: str
    account: Account
    lines: dict[str, Decimal]
    shipped: set[str] = field(default_factory=set)


@dataclass
class PurchaseWork:
    id: str
    late: bool
    partial: bool
    order: dict[str, Any] | None = None  # as last read; None: read it first
    due_tick: int = 0
    first_received_on: date | None = None


@dataclass
class CarrierStep:
    kind: str  # "estimate" or "checkpoint"
    body: dict[str, Any]


@dataclass
class ShipmentWork:
    id: str
    delayed: bool
    delay: timedelta
    shipment: dict[str, Any] | None = None  # as last read; None: read it first
    hold: int = 0
    script: list[CarrierStep] | None = None
    position: int = 0


# The simulator ----------------------------------------------------------------------


def parse_moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def as_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def as_amount(value: Any) -> Decimal:
    return Decimal(str(value))


def as_units(value: Decimal) -> str:
    return format(value.normalize(), "f")
