"""What the end-to-end scenario deploys, and how it drives and reads the deployment.

The deployment is the supply chain as ``dpmesh run supply_chain api`` and ``dpmesh run
supply_chain worker`` run it, both in the test's event loop: one container per
process, on the same settings, so the API (with the outbox relay inside, woken after
each commit) and the stream worker share nothing but the databases and the broker.

Two things are not production's defaults, both for isolation on a broker that other
tests (and other runs) share: every topic the context reads or writes gets a unique
name, and so does the worker's faust app id (its consumer group and changelogs). Both
come in through the container's ``analytics_topics`` and ``stream_app_id`` providers,
which the outbox's routing and ``bootstrap.run_worker`` read.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from contexts.supply_chain.interfaces.streams import AnalyticsTopics
from shared_kernel.infrastructure.database import is_sqlite

#: Partitions of every topic of the scenario (domain, internal, changelogs, alerts).
PARTITIONS = 2

#: The fields of every product row that say how fresh it is.
FRESHNESS = ("as_of", "materialized_at", "freshness_ms")

#: The context's ODPS product files and ODCS contracts.
DATAPRODUCTS = Path(__file__).resolve().parents[2] / "dataproduct"

#: The data products, each with the path of one row's own resource under its list.
PRODUCTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "inventory-levels": lambda row: f"{row['warehouse']}/{row['sku']}",
    "supplier-performance": lambda row: str(row["supplier"]),
    "alerts": lambda row: str(row["alert_id"]),
    "delivery-timelines": lambda row: str(row["shipment_id"]),
}


def freshness_objective_s(product: str) -> float:
    """The product's freshness objective from its ODPS file: the most seconds from a
    fact (``as_of``) to its row in the read store (``materialized_at``)."""
    document = yaml.safe_load((DATAPRODUCTS / f"{product}.odps.yaml").read_text())
    for custom in document.get("customProperties", ()):
        if custom["property"] == "serviceLevelObjectives":
            for objective in custom["value"]:
                if objective["sli"] == "freshness_ms":
                    return float(objective["mustBeLessOrEqualTo"]) / 1000
    raise LookupError(f"{product} states no freshness objective")


# -- time ------------------------------------------------------------------------------


class ScriptClock:
    """The wall clock, except while the script records history at a moment it chooses.

    Purchase orders placed weeks ago are how supplier lead times come about; the API
    takes the placing day from the clock, so the script sets the clock back for those
    commands (:meth:`at`) and lets it run with the wall clock otherwise. Everything the
    data products are computed from happens at wall time, so their freshness is real.
    """

    def __init__(self) -> None:
        self._pinned: datetime | None = None

    def now(self) -> datetime:
        return self._pinned if self._pinned is not None else datetime.now(UTC)

    @contextlib.contextmanager
    def at(self, moment: datetime) -> Iterator[None]:
        self._pinned = moment
        try:
            yield
        finally:
            self._pinned = None


@dataclass(frozen=True, slots=True)
class Moment:
    """When a command ran: the wall clock before the request and after the response."""

    started: datetime
    finished: datetime

    def __contains__(self, instant: datetime) -> bool:
        return self.started <= instant <= self.finished


# -- topics and the worker -------------------------------------------------------------


def unique_topics(unique: Callable[[str], str]) -> AnalyticsTopics:
    """The context's published topic names, each made unique by ``unique``."""
    published = AnalyticsTopics()
    return AnalyticsTopics(
        warehouse=unique(published.warehouse),
        sku=unique(published.sku),
        supplier=unique(published.supplier),
        inventory=unique(published.inventory),
        purchase_order=unique(published.purchase_order),
        shipment=unique(published.shipment),
        alerts=unique(published.alerts),
    )


def domain_topics(topics: AnalyticsTopics) -> list[str]:
    return [
        topics.warehouse,
        topics.sku,
        topics.supplier,
        topics.inventory,
        topics.purchase_order,
        topics.shipment,
    ]


# -- the read store's own database -----------------------------------------------------


@contextlib.asynccontextmanager
async def analytics_database(database_url: str, directory: Path) -> AsyncIterator[str]:
    """An empty database for the read store, beside the operational one (ADR 0001).

    On SQLite a second file in ``directory``; on PostgreSQL a second database on the
    same server, named after the operational one and dropped afterwards.
    """
    if is_sqlite(database_url):
        yield f"sqlite+aiosqlite:///{(directory / 'analytics.db').resolve()}"
        return
    url = make_url(database_url)
    name = f"{url.database}_analytics"
    quoted = '"' + name.replace('"', '""') + '"'
    admin = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        await admin.dispose()


# -- driving the API -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Leg:
    origin: str
    destination: str
    carrier: str
    departure: datetime
    arrival: datetime


@dataclass
class Operations:
    """The operational REST API as the script uses it: every command checked and timed.

    ``moments[label]`` is when each command ran; ``last_command_done`` the monotonic
    time the newest command's response arrived, where "within a second of the last
    command" starts.
    """

    client: httpx.AsyncClient
    clock: ScriptClock
    moments: dict[str, Moment] = field(default_factory=dict)
    last_command_done: float = 0.0

    async def command(
        self, label: str, path: str, body: dict[str, Any] | None = None, *, status: int = 200
    ) -> dict[str, Any]:
        if label in self.moments:
            raise ValueError(f"two commands labelled {label!r}")
        started = datetime.now(UTC)
        response = await self.client.post(f"/api/v1{path}", json=body)
        self.last_command_done = time.monotonic()
        self.moments[label] = Moment(started, datetime.now(UTC))
        assert response.status_code == status, f"{label}: {response.status_code} {response.text}"
        answer: dict[str, Any] = response.json()
        return answer

    async def read(self, path: str, **params: Any) -> Any:
        response = await self.client.get(f"/api/v1{path}", params=params)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    async def read_timed(self, path: str, **params: Any) -> tuple[Any, Moment]:
        started = datetime.now(UTC)
        answer = await self.read(path, **params)
        return answer, Moment(started, datetime.now(UTC))

    async def stock(self, label: str, item: str, *, quantity: int = 0, reference: str = "") -> None:
        """A stock movement on ``item`` (``<warehouse>/<sku>``); ``label`` starts with
        the action (receive, reserve, ship)."""
        body: dict[str, Any] = {"reference": reference} if reference else {}
        if quantity:
            body["quantity"] = str(quantity)
        await self.command(label, f"/inventory/{item}/{label.split()[0]}", body)

    async def purchase(
        self,
        order: str,
        supplier: str,
        warehouse: str,
        line: tuple[str, int, str],
        *,
        placed_on: date,
        promised_on: date,
    ) -> None:
        """Draft, place and confirm ``order`` (one line: SKU, quantity, unit price in
        EUR) at 10:00 on ``placed_on``, the clock set back to that morning."""
        sku, quantity, price = line
        price_eur = {"amount": price, "currency": "EUR"}
        lines = [{"sku": sku, "quantity": str(quantity), "unit_price": price_eur}]
        draft = {"id": order, "supplier": supplier, "warehouse": warehouse, "lines": lines}
        with self.clock.at(datetime.combine(placed_on, clock_time(10, 0), UTC)):
            await self.command(f"draft {order}", "/purchase-orders", draft, status=201)
            placed = await self.command(f"place {order}", f"/purchase-orders/{order}/place")
            promise = {"promised_on": promised_on.isoformat()}
            await self.command(f"confirm {order}", f"/purchase-orders/{order}/confirm", promise)
        assert placed["placed_on"] == placed_on.isoformat()

    async def receive_goods(
        self, label: str, order: str, received_on: date, sku: str, accepted: int, rejected: int
    ) -> tuple[int, bool, str]:
        """A delivery on ``order``; the lead time and timeliness the order records for
        it, and the order's status."""
        inspected = {"sku": sku, "accepted": str(accepted), "rejected": str(rejected)}
        body = {"received_on": received_on.isoformat(), "lines": [inspected]}
        answer = await self.command(label, f"/purchase-orders/{order}/receipts", body)
        receipt = answer["receipts"][-1]
        return receipt["lead_time_days"], receipt["on_time"], answer["status"]

    async def plan_shipment(
        self, shipment: str, account: str, warehouse: str, legs: list[Leg]
    ) -> None:
        """Plan ``shipment`` of two hubs from ``warehouse`` to ``account`` along ``legs``."""
        body = {
            "id": shipment,
            "account": account,
            "warehouse": warehouse,
            "lines": [{"sku": "KD-HUB-200", "quantity": "2"}],
            "legs": [
                {
                    "origin": leg.origin,
                    "destination": leg.destination,
                    "carrier": leg.carrier,
                    "planned_departure": leg.departure.isoformat(),
                    "planned_arrival": leg.arrival.isoformat(),
                }
                for leg in legs
            ],
        }
        await self.command(f"{shipment} planned", "/shipments", body, status=201)

    async def track(self, shipment: str, step: str, at: datetime) -> None:
        """A tracking fact: ``step`` is ``dispatched``, ``leg <n> departed``, ``leg <n>
        arrived``, ``eta <anything>`` or ``delivered``, at ``at``."""
        words = step.split()
        if words[0] == "leg":
            action = {"departed": "departure", "arrived": "arrival"}[words[2]]
            path, name = f"/legs/{words[1]}/{action}", f"{words[2]}_at"
        elif words[0] == "eta":
            path, name = "/eta", "eta"
        else:
            path, name = {"dispatched": "/dispatch", "delivered": "/deliver"}[step], f"{step}_at"
        await self.command(
            f"{shipment} {step}", f"/shipments/{shipment}{path}", {name: at.isoformat()}
        )


# -- reading answers -------------------------------------------------------------------

_DECIMAL = re.compile(r"-?\d+(\.\d+)?")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T.*")


def normalized(value: Any) -> Any:
    """A JSON answer with its exact values as Python values: decimal strings as
    ``Decimal`` (so ``"16.0000"`` equals ``16``), days as ``date``, instants as aware
    ``datetime`` (so ``Z`` equals ``+00:00``)."""
    if isinstance(value, dict):
        return {key: normalized(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalized(item) for item in value]
    if isinstance(value, str):
        if _DECIMAL.fullmatch(value):
            return Decimal(value)
        if _DAY.fullmatch(value):
            return date.fromisoformat(value)
        if _INSTANT.fullmatch(value):
            return datetime.fromisoformat(value)
    return value


def without(item: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key not in names}


def figures(row: dict[str, Any], *volatile: str) -> dict[str, Any]:
    """A product row without the fields that say when (they are checked apart)."""
    return without(normalized(row), *FRESHNESS, *volatile)


def instant(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is not None, f"{text} has no offset"
    return parsed


def ms_between(earlier: datetime, later: datetime) -> int:
    """Milliseconds from ``earlier`` to ``later``, truncated as the API computes them."""
    return max(0, int((later - earlier).total_seconds() * 1000))


async def observe(ops: Operations) -> dict[str, Any]:
    """Every product's rows over HTTP, by natural key, and the draft purchase orders."""
    inventory = await ops.read("/products/inventory-levels")
    suppliers = await ops.read("/products/supplier-performance")
    alerts = await ops.read("/products/alerts")
    timelines = await ops.read("/products/delivery-timelines")
    drafts = await ops.read("/purchase-orders", status="draft")
    return {
        "inventory-levels": {(r["warehouse"], r["sku"]): figures(r) for r in inventory["items"]},
        "supplier-performance": {r["supplier"]: figures(r) for r in suppliers["items"]},
        "alerts": {
            (r["type"], r["subject"]): figures(r, "alert_id", "raised_at", "cleared_at")
            for r in alerts["items"]
        },
        "delivery-timelines": {r["shipment_id"]: figures(r) for r in timelines["items"]},
        "drafts": [without(normalized(o), "id", "drafted_at") for o in drafts["items"]],
    }


def subject(product: str, row: dict[str, Any]) -> str:
    """What a row is about: its item, supplier, alert subject or shipment."""
    if product == "inventory-levels":
        return f"{row['warehouse']}:{row['sku']}"
    names = {"supplier-performance": "supplier", "alerts": "subject"}
    return str(row[names.get(product, "shipment_id")])


async def until_visible(
    ops: Operations, worker: asyncio.Task[None], expected: dict[str, Any], within_s: float
) -> tuple[float, dict[str, float]]:
    """Read until every product equals ``expected``; fail after ``within_s`` seconds
    from the last command's response.

    Returns the seconds from that response to the end of the round of reads in which
    all matched, and the same for each product.
    """
    since = ops.last_command_done
    first_match: dict[str, float] = {}
    while True:
        if worker.done():
            worker.result()
            pytest.fail("the worker stopped during the scenario")
        observed = await observe(ops)
        elapsed = time.monotonic() - since
        for name, value in observed.items():
            if value == expected[name]:
                first_match.setdefault(name, elapsed)
            else:
                first_match.pop(name, None)
        if observed == expected:
            return elapsed, first_match
        if elapsed > within_s:
            differing = {
                name: {"observed": observed[name], "expected": expected[name]}
                for name in expected
                if observed[name] != expected[name]
            }
            pytest.fail(f"not every product matched within {within_s} s: {differing}")
        await asyncio.sleep(0.01)


def assert_fresh(row: dict[str, Any], made: Moment, read: Moment, objective_s: float) -> float:
    """``row`` says how fresh it is, and says it right: ``as_of`` is the event time of
    ``made``, the command that last changed it; ``materialized_at`` follows within the
    product's objective; ``freshness_ms`` is ``now - as_of`` at the moment of ``read``.
    Returns ``materialized_at - as_of`` in seconds (the pipeline's lag for the row)."""
    missing = [name for name in FRESHNESS if name not in row]
    assert not missing, f"{row} lacks {missing}"
    as_of, materialized_at = instant(row["as_of"]), instant(row["materialized_at"])
    assert as_of in made, f"as_of {as_of} is not the time of its command {made}"
    assert as_of <= materialized_at <= read.finished
    lag = (materialized_at - as_of).total_seconds()
    assert lag <= objective_s, f"{lag:.3f} s from the fact to the read store: {row}"
    assert row["freshness_ms"] >= 0
    assert ms_between(as_of, read.started) <= row["freshness_ms"]
    assert row["freshness_ms"] <= ms_between(as_of, read.finished)
    return lag


def assert_fresh_page(page: dict[str, Any], read: Moment) -> None:
    """A list carries the newest ``as_of`` and ``materialized_at`` of its rows, and the
    freshness of the newest."""
    missing = [name for name in FRESHNESS if page.get(name) is None]
    assert not missing, f"the page lacks {missing}"
    as_of = instant(page["as_of"])
    assert as_of == max(instant(row["as_of"]) for row in page["items"])
    newest = max(instant(row["materialized_at"]) for row in page["items"])
    assert instant(page["materialized_at"]) == newest
    assert ms_between(as_of, read.started) <= page["freshness_ms"]
    assert page["freshness_ms"] <= ms_between(as_of, read.finished)
