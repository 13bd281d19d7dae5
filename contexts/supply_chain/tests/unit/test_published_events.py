"""The events are the published language: listed, routed and serializable as they are."""

import sys
from datetime import timedelta

from contexts.supply_chain.domain import (
    EVENT_TYPES,
    TOPICS,
    AccountId,
    AdjustmentReason,
    Inspection,
    PurchaseOrderStatus,
    ReplenishmentPolicy,
    ReservationRef,
    Shipment,
    ShipmentId,
    ShipmentItem,
    Sku,
    Supplier,
    TransferId,
    Warehouse,
)
from contexts.supply_chain.domain.events import SupplyChainEvent, topic_of
from contexts.supply_chain.tests.unit.examples import (
    ACME,
    HUB,
    PROMISED,
    T0,
    W1,
    W2,
    draft_order,
    each,
    hours,
    order_in,
    planned_shipment,
    route,
    stocked_item,
)
from contexts.supply_chain.tests.unit.test_catalog import LYON
from shared_kernel.domain import Money
from shared_kernel.infrastructure.serialization import (
    event_from_json,
    event_json_schema,
    event_to_dict,
    event_to_json,
)


def concrete_events() -> set[type[SupplyChainEvent]]:
    """Leaf subclasses, as their modules define them (``slots=True`` leaves a stale
    pre-slots class object among ``__subclasses__``)."""

    def current(kind: type) -> bool:
        return getattr(sys.modules[kind.__module__], kind.__name__, None) is kind

    found, stack = set(), [SupplyChainEvent]
    while stack:
        kind = stack.pop()
        children = [child for child in kind.__subclasses__() if current(child)]
        stack.extend(children)
        if not children and kind is not SupplyChainEvent:
            found.add(kind)
    return found


def one_of_each() -> list[SupplyChainEvent]:
    """A short life of every aggregate, touching every event type."""
    events = []
    events += Warehouse.register(W1, "Lyon", LYON, each(100), at=T0).pull_events()
    policy = ReplenishmentPolicy(each(8), each(5), 7)
    events += Sku.register(HUB, "Hub", policy, standard_cost=Money(18, "EUR"), at=T0).pull_events()
    events += Supplier.register(ACME, "Acme", "DE", at=T0).pull_events()
    item = stocked_item()
    item.receive(each(10), at=T0)
    item.reserve(ReservationRef("O-1"), each(5), at=T0)
    item.release(ReservationRef("O-1"), each(1), at=T0)
    item.ship(ReservationRef("O-1"), at=T0)
    item.adjust(each(5), AdjustmentReason.FOUND, at=T0)
    item.transfer_out(each(2), W2, TransferId("T-1"), at=T0)
    events += item.pull_events()
    order = draft_order(key="k")
    order.remove_line(order.lines[1].sku, at=T0)
    order.place(at=T0)
    order.confirm(PROMISED, at=T0)
    order.receive([Inspection(HUB, each(10), each(1))], PROMISED, at=T0)
    events += order.pull_events()
    cancelled = order_in(PurchaseOrderStatus.PLACED)
    cancelled.cancel("duplicate", at=T0)
    events += cancelled.pull_events()
    shipment = planned_shipment()
    shipment.dispatch(T0 + hours(1), at=T0)
    shipment.record_departure(1, T0 + hours(2), at=T0)
    shipment.record_arrival(1, T0 + hours(9), at=T0)
    shipment.update_eta(shipment.planned_delivery + timedelta(hours=4), at=T0)
    shipment.deliver(shipment.planned_delivery + timedelta(hours=3), at=T0)
    events += shipment.pull_events()
    planned = Shipment.plan(
        ShipmentId("SH-2"), AccountId("A"), W1, [ShipmentItem(HUB, each(1))], route(), at=T0
    )
    events += planned.pull_events()
    return events


def test_every_event_class_is_listed_once():
    assert len(set(EVENT_TYPES)) == len(EVENT_TYPES)
    assert set(EVENT_TYPES) == concrete_events()


def test_events_go_to_one_topic_per_aggregate():
    assert TOPICS == (
        "supply_chain.inventory.v1",
        "supply_chain.purchase_order.v1",
        "supply_chain.shipment.v1",
        "supply_chain.sku.v1",
        "supply_chain.supplier.v1",
        "supply_chain.warehouse.v1",
    )
    assert all(kind.type_name().startswith("supply_chain.") for kind in EVENT_TYPES)


def test_the_scenario_covers_every_event_type():
    assert {type(event) for event in one_of_each()} == set(EVENT_TYPES)


def test_every_event_survives_a_json_round_trip():
    for event in one_of_each():
        assert event_from_json(type(event), event_to_json(event)) == event


def test_events_carry_text_ids_and_exact_numbers_on_the_wire():
    received = next(e for e in one_of_each() if type(e).__name__ == "GoodsReceived")

    data = event_to_dict(received)

    assert data["aggregate_id"] == "PO-1"
    assert data["lines"] == [
        {"sku": "KD-HUB-200", "unit": "each", "accepted": "10", "rejected": "1"}
    ]
    assert (data["on_time"], data["lead_time_days"]) == (True, 7)


def test_every_event_has_a_json_schema_naming_its_topic_family():
    for kind in EVENT_TYPES:
        schema = event_json_schema(kind)
        assert schema["title"] == f"supply_chain.{kind.__name__}"
        assert topic_of(kind) in TOPICS
        assert "aggregate_id" in schema["properties"]
