from datetime import timedelta
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
from contexts.supply_chain.domain import Shipment, ShipmentId, ShipmentStatus
from contexts.supply_chain.domain.shipping.events import ShipmentDelayed, ShipmentDelivered
from contexts.supply_chain.tests.fakes import events_of
from contexts.supply_chain.tests.unit.examples import T0, hours
from shared_kernel.domain import ConcurrencyConflict, Conflict, NotFound

pytestmark = pytest.mark.usefixtures("catalog")
S = ShipmentStatus
PLANNED_DELIVERY = T0 + hours(30)


def plan(**changes) -> PlanShipment:
    fields = {
        "shipment_id": "SH-1",
        "account": "ACC-ORBITAL",
        "warehouse": "LYS-1",
        "lines": (ShipmentLineInput(sku="KD-HUB-200", quantity=Decimal(3)),),
        "legs": (
            LegInput(
                origin="LYS-1",
                destination="Paris hub",
                carrier="Geodis",
                planned_departure=T0 + hours(2),
                planned_arrival=T0 + hours(8),
            ),
            LegInput(
                origin="Paris hub",
                destination="Orbital SA, Nanterre",
                carrier="Chronopost",
                planned_departure=T0 + hours(24),
                planned_arrival=PLANNED_DELIVERY,
            ),
        ),
    }
    return PlanShipment(**(fields | changes))


def shipment(database) -> Shipment:
    return database.table(Shipment)[ShipmentId("SH-1")]


async def test_a_shipment_from_plan_to_late_delivery(bus, database, clock):
    await bus.handle(plan())
    clock.advance(hours=1)
    await bus.handle(DispatchShipment(shipment_id="SH-1"))
    await bus.handle(RecordLegDeparture(shipment_id="SH-1", sequence=1, departed_at=T0 + hours(2)))
    await bus.handle(RecordLegArrival(shipment_id="SH-1", sequence=1, arrived_at=T0 + hours(9)))
    await bus.handle(UpdateShipmentEta(shipment_id="SH-1", eta=PLANNED_DELIVERY + hours(4)))
    assert shipment(database).status is S.DELAYED
    result = await bus.handle(
        DeliverShipment(shipment_id="SH-1", delivered_at=PLANNED_DELIVERY + hours(3))
    )

    assert result.version == 7
    stored = shipment(database)
    assert stored.status is S.DELIVERED
    assert stored.dispatched_at == T0 + hours(1)
    [delayed] = events_of(database, ShipmentDelayed)
    assert delayed.delay_minutes == 240
    [delivered] = events_of(database, ShipmentDelivered)
    assert (delivered.on_time, delivered.delay_minutes, delivered.account) == (
        False,
        180,
        "ACC-ORBITAL",
    )


async def test_delivery_defaults_to_now(bus, database, clock):
    await bus.handle(plan())
    await bus.handle(DispatchShipment(shipment_id="SH-1", dispatched_at=T0 + hours(1)))
    await bus.handle(RecordLegDeparture(shipment_id="SH-1", sequence=1, departed_at=T0 + hours(2)))
    clock.advance(hours=29)

    await bus.handle(DeliverShipment(shipment_id="SH-1"))

    assert shipment(database).delivered_at == T0 + timedelta(hours=29)
    [delivered] = events_of(database, ShipmentDelivered)
    assert delivered.on_time


async def test_a_shipment_id_is_planned_once(bus):
    await bus.handle(plan())

    with pytest.raises(Conflict):
        await bus.handle(plan())


@pytest.mark.parametrize(
    "changes",
    [{"warehouse": "NOPE"}, {"lines": (ShipmentLineInput(sku="NOPE", quantity=Decimal(1)),)}],
    ids=["warehouse", "sku"],
)
async def test_planning_refers_to_registered_things(bus, database, changes):
    with pytest.raises(NotFound):
        await bus.handle(plan(**changes))

    assert database.rows(Shipment) == []


async def test_planning_without_an_id_chooses_one(bus, database):
    result = await bus.handle(plan(shipment_id=None))

    assert ShipmentId(result.id) in database.table(Shipment)


async def test_a_stale_version_is_refused(bus, database):
    await bus.handle(plan())
    await bus.handle(DispatchShipment(shipment_id="SH-1"))

    with pytest.raises(ConcurrencyConflict):
        await bus.handle(
            UpdateShipmentEta(shipment_id="SH-1", eta=PLANNED_DELIVERY, expected_version=1)
        )

    assert shipment(database).version == 2


async def test_an_unknown_shipment_is_not_found(bus):
    with pytest.raises(NotFound):
        await bus.handle(DispatchShipment(shipment_id="SH-404"))
