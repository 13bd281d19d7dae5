"""Tracking shipments with a carrier: the application service on the real handlers
and the fake database, with a scripted carrier behind the CarrierTracking port."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from contexts.supply_chain.application.commands.shipping import (
    DeliverShipment,
    DispatchShipment,
    LegInput,
    PlanShipment,
    RecordLegArrival,
    RecordLegDeparture,
    ShipmentLineInput,
    UpdateShipmentEta,
)
from contexts.supply_chain.application.queries.views import ShipmentDetail
from contexts.supply_chain.application.tracking import (
    CarrierTrackingError,
    LegTracking,
    TrackingReport,
    TrackingUpdate,
    run_tracking_poller,
    track_shipments,
)
from contexts.supply_chain.domain import Shipment, ShipmentId, ShipmentStatus
from contexts.supply_chain.domain.shipping.events import (
    LegArrived,
    LegDeparted,
    ShipmentDelayed,
    ShipmentDelivered,
    ShipmentEtaUpdated,
)
from contexts.supply_chain.tests.fakes import FakeDatabase, FakeReadModel, events_of
from shared_kernel.application import MessageBus

pytestmark = pytest.mark.usefixtures("catalog")

T0 = datetime.fromisoformat("2025-03-04T08:00:00+00:00")
PLANNED_DELIVERY = T0 + timedelta(hours=27)


def hours(amount: float) -> datetime:
    return T0 + timedelta(hours=amount)


class ScriptedCarrier:
    """Answers each shipment with what the test scripted: an update, None (unknown),
    or an error to raise; records what it was asked."""

    def __init__(self) -> None:
        self.script: dict[str, TrackingUpdate | CarrierTrackingError | None] = {}
        self.asked: list[str] = []

    async def track(self, shipment: ShipmentDetail) -> TrackingUpdate | None:
        self.asked.append(shipment.summary.id)
        answer = self.script.get(shipment.summary.id)
        if isinstance(answer, CarrierTrackingError):
            raise answer
        return answer


@pytest.fixture
def carrier() -> ScriptedCarrier:
    return ScriptedCarrier()


@pytest.fixture
def reader(database: FakeDatabase) -> FakeReadModel:
    return FakeReadModel(database)


async def dispatched(bus: MessageBus, shipment_id: str = "SH-1") -> None:
    """A shipment LYS-1 -> HUB-PAR -> CUST-42, dispatched at T0."""
    await bus.handle(
        PlanShipment(
            shipment_id=shipment_id,
            account="ACC-ORBITAL",
            warehouse="LYS-1",
            lines=(ShipmentLineInput(sku="KD-HUB-200", quantity=Decimal(3)),),
            legs=(
                LegInput(
                    origin="LYS-1",
                    destination="HUB-PAR",
                    carrier="RoadCo",
                    planned_departure=hours(1),
                    planned_arrival=hours(7),
                ),
                LegInput(
                    origin="HUB-PAR",
                    destination="CUST-42",
                    carrier="CityVan",
                    planned_departure=hours(24),
                    planned_arrival=PLANNED_DELIVERY,
                ),
            ),
        )
    )
    await bus.handle(DispatchShipment(shipment_id=shipment_id, dispatched_at=T0))


def stored(database: FakeDatabase, shipment_id: str = "SH-1") -> Shipment:
    return database.table(Shipment)[ShipmentId(shipment_id)]


def update(**fields: object) -> TrackingUpdate:
    return TrackingUpdate(shipment_id="SH-1", **fields)


async def track(reader: FakeReadModel, carrier: ScriptedCarrier, bus: MessageBus) -> TrackingReport:
    return await track_shipments(reader, carrier, bus.handle)


async def test_legs_and_a_slipping_eta_become_the_shipments_facts(bus, database, reader, carrier):
    await dispatched(bus)
    database.events.clear()
    carrier.script["SH-1"] = update(
        legs=(
            LegTracking(sequence=1, departed_at=hours(1.5), arrived_at=hours(8)),
            LegTracking(sequence=2, departed_at=hours(25)),
        ),
        eta=PLANNED_DELIVERY + timedelta(hours=6),
    )

    report = await track(reader, carrier, bus)

    [outcome] = report.outcomes
    assert [type(command) for command in outcome.applied] == [
        RecordLegDeparture,
        RecordLegArrival,
        RecordLegDeparture,
        UpdateShipmentEta,
    ]
    assert outcome.problem is None
    shipment = stored(database)
    assert shipment.status is ShipmentStatus.DELAYED
    assert shipment.eta == PLANNED_DELIVERY + timedelta(hours=6)
    assert [(leg.departed_at, leg.arrived_at) for leg in shipment.legs] == [
        (hours(1.5), hours(8)),
        (hours(25), None),
    ]
    assert len(events_of(database, LegDeparted)) == 2
    assert len(events_of(database, LegArrived)) == 1
    assert len(events_of(database, ShipmentDelayed)) == 1


async def test_applying_the_same_tracking_again_changes_nothing(bus, database, reader, carrier):
    await dispatched(bus)
    carrier.script["SH-1"] = update(
        legs=(LegTracking(sequence=1, departed_at=hours(1.5), arrived_at=hours(8)),),
        eta=PLANNED_DELIVERY + timedelta(hours=6),
    )
    await track(reader, carrier, bus)
    version, events = stored(database).version, len(database.events)

    again = await track(reader, carrier, bus)

    assert again.checked == 1
    assert again.changed == ()
    assert again.failed == ()
    assert stored(database).version == version
    assert len(database.events) == events


async def test_the_eta_back_within_plan_puts_a_delayed_shipment_back_in_transit(
    bus, database, reader, carrier
):
    await dispatched(bus)
    carrier.script["SH-1"] = update(
        legs=(LegTracking(sequence=1, departed_at=hours(1.5)),),
        eta=PLANNED_DELIVERY + timedelta(hours=6),
    )
    await track(reader, carrier, bus)
    carrier.script["SH-1"] = update(
        legs=(LegTracking(sequence=1, departed_at=hours(1.5)),), eta=PLANNED_DELIVERY
    )

    await track(reader, carrier, bus)

    assert stored(database).status is ShipmentStatus.IN_TRANSIT
    assert [e.delayed for e in events_of(database, ShipmentEtaUpdated)] == [True, False]


async def test_a_delivery_ends_tracking(bus, database, reader, carrier):
    await dispatched(bus)
    carrier.script["SH-1"] = update(
        legs=(
            LegTracking(sequence=1, departed_at=hours(1.5), arrived_at=hours(8)),
            LegTracking(sequence=2, departed_at=hours(25), arrived_at=hours(26)),
        ),
        eta=hours(40),
        delivered_at=hours(26),
    )

    report = await track(reader, carrier, bus)

    assert isinstance(report.outcomes[0].applied[-1], DeliverShipment)
    shipment = stored(database)
    assert shipment.status is ShipmentStatus.DELIVERED
    assert shipment.delivered_at == hours(26)
    [delivered] = events_of(database, ShipmentDelivered)
    assert delivered.on_time
    assert events_of(database, ShipmentEtaUpdated) == []
    carrier.asked.clear()
    assert (await track(reader, carrier, bus)).checked == 0
    assert carrier.asked == []


async def test_a_carrier_failure_leaves_the_shipment_as_it_was_and_tracking_goes_on(
    bus, database, reader, carrier
):
    await dispatched(bus, "SH-1")
    await dispatched(bus, "SH-2")
    before = stored(database, "SH-1").version
    carrier.script["SH-1"] = CarrierTrackingError("carrier tracking API unavailable")
    carrier.script["SH-2"] = TrackingUpdate(
        shipment_id="SH-2", legs=(LegTracking(sequence=1, departed_at=hours(2)),)
    )

    report = await track(reader, carrier, bus)

    [failed] = report.failed
    assert failed.shipment_id == "SH-1"
    assert "unavailable" in (failed.problem or "")
    assert failed.applied == ()
    assert stored(database, "SH-1").version == before
    assert stored(database, "SH-1").status is ShipmentStatus.DISPATCHED
    assert [outcome.shipment_id for outcome in report.changed] == ["SH-2"]
    assert stored(database, "SH-2").status is ShipmentStatus.IN_TRANSIT


async def test_a_shipment_unknown_to_the_carrier_is_reported_and_unchanged(
    bus, database, reader, carrier
):
    await dispatched(bus)
    before = stored(database).version

    report = await track(reader, carrier, bus)

    [outcome] = report.outcomes
    assert outcome.unknown_to_carrier
    assert outcome.problem is None
    assert stored(database).version == before


async def test_an_arrival_without_its_departure_is_skipped_but_the_eta_is_taken(
    bus, database, reader, carrier
):
    await dispatched(bus)
    carrier.script["SH-1"] = update(
        legs=(LegTracking(sequence=1, arrived_at=hours(8)),),
        eta=PLANNED_DELIVERY + timedelta(hours=2),
    )

    [outcome] = (await track(reader, carrier, bus)).outcomes

    assert [type(command) for command in outcome.applied] == [UpdateShipmentEta]
    assert outcome.skipped == ("leg 1 arrival: its departure is unknown",)
    assert stored(database).legs[0].arrived_at is None
    assert stored(database).status is ShipmentStatus.DELAYED


async def test_a_departure_before_the_dispatch_is_skipped_not_refused(
    bus, database, reader, carrier
):
    await dispatched(bus)
    carrier.script["SH-1"] = update(
        legs=(LegTracking(sequence=1, departed_at=hours(-3), arrived_at=hours(8)),),
    )

    [outcome] = (await track(reader, carrier, bus)).outcomes

    assert outcome.applied == ()
    assert outcome.problem is None
    assert "leg 1 departure" in outcome.skipped[0]
    assert stored(database).legs[0].departed_at is None


async def test_a_shipment_changed_meanwhile_is_left_to_the_next_round(
    bus, database, reader, carrier
):
    await dispatched(bus)
    tracked = update(
        legs=(LegTracking(sequence=1, departed_at=hours(1.5), arrived_at=hours(8)),),
    )

    class BusyCarrier(ScriptedCarrier):
        """While the carrier is asked, a person records the departure by hand."""

        async def track(self, shipment: ShipmentDetail) -> TrackingUpdate | None:
            await bus.handle(
                RecordLegDeparture(shipment_id="SH-1", sequence=1, departed_at=hours(1.25))
            )
            return tracked

    [outcome] = (await track_shipments(reader, BusyCarrier(), bus.handle)).outcomes

    assert outcome.applied == ()
    assert "changed meanwhile" in (outcome.problem or "")
    assert stored(database).legs[0].departed_at == hours(1.25)
    assert stored(database).legs[0].arrived_at is None

    carrier.script["SH-1"] = tracked
    [outcome] = (await track(reader, carrier, bus)).outcomes

    assert [type(command) for command in outcome.applied] == [RecordLegArrival]
    assert stored(database).legs[0].departed_at == hours(1.25)
    assert stored(database).legs[0].arrived_at == hours(8)


async def test_an_answer_about_another_shipment_is_a_problem_not_a_change(
    bus, database, reader, carrier
):
    await dispatched(bus)
    carrier.script["SH-1"] = TrackingUpdate(
        shipment_id="SH-9", legs=(LegTracking(sequence=1, departed_at=hours(2)),)
    )

    [outcome] = (await track(reader, carrier, bus)).outcomes

    assert outcome.applied == ()
    assert "SH-9" in (outcome.problem or "")
    assert stored(database).legs[0].departed_at is None


async def test_planned_shipments_are_not_tracked(bus, database, reader, carrier):
    await dispatched(bus, "SH-1")
    await bus.handle(
        PlanShipment(
            shipment_id="SH-PLANNED",
            account="ACC-ORBITAL",
            warehouse="LYS-1",
            lines=(ShipmentLineInput(sku="KD-HUB-200", quantity=Decimal(1)),),
            legs=(
                LegInput(
                    origin="LYS-1",
                    destination="CUST-42",
                    carrier="RoadCo",
                    planned_departure=hours(1),
                    planned_arrival=hours(7),
                ),
            ),
        )
    )

    report = await track(reader, carrier, bus)

    assert [outcome.shipment_id for outcome in report.outcomes] == ["SH-1"]
    assert carrier.asked == ["SH-1"]


async def test_every_shipment_on_its_way_is_tracked_across_pages(bus, database, reader, carrier):
    for number in range(5):
        await dispatched(bus, f"SH-{number}")
    await bus.handle(RecordLegDeparture(shipment_id="SH-3", sequence=1, departed_at=hours(2)))

    report = await track_shipments(reader, carrier, bus.handle, page_size=2)

    assert sorted(outcome.shipment_id for outcome in report.outcomes) == [
        f"SH-{number}" for number in range(5)
    ]


class Rounds:
    """A tracking round that counts itself, fails when told to, and stops the poller
    after ``last`` rounds."""

    def __init__(self, stop: asyncio.Event, last: int, failing: set[int]) -> None:
        self.stop, self.last, self.failing, self.count = stop, last, failing, 0
        self.ran = asyncio.Event()

    async def __call__(self) -> TrackingReport:
        self.count += 1
        self.ran.set()
        if self.count >= self.last:
            self.stop.set()
        if self.count in self.failing:
            raise RuntimeError("database gone for a moment")
        return TrackingReport()


async def test_the_poller_runs_rounds_until_stopped_and_survives_a_failing_round():
    stop = asyncio.Event()
    rounds = Rounds(stop, last=3, failing={1})

    await run_tracking_poller(rounds, interval_s=0, stop=stop)

    assert rounds.count == 3


async def test_the_poller_runs_no_round_once_stopped():
    stop = asyncio.Event()
    stop.set()
    rounds = Rounds(stop, last=1, failing=set())

    await run_tracking_poller(rounds, interval_s=60, stop=stop)

    assert rounds.count == 0


async def test_the_poller_stops_waiting_as_soon_as_it_is_told():
    stop = asyncio.Event()
    rounds = Rounds(stop, last=100, failing=set())
    poller = asyncio.create_task(run_tracking_poller(rounds, interval_s=3600, stop=stop))
    await rounds.ran.wait()

    stop.set()
    await poller

    assert rounds.count == 1


async def test_the_poller_refuses_a_negative_interval():
    with pytest.raises(ValueError, match="interval_s"):
        await run_tracking_poller(Rounds(asyncio.Event(), 1, set()), -1, asyncio.Event())
