"""The demand lane: customer orders reserve stock, returns come back, reserved orders are
fulfilled by planning a shipment with its route legs."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from contexts.supply_chain.demo.scenario import (
    ACCOUNTS,
    API,
    HOT_ITEM,
    SKUS,
    WAREHOUSES,
    ApiProblem,
    CustomerOrder,
    ShipmentWork,
    as_amount,
    as_text,
    as_units,
    problem_rule,
)

if TYPE_CHECKING:
    from contexts.supply_chain.demo.simulator import Simulator


class DemandLane:
    """Customer demand: orders, returns, fulfilment into planned shipments.

    Shares the scenario's state through ``core``: the simulator's queues, random
    generator and API client.
    """

    def __init__(self, core: Simulator) -> None:
        self.core = core

    async def demand(self) -> str | None:
        if len(self.core.pending) >= self.core.MAX_PENDING_ORDERS:
            return None
        draw = self.core.rng.random()
        if draw < 0.1:
            return await self._customer_return()
        if draw < 0.6:
            warehouse, sku = HOT_ITEM
            account = self.core.rng.choice(ACCOUNTS)
            lines = {sku: Decimal(self.core.rng.randint(3, 8))}
        else:
            warehouse = self.core.rng.choice(WAREHOUSES).code
            account = self.core.rng.choice(ACCOUNTS)
            choices = [s.code for s in SKUS if (warehouse, s.code) != HOT_ITEM]
            skus = self.core.rng.sample(choices, self.core.rng.choice((1, 1, 2)))
            big = account.code.startswith("ACC-ENT")
            lines = {
                code: Decimal(self.core.rng.randint(4, 12) if big else self.core.rng.randint(1, 4))
                for code in skus
            }
        order = CustomerOrder(self.core.next_id("SO"), warehouse, account, {})
        outcome: list[str] = []
        try:
            for sku, quantity in lines.items():
                response = await self.core.send(
                    self.core.api,
                    "POST",
                    f"{API}/inventory/{warehouse}/{sku}/reserve",
                    json={"reference": order.reference, "quantity": str(quantity)},
                )
                if response.status_code == 409 and problem_rule(response) == "insufficient_stock":
                    self.core.summary.lost_orders[sku] += 1
                    outcome.append(f"{as_units(quantity)} {sku} out of stock")
                    continue
                if response.status_code != 200:
                    raise ApiProblem(f"reserve {sku}", response)
                level = response.json()
                self.core.summary.observe(level)
                self.core.summary.add_units("reserved", quantity)
                order.lines[sku] = quantity
                outcome.append(
                    f"{as_units(quantity)} {sku} "
                    f"(available {as_units(as_amount(level['available']))})"
                )
        finally:
            if order.lines:
                self.core.pending.append(order)
        verb = "reserved" if order.lines else "lost"
        return f"{order.reference} {verb} @ {warehouse} for {account.code}: " + ", ".join(outcome)

    async def _customer_return(self) -> str:
        warehouse = self.core.rng.choice(WAREHOUSES).code
        sku = self.core.rng.choice([s.code for s in SKUS if (warehouse, s.code) != HOT_ITEM])
        quantity = Decimal(self.core.rng.randint(1, 3))
        reference = self.core.next_id("RMA")
        level = await self.core.call(
            "POST",
            f"/inventory/{warehouse}/{sku}/receive",
            f"return {sku}",
            json={"quantity": str(quantity), "reference": reference},
        )
        self.core.summary.observe(level)
        self.core.summary.add_units("received", quantity)
        self.core.summary.add_units("returned", quantity)
        return f"{reference} customer return: {as_units(quantity)} {sku} back in {warehouse}"

    async def fulfil(self) -> str | None:
        if not self.core.pending:
            return None
        order = self.core.pending[0]
        for sku in order.lines:
            if sku in order.shipped:
                continue
            response = await self.core.send(
                self.core.api,
                "POST",
                f"{API}/inventory/{order.warehouse}/{sku}/ship",
                json={"reference": order.reference},
            )
            if response.status_code in (404, 409):  # the reservation is gone: drop it
                order.shipped.add(sku)
                raise ApiProblem(f"ship {order.reference} {sku}", response)
            if response.status_code != 200:
                raise ApiProblem(f"ship {order.reference} {sku}", response)
            self.core.summary.observe(response.json())
            self.core.summary.add_units("shipped", order.lines[sku])
            order.shipped.add(sku)
        self.core.pending.popleft()
        if len(self.core.shipments) >= self.core.MAX_ACTIVE_SHIPMENTS:
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
            hours = self.core.rng.randint(5, 9) if number == 0 else self.core.rng.randint(1, 4)
            arrival = departure + timedelta(hours=hours)
            legs.append(
                {
                    "origin": origin,
                    "destination": destination,
                    "carrier": "Kestrel Freight" if number == 0 else "CityVan",
                    "planned_departure": as_text(departure),
                    "planned_arrival": as_text(arrival),
                }
            )
            departure = arrival + timedelta(hours=self.core.rng.randint(1, 3))
        return legs

    async def _plan_shipment(self, order: CustomerOrder) -> str:
        start = self.core.clock().replace(second=0, microsecond=0)
        shipment_id = self.core.next_id("SHP")
        body = {
            "id": shipment_id,
            "account": order.account.code,
            "warehouse": order.warehouse,
            "lines": [
                {"sku": sku, "quantity": str(quantity)} for sku, quantity in order.lines.items()
            ],
            "legs": self._route(order, start),
        }
        shipment = await self.core.call("POST", "/shipments", f"plan {shipment_id}", json=body)
        work = self.shipment_work(shipment_id)
        work.shipment = shipment
        self.core.shipments.append(work)
        self.core.summary.shipments["planned"] += 1
        return shipment_id

    def shipment_work(self, shipment_id: str) -> ShipmentWork:
        """The first shipment is delayed, then about one in four."""
        self.core.planned += 1
        delayed = self.core.planned == 1 or self.core.rng.random() < 0.25
        return ShipmentWork(shipment_id, delayed, timedelta(hours=self.core.rng.randint(3, 9)))
