"""The shipping lane: planned shipments dispatched and tracked leg by leg to delivery,
directly through the API or by scripting the fake carrier."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from contexts.supply_chain.demo.scenario import (
    ApiProblem,
    CarrierStep,
    ShipmentWork,
    as_text,
    parse_moment,
)

if TYPE_CHECKING:
    from contexts.supply_chain.demo.simulator import Simulator


class ShippingLane:
    """Shipments from dispatch to delivery, tracked leg by leg.

    Shares the scenario's state through ``core``: the simulator's queues, random
    generator and API client.
    """

    def __init__(self, core: Simulator) -> None:
        self.core = core

    def _next_shipment(self) -> ShipmentWork | None:
        for _ in range(len(self.core.shipments)):
            work = self.core.shipments[0]
            self.core.shipments.rotate(-1)
            if work.hold > 0:
                work.hold -= 1
                continue
            return work
        return None

    async def step(self) -> str | None:
        work = self._next_shipment()
        if work is None:
            return None
        if work.shipment is None:
            work.shipment = await self.core.call("GET", f"/shipments/{work.id}", f"read {work.id}")
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
            self.core.shipments.remove(work)
            return f"{work.id} delivered ({'late' if self._late(shipment) else 'on time'})"
        if status == "planned":
            work.shipment = await self.core.call(
                "POST", f"{path}/dispatch", f"dispatch {work.id}", json={}, version=version
            )
            self.core.summary.shipments["dispatched"] += 1
            return f"{work.id} dispatched from {shipment['warehouse']} to {shipment['account']}"
        if self.core.carrier is not None:
            return await self._script_carrier(work, shipment)
        return await self._track_directly(work, shipment, version)

    @staticmethod
    def _late(shipment: dict[str, Any]) -> bool:
        return parse_moment(shipment["eta"]) > parse_moment(shipment["planned_delivery"])

    def _times(self, work: ShipmentWork, shipment: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Actual (departure, arrival) per leg: the plan, give or take; the delay, for
        a delayed shipment, lands on its last leg."""
        reached = parse_moment(shipment["dispatched_at"])
        times = []
        legs = shipment["legs"]
        for leg in legs:
            departed = (
                parse_moment(leg["departed_at"])
                if leg["departed_at"]
                else max(
                    reached + timedelta(minutes=5),
                    parse_moment(leg["planned_departure"])
                    + timedelta(minutes=self.core.rng.randint(-10, 20)),
                )
            )
            late = work.delay if work.delayed and leg is legs[-1] else timedelta(0)
            arrived = (
                parse_moment(leg["arrived_at"])
                if leg["arrived_at"]
                else max(
                    departed + timedelta(minutes=30),
                    parse_moment(leg["planned_arrival"])
                    + late
                    + timedelta(minutes=self.core.rng.randint(-40, 0)),
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
            eta = parse_moment(shipment["planned_delivery"]) + work.delay
            work.shipment = await self.core.call(
                "POST", f"{path}/eta", f"ETA {work.id}", json={"eta": as_text(eta)}, version=version
            )
            work.hold = self.core.DELAYED_HOLD_VISITS
            self.core.summary.shipments["delayed"] += 1
            return f"{work.id} ETA {as_text(eta)}: {work.shipment['status']}"
        for leg, departed, arrived in self._times(work, shipment):
            number = leg["sequence"]
            if not leg["departed_at"]:
                work.shipment = await self.core.call(
                    "POST",
                    f"{path}/legs/{number}/departure",
                    f"departure {work.id}/{number}",
                    json={"departed_at": as_text(departed)},
                    version=version,
                )
                self.core.summary.shipments["legs departed"] += 1
                return f"{work.id} leg {number} left {leg['origin']} at {as_text(departed)}"
            if not leg["arrived_at"]:
                work.shipment = await self.core.call(
                    "POST",
                    f"{path}/legs/{number}/arrival",
                    f"arrival {work.id}/{number}",
                    json={"arrived_at": as_text(arrived)},
                    version=version,
                )
                self.core.summary.shipments["legs arrived"] += 1
                return f"{work.id} leg {number} reached {leg['destination']} at {as_text(arrived)}"
        delivered_at = parse_moment(legs[-1]["arrived_at"])
        work.shipment = await self.core.call(
            "POST",
            f"{path}/deliver",
            f"deliver {work.id}",
            json={"delivered_at": as_text(delivered_at)},
            version=version,
        )
        self.core.shipments.remove(work)
        late = self._late(work.shipment)
        self.core.summary.shipments["delivered late" if late else "delivered on time"] += 1
        return f"{work.id} delivered at {as_text(delivered_at)} ({'late' if late else 'on time'})"

    def _carrier_script(self, work: ShipmentWork, shipment: dict[str, Any]) -> list[CarrierStep]:
        """What the carrier will report, in order: its first estimate, a label scan
        (a code the supply chain does not use), then the legs' scans, with an
        exception and a later estimate for a delayed shipment."""
        planned = parse_moment(shipment["planned_delivery"])
        origin = shipment["legs"][0]["origin"]
        dispatched = parse_moment(shipment["dispatched_at"])
        steps = [
            CarrierStep("estimate", {"estimated_delivery": as_text(planned)}),
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
                        estimated_delivery=as_text(planned + work.delay),
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
                "checkpoint_time": as_text(at),
                "location_code": location,
                "description": description,
                **extra,
            },
        )

    async def _script_carrier(self, work: ShipmentWork, shipment: dict[str, Any]) -> str:
        assert self.core.carrier is not None
        if work.script is None:
            work.script, work.position = self._carrier_script(work, shipment), 0
        step = work.script[work.position]
        path = f"/v1/trackings/{work.id}"
        if step.kind == "estimate":
            response = await self.core.send(
                self.core.carrier, "PUT", f"{path}/estimate", json=step.body
            )
            what = f"estimate {step.body['estimated_delivery']}"
        else:
            response = await self.core.send(
                self.core.carrier, "POST", f"{path}/checkpoints", json=step.body
            )
            what = f"{step.body['code']} at {step.body['location_code']}"
        if response.status_code not in (200, 201):
            raise ApiProblem(f"carrier {what}", response)
        work.position += 1
        self.core.summary.shipments["carrier updates"] += 1
        if step.body.get("code") == "EXCEPTION":
            self.core.summary.shipments["delayed"] += 1
            work.hold = self.core.DELAYED_HOLD_VISITS
        if work.position >= len(work.script):
            self.core.shipments.remove(work)
            self.core.summary.shipments["handed to carrier tracking"] += 1
        return f"{work.id} carrier reports {what}"
