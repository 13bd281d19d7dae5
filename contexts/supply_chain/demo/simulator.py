"""The scenario simulator: a day in Kestrel Devices' supply chain, one call at a time.

It drives the supply chain through its operational REST API only, as any client
would: nothing is written to a database behind the API's back, so every fact it
creates flows through the outbox to the data products. The story:

- reference data: three warehouses, three suppliers, eight SKUs with their
  replenishment policy, and opening stock (a re-run tops stock up again and takes
  the 409 of an existing registration as "already there");
- demand: customer orders reserve stock and are shipped from it; one promotion
  (the Cam 10 out of Lyon) drains its stock toward a stock-out within about a
  minute at the default rate; customers also return a few units now and then;
- purchasing: drafts for what fell below its reorder point, placed, confirmed with
  a promised day, received on time or late, some in two deliveries with rejected
  units; the Cam 10's supplier is always late;
- shipping: shipments planned with two or three route legs, dispatched, then
  tracked leg by leg to delivery; some slip past their planned delivery and stay
  Delayed for a while. With a carrier (``--carrier``), the simulator scripts the
  fake carrier instead (checkpoints, estimates) and leaves the supply chain's
  tracking poller to bring the facts in, as it would with a real carrier.

Each tick runs one step of one lane (demand, fulfilment, purchasing, shipping, in
a fixed rotation; a lane with nothing to do hands the tick on). A failed step is
logged and counted, and the work it was on is read back from the API on its next
turn; the simulator itself never stops for it. Every POST carries an
``Idempotency-Key`` (a retry after a lost connection reuses it); commands on
purchase orders and shipments carry ``If-Match`` with the version last seen, so
that a change by someone else is noticed (412) rather than overwritten. Stock
movements do not: the domain's own invariants guard them.

Given a seed, the sequence of decisions is the same on every run against the same
starting state; ids and idempotency keys carry a per-run tag so that runs against
one database never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

__all__ = [
    "ACCOUNTS",
    "HOT_ITEM",
    "SKUS",
    "SUPPLIERS",
    "WAREHOUSES",
    "ApiProblem",
    "Simulator",
    "Summary",
    "simulate",
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


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _rule(response: httpx.Response) -> str | None:
    """The business rule a 409 names (``insufficient_stock``...), if any."""
    rule = _problem(response).get("rule")
    return rule if isinstance(rule, str) else None


class ApiProblem(Exception):
    """The API refused a step: status, and the problem's rule or detail."""

    def __init__(self, action: str, response: httpx.Response) -> None:
        self.status = response.status_code
        self.rule = _rule(response)
        reason = self.rule or _problem(response).get("detail") or response.reason_phrase
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
        table.add_row("errors", f"{self.errors} {_counts(self.error_kinds)}".strip())
        table.add_row("reference data", _counts(self.reference))
        table.add_row("units", ", ".join(f"{k} {_units(v)}" for k, v in sorted(self.units.items())))
        table.add_row("orders lost to stock-outs", _counts(self.lost_orders) or "0")
        table.add_row("purchase orders", _counts(self.purchases) or "0")
        table.add_row("shipments", _counts(self.shipments) or "0")
        hot = f"{HOT_ITEM[1]} @ {HOT_ITEM[0]}"
        if hot in self.lowest_available:
            table.add_row(
                "promotion",
                f"{hot}: lowest available {self.lowest_available[hot]} "
                f"(reorder point {SKU_BY_CODE[HOT_ITEM[1]].reorder_point})",
            )
        return table


def _counts(counter: Counter[str]) -> str:
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


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _amount(value: Any) -> Decimal:
    return Decimal(str(value))


def _units(value: Decimal) -> str:
    return format(value.normalize(), "f")


class Simulator:
    """Drives the supply chain API given as ``api`` (an httpx client whose base URL
    is the API's root); with ``carrier``, also scripts the fake carrier."""

    MAX_PENDING_ORDERS = 12
    MAX_ACTIVE_SHIPMENTS = 4
    MAX_OPEN_PURCHASE_ORDERS = 5
    ON_TIME_ARRIVAL_TICKS = 12
    LATE_ARRIVAL_TICKS = 24
    SECOND_DELIVERY_TICKS = 8
    DELAYED_HOLD_VISITS = 4

    def __init__(
        self,
        api: httpx.AsyncClient,
        *,
        carrier: httpx.AsyncClient | None = None,
        seed: int = 7,
        console: Console | None = None,
        quiet: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.api = api
        self.carrier = carrier
        self.rng = random.Random(seed)
        self.console = console or Console()
        self.quiet = quiet
        self.clock = clock
        self.run_tag = uuid.uuid4().hex[:6]
        self.summary = Summary()
        self.tick = 0
        self.prepared = False
        self._serials: Counter[str] = Counter()
        self.pending: deque[CustomerOrder] = deque()
        self.purchases: list[PurchaseWork] = []
        self.shipments: deque[ShipmentWork] = deque()
        self._drafted = 0
        self._planned = 0

    # HTTP -----------------------------------------------------------------------

    def _next(self, prefix: str) -> str:
        self._serials[prefix] += 1
        return f"{prefix}-{self.run_tag}-{self._serials[prefix]:04d}"

    async def _send(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        json: Any = None,
        version: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """One request; a POST gets an Idempotency-Key that its retries reuse, so a
        retry after a lost answer has its effect once."""
        headers: dict[str, str] = {}
        if method == "POST":
            headers["Idempotency-Key"] = self._next("sim")
        if version is not None:
            headers["If-Match"] = f'"{version}"'
        failure: Exception | None = None
        for _ in range(3):
            try:
                return await client.request(method, path, json=json, headers=headers, params=params)
            except httpx.TransportError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def _api(
        self,
        method: str,
        path: str,
        action: str,
        *,
        json: Any = None,
        version: int | None = None,
        params: dict[str, Any] | None = None,
        accept: tuple[int, ...] = (200, 201),
    ) -> dict[str, Any]:
        response = await self._send(
            self.api, method, f"{API}{path}", json=json, version=version, params=params
        )
        if response.status_code not in accept:
            raise ApiProblem(action, response)
        body: dict[str, Any] = response.json()
        return body

    def _log(self, lane: str, text: str) -> None:
        if not self.quiet:
            self.console.print(f"[dim]{self.tick:>5}[/] [bold]{lane:<10}[/] {text}")

    # Running --------------------------------------------------------------------

    async def run(
        self,
        *,
        rate: float = 2.0,
        duration: float | None = None,
        steps: int | None = None,
        stop: asyncio.Event | None = None,
    ) -> Summary:
        """Tick ``rate`` times a second until ``duration`` seconds pass, the summary
        counts ``steps`` ticks (earlier runs of this simulator included) or ``stop`` is
        set, whichever comes first; with none of them, forever."""
        if rate <= 0:
            raise ValueError("rate must be positive (steps per second)")
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        deadline = None if duration is None else loop.time() + duration
        interval = 1.0 / rate
        while not stop.is_set():
            if steps is not None and self.summary.steps >= steps:
                break
            if deadline is not None and loop.time() >= deadline:
                break
            started = loop.time()
            await self.step()
            pause = interval - (loop.time() - started)
            if deadline is not None:
                pause = min(pause, deadline - loop.time())
            if pause > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=pause)
        return self.summary

    async def step(self) -> None:
        """One tick: the set-up until it has succeeded, then one lane's step."""
        self.tick += 1
        self.summary.steps += 1
        lane = "setup" if not self.prepared else LANES[(self.tick - 1) % len(LANES)]
        try:
            if not self.prepared:
                await self.prepare()
                return
            for candidate in (lane, *FALLBACK):
                text = await self._run_lane(candidate)
                if text is not None:
                    self.summary.actions[candidate] += 1
                    self._log(candidate, text)
                    return
        except ApiProblem as exc:
            self.summary.count_error(f"{exc.status}")
            self._log(lane, f"[red]failed[/] {exc}")
        except httpx.HTTPError as exc:
            self.summary.count_error(type(exc).__name__)
            self._log(lane, f"[red]failed[/] {type(exc).__name__}: {exc}")
        except Exception as exc:  # one bad step must not end the scenario
            self.summary.count_error(type(exc).__name__)
            self._log(lane, f"[red]failed[/] {type(exc).__name__}: {exc}")

    async def _run_lane(self, lane: str) -> str | None:
        match lane:
            case "demand":
                return await self._demand()
            case "fulfil":
                return await self._fulfil()
            case "purchasing":
                return await self._purchasing()
            case "shipping":
                return await self._shipping()
        raise ValueError(f"no lane {lane}")

    # Set-up ---------------------------------------------------------------------

    async def _register(self, kind: str, path: str, body: dict[str, Any]) -> None:
        response = await self._send(self.api, "POST", f"{API}{path}", json=body)
        if response.status_code == 201:
            self.summary.reference[f"{kind} registered"] += 1
        elif response.status_code == 409:
            self.summary.reference[f"{kind} already there"] += 1
        else:
            raise ApiProblem(f"register {kind}", response)

    async def prepare(self) -> None:
        """Reference data, opening stock, and the open work of earlier runs."""
        self.summary.reference.clear()
        for supplier in SUPPLIERS:
            await self._register(
                "suppliers",
                "/suppliers",
                {"id": supplier.id, "name": supplier.name, "country": supplier.country},
            )
        for warehouse in WAREHOUSES:
            await self._register(
                "warehouses",
                "/warehouses",
                {
                    "code": warehouse.code,
                    "name": warehouse.name,
                    "latitude": warehouse.latitude,
                    "longitude": warehouse.longitude,
                    "capacity": str(warehouse.capacity),
                    "capacity_unit": "each",
                },
            )
        for sku in SKUS:
            await self._register(
                "skus",
                "/skus",
                {
                    "code": sku.code,
                    "name": sku.name,
                    "unit": "each",
                    "reorder_point": str(sku.reorder_point),
                    "safety_stock": str(sku.safety_stock),
                    "lead_time_days": sku.lead_time_days,
                    "preferred_supplier": sku.supplier,
                    "standard_cost": {"amount": sku.cost, "currency": "EUR"},
                },
            )
        opened = await self._open_stock()
        adopted = await self._adopt()
        self.prepared = True
        self._log(
            "setup",
            f"reference data: {_counts(self.summary.reference)}; opening stock: {opened} "
            f"item(s) topped up; adopted {adopted} open order(s) and shipment(s)",
        )

    async def _open_stock(self) -> int:
        page = await self._api("GET", "/inventory", "read inventory", params={"limit": 500})
        levels = {(level["warehouse"], level["sku"]): level for level in page["items"]}
        topped = 0
        for warehouse in WAREHOUSES:
            for sku in SKUS:
                key = (warehouse.code, sku.code)
                target = Decimal(HOT_OPENING_STOCK if key == HOT_ITEM else sku.opening_stock)
                level = levels.get(key)
                on_hand = Decimal(0) if level is None else _amount(level["on_hand"])
                path = f"/inventory/{warehouse.code}/{sku.code}"
                if on_hand < target:
                    body = await self._api(
                        "POST",
                        f"{path}/receive",
                        "opening stock",
                        json={"quantity": str(target - on_hand), "reference": "OPENING-STOCK"},
                    )
                    self.summary.add_units("received", target - on_hand)
                    self.summary.observe(body)
                    topped += 1
                elif key == HOT_ITEM and level is not None:
                    # A re-run starts the promotion afresh: the count "finds" the
                    # opening stock (never less than what is reserved).
                    counted = max(target, _amount(level["reserved"]))
                    if counted < on_hand:
                        body = await self._api(
                            "POST",
                            f"{path}/adjust",
                            "recount promotion stock",
                            json={"counted": str(counted), "reason": "cycle_count"},
                        )
                        self.summary.observe(body)
                        topped += 1
        return topped

    async def _adopt(self) -> int:
        """Open purchase orders and shipments of earlier runs are carried on."""
        adopted = 0
        known = {work.id for work in self.purchases}
        for status in OPEN_PO_STATUSES:
            page = await self._api(
                "GET", "/purchase-orders", "list orders", params={"status": status, "limit": 50}
            )
            for order in page["items"]:
                if order["id"] not in known:
                    late, partial = self.rng.random() < 0.3, self.rng.random() < 0.4
                    self.purchases.append(PurchaseWork(order["id"], late, partial))
                    adopted += 1
        known = {work.id for work in self.shipments}
        for status in ACTIVE_SHIPMENT_STATUSES:
            page = await self._api(
                "GET", "/shipments", "list shipments", params={"status": status, "limit": 50}
            )
            for shipment in page["items"]:
                if shipment["id"] not in known:
                    self.shipments.append(self._shipment_work(shipment["id"]))
                    adopted += 1
        return adopted

    # Demand ---------------------------------------------------------------------

    async def _demand(self) -> str | None:
        if len(self.pending) >= self.MAX_PENDING_ORDERS:
            return None
        draw = self.rng.random()
        if draw < 0.1:
            return await self._customer_return()
        if draw < 0.6:
            warehouse, sku = HOT_ITEM
            account = self.rng.choice(ACCOUNTS)
            lines = {sku: Decimal(self.rng.randint(3, 8))}
        else:
            warehouse = self.rng.choice(WAREHOUSES).code
            account = self.rng.choice(ACCOUNTS)
            choices = [s.code for s in SKUS if (warehouse, s.code) != HOT_ITEM]
            skus = self.rng.sample(choices, self.rng.choice((1, 1, 2)))
            big = account.code.startswith("ACC-ENT")
            lines = {
                code: Decimal(self.rng.randint(4, 12) if big else self.rng.randint(1, 4))
                for code in skus
            }
        order = CustomerOrder(self._next("SO"), warehouse, account, {})
        outcome: list[str] = []
        try:
            for sku, quantity in lines.items():
                response = await self._send(
                    self.api,
                    "POST",
                    f"{API}/inventory/{warehouse}/{sku}/reserve",
                    json={"reference": order.reference, "quantity": str(quantity)},
                )
                if response.status_code == 409 and _rule(response) == "insufficient_stock":
                    self.summary.lost_orders[sku] += 1
                    outcome.append(f"{_units(quantity)} {sku} out of stock")
                    continue
                if response.status_code != 200:
                    raise ApiProblem(f"reserve {sku}", response)
                level = response.json()
                self.summary.observe(level)
                self.summary.add_units("reserved", quantity)
                order.lines[sku] = quantity
                outcome.append(
                    f"{_units(quantity)} {sku} (available {_units(_amount(level['available']))})"
                )
        finally:
            if order.lines:
                self.pending.append(order)
        verb = "reserved" if order.lines else "lost"
        return f"{order.reference} {verb} @ {warehouse} for {account.code}: " + ", ".join(outcome)

    async def _customer_return(self) -> str:
        warehouse = self.rng.choice(WAREHOUSES).code
        sku = self.rng.choice([s.code for s in SKUS if (warehouse, s.code) != HOT_ITEM])
        quantity = Decimal(self.rng.randint(1, 3))
        reference = self._next("RMA")
        level = await self._api(
            "POST",
            f"/inventory/{warehouse}/{sku}/receive",
            f"return {sku}",
            json={"quantity": str(quantity), "reference": reference},
        )
        self.summary.observe(level)
        self.summary.add_units("received", quantity)
        self.summary.add_units("returned", quantity)
        return f"{reference} customer return: {_units(quantity)} {sku} back in {warehouse}"

    # Fulfilment -----------------------------------------------------------------

    async def _fulfil(self) -> str | None:
        if not self.pending:
            return None
        order = self.pending[0]
        for sku in order.lines:
            if sku in order.shipped:
                continue
            response = await self._send(
                self.api,
                "POST",
                f"{API}/inventory/{order.warehouse}/{sku}/ship",
                json={"reference": order.reference},
            )
            if response.status_code in (404, 409):  # the reservation is gone: drop it
                order.shipped.add(sku)
                raise ApiProblem(f"ship {order.reference} {sku}", response)
            if response.status_code != 200:
                raise ApiProblem(f"ship {order.reference} {sku}", response)
            self.summary.observe(response.json())
            self.summary.add_units("shipped", order.lines[sku])
            order.shipped.add(sku)
        self.pending.popleft()
        if len(self.shipments) >= self.MAX_ACTIVE_SHIPMENTS:
            return f"{order.reference} shipped from {order.warehouse} as a parcel"
        shipment_id = await self._plan_shipment(order)
        return f"{order.reference} shipped from {order.warehouse}, shipment {shipment_id} planned"

    def _route(self, order: CustomerOrder, start: datetime) -> list[dict[str, Any]]:
        places = [order.warehouse, order.account.hub]
        if order.account.depot:
            places.append(order.account.depot)
        places.append(order.account.site)
        legs: list[dict[str, Any]] = []
        departure = start + timedelta(hours=2)
        for number, (origin, destination) in enumerate(itertools.pairwise(places)):
            hours = self.rng.randint(5, 9) if number == 0 else self.rng.randint(1, 4)
            arrival = departure + timedelta(hours=hours)
            legs.append(
                {
                    "origin": origin,
                    "destination": destination,
                    "carrier": "Kestrel Freight" if number == 0 else "CityVan",
                    "planned_departure": _text(departure),
                    "planned_arrival": _text(arrival),
                }
            )
            departure = arrival + timedelta(hours=self.rng.randint(1, 3))
        return legs

    async def _plan_shipment(self, order: CustomerOrder) -> str:
        start = self.clock().replace(second=0, microsecond=0)
        shipment_id = self._next("SHP")
        body = {
            "id": shipment_id,
            "account": order.account.code,
            "warehouse": order.warehouse,
            "lines": [
                {"sku": sku, "quantity": str(quantity)} for sku, quantity in order.lines.items()
            ],
            "legs": self._route(order, start),
        }
        shipment = await self._api("POST", "/shipments", f"plan {shipment_id}", json=body)
        work = self._shipment_work(shipment_id)
        work.shipment = shipment
        self.shipments.append(work)
        self.summary.shipments["planned"] += 1
        return shipment_id

    def _shipment_work(self, shipment_id: str) -> ShipmentWork:
        """The first shipment is delayed, then about one in four."""
        self._planned += 1
        delayed = self._planned == 1 or self.rng.random() < 0.25
        return ShipmentWork(shipment_id, delayed, timedelta(hours=self.rng.randint(3, 9)))

    # Purchasing -----------------------------------------------------------------

    async def _purchasing(self) -> str | None:
        for work in list(self.purchases):
            if work.order is None:
                work.order = await self._api(
                    "GET", f"/purchase-orders/{work.id}", f"read {work.id}"
                )
            try:
                text = await self._advance_purchase(work)
            except Exception:
                work.order = None  # read it again on its next turn
                raise
            if text is not None:
                return text
        if len(self.purchases) < self.MAX_OPEN_PURCHASE_ORDERS:
            return await self._draft_purchase()
        return None

    async def _advance_purchase(self, work: PurchaseWork) -> str | None:
        order = work.order
        assert order is not None
        status, version = order["status"], order["version"]
        path = f"/purchase-orders/{work.id}"
        if status in ("received", "cancelled"):
            self.purchases.remove(work)
            return None
        if status == "draft":
            work.order = await self._api(
                "POST", f"{path}/place", f"place {work.id}", version=version
            )
            self.summary.purchases["placed"] += 1
            return f"{work.id} placed with {order['supplier']}"
        if status == "placed":
            lead = max(SKU_BY_CODE[line["sku"]].lead_time_days for line in order["lines"])
            promised = date.fromisoformat(order["placed_on"]) + timedelta(days=lead)
            work.order = await self._api(
                "POST",
                f"{path}/confirm",
                f"confirm {work.id}",
                json={"promised_on": promised.isoformat()},
                version=version,
            )
            work.due_tick = self.tick + (
                self.LATE_ARRIVAL_TICKS if work.late else self.ON_TIME_ARRIVAL_TICKS
            )
            return f"{work.id} confirmed by {order['supplier']} for {promised.isoformat()}"
        if status in ("confirmed", "partially_received") and self.tick >= work.due_tick:
            return await self._receive(work, order)
        return None

    async def _receive(self, work: PurchaseWork, order: dict[str, Any]) -> str:
        placed_on = date.fromisoformat(order["placed_on"])
        promised_on = date.fromisoformat(order["promised_on"])
        first = order["status"] == "confirmed"
        partial = first and work.partial
        if work.late:
            received_on = (
                promised_on + timedelta(days=self.rng.randint(1, 3))
                if first or work.first_received_on is None
                else work.first_received_on + timedelta(days=self.rng.randint(1, 3))
            )
        else:
            received_on = max(
                placed_on,
                promised_on - timedelta(days=self.rng.randint(1, 2)) if first else promised_on,
            )
        lines = []
        for line in order["lines"]:
            outstanding = _amount(line["outstanding"])
            if outstanding <= 0:
                continue
            if partial:
                accepted = max(Decimal(1), (outstanding * Decimal("0.6")).to_integral_value())
                rejected = Decimal(self.rng.randint(1, 3))
            else:
                accepted = outstanding
                rejected = Decimal(self.rng.randint(1, 2) if self.rng.random() < 0.15 else 0)
            lines.append({"sku": line["sku"], "accepted": str(accepted), "rejected": str(rejected)})
        work.order = await self._api(
            "POST",
            f"/purchase-orders/{work.id}/receipts",
            f"receive {work.id}",
            json={"received_on": received_on.isoformat(), "lines": lines},
            version=order["version"],
        )
        receipt = work.order["receipts"][-1]
        on_time = bool(receipt["on_time"])
        self.summary.purchases["received on time" if on_time else "received late"] += 1
        accepted_total = sum((_amount(line["accepted"]) for line in lines), Decimal(0))
        rejected_total = sum((_amount(line["rejected"]) for line in lines), Decimal(0))
        self.summary.add_units("received", accepted_total)
        self.summary.add_units("rejected", rejected_total)
        if work.order["status"] == "partially_received":
            self.summary.purchases["partial deliveries"] += 1
            work.first_received_on = received_on
            work.due_tick = self.tick + self.SECOND_DELIVERY_TICKS
        else:
            self.purchases.remove(work)
        timing = "on time" if on_time else "late"
        return (
            f"{work.id} goods received {received_on.isoformat()} ({timing}, promised "
            f"{promised_on.isoformat()}): {_units(accepted_total)} accepted, "
            f"{_units(rejected_total)} rejected -> {work.order['status']}"
        )

    def _covered(self) -> set[tuple[str, str]]:
        """(warehouse, SKU) pairs an open purchase order already brings in."""
        covered: set[tuple[str, str]] = set()
        for work in self.purchases:
            if work.order is not None:
                warehouse = work.order["warehouse"]
                covered.update((warehouse, line["sku"]) for line in work.order["lines"])
        return covered

    async def _draft_purchase(self) -> str | None:
        page = await self._api(
            "GET",
            "/inventory",
            "read low stock",
            params={"below_reorder_point": "true", "limit": 100},
        )
        covered = self._covered()
        low = [
            level
            for level in page["items"]
            if (level["warehouse"], level["sku"]) not in covered and level["sku"] in SKU_BY_CODE
        ]
        low.sort(
            key=lambda level: (
                _amount(level["available"]) / SKU_BY_CODE[level["sku"]].reorder_point,
                level["warehouse"],
                level["sku"],
            )
        )
        if low:
            warehouse, sku = low[0]["warehouse"], SKU_BY_CODE[low[0]["sku"]]
            available = _amount(low[0]["available"])
            reason = f"available {_units(available)} <= reorder point {sku.reorder_point}"
        elif self.rng.random() < 0.25:
            warehouse = self.rng.choice(WAREHOUSES).code
            sku = self.rng.choice(SKUS)
            if (warehouse, sku.code) in covered:
                return None
            available, reason = Decimal(sku.reorder_point), "routine order"
        else:
            return None
        lines = [self._order_line(sku, available)]
        if self.rng.random() < 0.3:
            extras = [
                other
                for other in SKUS
                if other.supplier == sku.supplier
                and other.code != sku.code
                and (warehouse, other.code) not in covered
            ]
            if extras:
                extra = self.rng.choice(extras)
                lines.append(self._order_line(extra, Decimal(extra.reorder_point)))
        order_id = self._next("PO")
        order = await self._api(
            "POST",
            "/purchase-orders",
            f"draft {order_id}",
            json={"id": order_id, "supplier": sku.supplier, "warehouse": warehouse, "lines": lines},
        )
        self._drafted += 1
        hot = any((warehouse, line["sku"]) == HOT_ITEM for line in lines)
        late = self._drafted == 2 or hot or (self._drafted > 2 and self.rng.random() < 0.3)
        partial = self._drafted == 1 or self.rng.random() < 0.4
        self.purchases.append(PurchaseWork(order_id, late, partial, order=order))
        self.summary.purchases["drafted"] += 1
        summary = ", ".join(f"{line['quantity']} {line['sku']}" for line in lines)
        return f"{order_id} drafted for {warehouse} from {sku.supplier} ({reason}): {summary}"

    def _order_line(self, sku: SkuSpec, available: Decimal) -> dict[str, Any]:
        target = Decimal(2 * sku.reorder_point + sku.safety_stock)
        quantity = max(Decimal(20), Decimal(math.ceil((target - available) / 10) * 10))
        price = (Decimal(sku.cost) * Decimal(str(1 + self.rng.uniform(-0.05, 0.05)))).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_EVEN
        )
        return {
            "sku": sku.code,
            "quantity": str(quantity),
            "unit_price": {"amount": str(price), "currency": "EUR"},
        }

    # Shipping -------------------------------------------------------------------

    def _next_shipment(self) -> ShipmentWork | None:
        for _ in range(len(self.shipments)):
            work = self.shipments[0]
            self.shipments.rotate(-1)
            if work.hold > 0:
                work.hold -= 1
                continue
            return work
        return None

    async def _shipping(self) -> str | None:
        work = self._next_shipment()
        if work is None:
            return None
        if work.shipment is None:
            work.shipment = await self._api("GET", f"/shipments/{work.id}", f"read {work.id}")
        try:
            return await self._advance_shipment(work)
        except Exception:
            work.shipment = None  # read it again on its next turn
            raise

    async def _advance_shipment(self, work: ShipmentWork) -> str:
        shipment = work.shipment
        assert shipment is not None
        status, version = shipment["status"], shipment["version"]
        path = f"/shipments/{work.id}"
        if status == "delivered":
            self.shipments.remove(work)
            return f"{work.id} delivered ({'late' if self._late(shipment) else 'on time'})"
        if status == "planned":
            work.shipment = await self._api(
                "POST", f"{path}/dispatch", f"dispatch {work.id}", json={}, version=version
            )
            self.summary.shipments["dispatched"] += 1
            return f"{work.id} dispatched from {shipment['warehouse']} to {shipment['account']}"
        if self.carrier is not None:
            return await self._script_carrier(work, shipment)
        return await self._track_directly(work, shipment, version)

    @staticmethod
    def _late(shipment: dict[str, Any]) -> bool:
        return _moment(shipment["eta"]) > _moment(shipment["planned_delivery"])

    def _times(self, work: ShipmentWork, shipment: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Actual (departure, arrival) per leg: the plan, give or take; the delay, for
        a delayed shipment, lands on its last leg."""
        reached = _moment(shipment["dispatched_at"])
        times = []
        legs = shipment["legs"]
        for leg in legs:
            departed = (
                _moment(leg["departed_at"])
                if leg["departed_at"]
                else max(
                    reached + timedelta(minutes=5),
                    _moment(leg["planned_departure"])
                    + timedelta(minutes=self.rng.randint(-10, 20)),
                )
            )
            late = work.delay if work.delayed and leg is legs[-1] else timedelta(0)
            arrived = (
                _moment(leg["arrived_at"])
                if leg["arrived_at"]
                else max(
                    departed + timedelta(minutes=30),
                    _moment(leg["planned_arrival"])
                    + late
                    + timedelta(minutes=self.rng.randint(-40, 0)),
                )
            )
            times.append((leg, departed, arrived))
            reached = arrived
        return times

    async def _track_directly(
        self, work: ShipmentWork, shipment: dict[str, Any], version: int
    ) -> str:
        path = f"/shipments/{work.id}"
        legs = shipment["legs"]
        if work.delayed and not self._late(shipment) and legs[0]["departed_at"]:
            eta = _moment(shipment["planned_delivery"]) + work.delay
            work.shipment = await self._api(
                "POST", f"{path}/eta", f"ETA {work.id}", json={"eta": _text(eta)}, version=version
            )
            work.hold = self.DELAYED_HOLD_VISITS
            self.summary.shipments["delayed"] += 1
            return f"{work.id} ETA {_text(eta)}: {work.shipment['status']}"
        for leg, departed, arrived in self._times(work, shipment):
            number = leg["sequence"]
            if not leg["departed_at"]:
                work.shipment = await self._api(
                    "POST",
                    f"{path}/legs/{number}/departure",
                    f"departure {work.id}/{number}",
                    json={"departed_at": _text(departed)},
                    version=version,
                )
                self.summary.shipments["legs departed"] += 1
                return f"{work.id} leg {number} left {leg['origin']} at {_text(departed)}"
            if not leg["arrived_at"]:
                work.shipment = await self._api(
                    "POST",
                    f"{path}/legs/{number}/arrival",
                    f"arrival {work.id}/{number}",
                    json={"arrived_at": _text(arrived)},
                    version=version,
                )
                self.summary.shipments["legs arrived"] += 1
                return f"{work.id} leg {number} reached {leg['destination']} at {_text(arrived)}"
        delivered_at = _moment(legs[-1]["arrived_at"])
        work.shipment = await self._api(
            "POST",
            f"{path}/deliver",
            f"deliver {work.id}",
            json={"delivered_at": _text(delivered_at)},
            version=version,
        )
        self.shipments.remove(work)
        late = self._late(work.shipment)
        self.summary.shipments["delivered late" if late else "delivered on time"] += 1
        return f"{work.id} delivered at {_text(delivered_at)} ({'late' if late else 'on time'})"

    # The carrier ----------------------------------------------------------------

    def _carrier_script(self, work: ShipmentWork, shipment: dict[str, Any]) -> list[CarrierStep]:
        """What the carrier will report, in order: its first estimate, a label scan
        (a code the supply chain does not use), then the legs' scans, with an
        exception and a later estimate for a delayed shipment."""
        planned = _moment(shipment["planned_delivery"])
        origin = shipment["legs"][0]["origin"]
        dispatched = _moment(shipment["dispatched_at"])
        steps = [
            CarrierStep("estimate", {"estimated_delivery": _text(planned)}),
            self._checkpoint("INFO_RECEIVED", dispatched, origin, "Shipment information received"),
        ]
        times = self._times(work, shipment)
        last = len(times) - 1
        for number, (leg, departed, arrived) in enumerate(times):
            if number == 0:
                code, text = "PICKED_UP", "Picked up from the warehouse"
            elif number == last:
                code, text = "OUT_FOR_DELIVERY", "Out for delivery"
            else:
                code, text = "IN_TRANSIT", "Departed facility"
            steps.append(self._checkpoint(code, departed, leg["origin"], text))
            if number == 0 and work.delayed:
                steps.append(
                    self._checkpoint(
                        "EXCEPTION",
                        departed + timedelta(minutes=30),
                        leg["destination"],
                        "Missed linehaul connection",
                        estimated_delivery=_text(planned + work.delay),
                    )
                )
            if number == last:
                steps.append(
                    self._checkpoint("DELIVERED", arrived, leg["destination"], "Delivered")
                )
            else:
                steps.append(
                    self._checkpoint(
                        "IN_TRANSIT", arrived, leg["destination"], "Arrived at facility"
                    )
                )
        return steps

    @staticmethod
    def _checkpoint(
        code: str, at: datetime, location: str, description: str, **extra: Any
    ) -> CarrierStep:
        return CarrierStep(
            "checkpoint",
            {
                "code": code,
                "checkpoint_time": _text(at),
                "location_code": location,
                "description": description,
                **extra,
            },
        )

    async def _script_carrier(self, work: ShipmentWork, shipment: dict[str, Any]) -> str:
        assert self.carrier is not None
        if work.script is None:
            work.script, work.position = self._carrier_script(work, shipment), 0
        step = work.script[work.position]
        path = f"/v1/trackings/{work.id}"
        if step.kind == "estimate":
            response = await self._send(self.carrier, "PUT", f"{path}/estimate", json=step.body)
            what = f"estimate {step.body['estimated_delivery']}"
        else:
            response = await self._send(self.carrier, "POST", f"{path}/checkpoints", json=step.body)
            what = f"{step.body['code']} at {step.body['location_code']}"
        if response.status_code not in (200, 201):
            raise ApiProblem(f"carrier {what}", response)
        work.position += 1
        self.summary.shipments["carrier updates"] += 1
        if step.body.get("code") == "EXCEPTION":
            self.summary.shipments["delayed"] += 1
            work.hold = self.DELAYED_HOLD_VISITS
        if work.position >= len(work.script):
            self.shipments.remove(work)
            self.summary.shipments["handed to carrier tracking"] += 1
        return f"{work.id} carrier reports {what}"


async def simulate(
    api_url: str,
    *,
    carrier_url: str | None = None,
    carrier_api_key: str | None = None,
    seed: int = 7,
    rate: float = 2.0,
    duration: float | None = None,
    quiet: bool = False,
    stop: asyncio.Event | None = None,
    console: Console | None = None,
    auth: httpx.Auth | None = None,
) -> Summary:
    """Run the scenario against the API at ``api_url`` until ``duration`` or ``stop``;
    with ``auth`` (client credentials) when the API wants tokens."""
    console = console or Console()
    timeout = httpx.Timeout(10.0, connect=3.0)
    async with contextlib.AsyncExitStack() as stack:
        api = await stack.enter_async_context(
            httpx.AsyncClient(base_url=api_url, timeout=timeout, auth=auth)
        )
        carrier = None
        if carrier_url:
            headers = {"X-Api-Key": carrier_api_key} if carrier_api_key else {}
            carrier = await stack.enter_async_context(
                httpx.AsyncClient(base_url=carrier_url, timeout=timeout, headers=headers)
            )
        simulator = Simulator(api, carrier=carrier, seed=seed, console=console, quiet=quiet)
        return await simulator.run(rate=rate, duration=duration, stop=stop)
