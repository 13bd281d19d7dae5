"""The scenario simulator: a day in Kestrel Devices' supply chain, one call at a time.

This module is the core (ticks, HTTP, set-up); each lane is a class of its own in
``demand.py``, ``purchasing.py`` and ``shipping.py``, and the reference data and work
items are in ``scenario.py``.

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
import random
import uuid
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from rich.console import Console

from contexts.supply_chain.demo.demand import DemandLane
from contexts.supply_chain.demo.purchasing import PurchasingLane
from contexts.supply_chain.demo.scenario import (
    ACCOUNTS,
    ACTIVE_SHIPMENT_STATUSES,
    API,
    FALLBACK,
    HOT_ITEM,
    HOT_OPENING_STOCK,
    LANES,
    OPEN_PO_STATUSES,
    SKUS,
    SUPPLIERS,
    WAREHOUSES,
    ApiProblem,
    CustomerOrder,
    PurchaseWork,
    ShipmentWork,
    Summary,
    as_amount,
    counts_text,
)
from contexts.supply_chain.demo.shipping import ShippingLane

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
        self.drafted = 0
        self.planned = 0
        self.demand = DemandLane(self)
        self.purchasing = PurchasingLane(self)
        self.shipping = ShippingLane(self)

    # HTTP -----------------------------------------------------------------------

    def next_id(self, prefix: str) -> str:
        self._serials[prefix] += 1
        return f"{prefix}-{self.run_tag}-{self._serials[prefix]:04d}"

    async def send(
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
            headers["Idempotency-Key"] = self.next_id("sim")
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

    async def call(
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
        response = await self.send(
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
                return await self.demand.demand()
            case "fulfil":
                return await self.demand.fulfil()
            case "purchasing":
                return await self.purchasing.step()
            case "shipping":
                return await self.shipping.step()
        raise ValueError(f"no lane {lane}")

    # Set-up ---------------------------------------------------------------------

    async def _register(self, kind: str, path: str, body: dict[str, Any]) -> None:
        response = await self.send(self.api, "POST", f"{API}{path}", json=body)
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
            f"reference data: {counts_text(self.summary.reference)}; opening stock: {opened} "
            f"item(s) topped up; adopted {adopted} open order(s) and shipment(s)",
        )

    async def _open_stock(self) -> int:
        page = await self.call("GET", "/inventory", "read inventory", params={"limit": 500})
        levels = {(level["warehouse"], level["sku"]): level for level in page["items"]}
        topped = 0
        for warehouse in WAREHOUSES:
            for sku in SKUS:
                key = (warehouse.code, sku.code)
                target = Decimal(HOT_OPENING_STOCK if key == HOT_ITEM else sku.opening_stock)
                level = levels.get(key)
                on_hand = Decimal(0) if level is None else as_amount(level["on_hand"])
                path = f"/inventory/{warehouse.code}/{sku.code}"
                if on_hand < target:
                    body = await self.call(
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
                    counted = max(target, as_amount(level["reserved"]))
                    if counted < on_hand:
                        body = await self.call(
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
            page = await self.call(
                "GET", "/purchase-orders", "list orders", params={"status": status, "limit": 50}
            )
            for order in page["items"]:
                if order["id"] not in known:
                    late, partial = self.rng.random() < 0.3, self.rng.random() < 0.4
                    self.purchases.append(PurchaseWork(order["id"], late, partial))
                    adopted += 1
        known = {work.id for work in self.shipments}
        for status in ACTIVE_SHIPMENT_STATUSES:
            page = await self.call(
                "GET", "/shipments", "list shipments", params={"status": status, "limit": 50}
            )
            for shipment in page["items"]:
                if shipment["id"] not in known:
                    self.shipments.append(self.demand.shipment_work(shipment["id"]))
                    adopted += 1
        return adopted

    # Demand ---------------------------------------------------------------------


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
