"""The carrier ACL: the carrier's tracking payload read tolerantly and translated into
our TrackingUpdate (which legs departed and arrived, the ETA, the delivery)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest

from contexts.supply_chain.application.queries.views import (
    RouteLegView,
    ShipmentDetail,
    ShipmentLineView,
    ShipmentSummary,
)
from contexts.supply_chain.application.tracking import LegTracking
from contexts.supply_chain.domain.shipping.status import ShipmentStatus
from contexts.supply_chain.infrastructure.acl.carrier import parse_tracking, translate
from contexts.supply_chain.infrastructure.external_services import MalformedTrackingPayload

T0 = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def stamp(hours: float) -> str:
    return at(hours).isoformat().replace("+00:00", "Z")


def shipment(*places: str, shipment_id: str = "SHP-1") -> ShipmentDetail:
    """A dispatched shipment whose legs go through ``places`` in order."""
    legs = tuple(
        RouteLegView(
            sequence=number,
            origin=origin,
            destination=destination,
            carrier="RoadCo",
            planned_departure=at(10 * number),
            planned_arrival=at(10 * number + 5),
            departed_at=None,
            arrived_at=None,
        )
        for number, (origin, destination) in enumerate(pairwise(places), 1)
    )
    summary = ShipmentSummary(
        id=shipment_id,
        account="ACC-1",
        warehouse="LYS-1",
        status=ShipmentStatus.DISPATCHED,
        destination=places[-1],
        planned_delivery=legs[-1].planned_arrival,
        eta=legs[-1].planned_arrival,
        delivered_at=None,
        version=2,
    )
    return ShipmentDetail(
        summary=summary,
        dispatched_at=T0,
        lines=(ShipmentLineView(sku="KD-HUB-200", unit="each", quantity=Decimal(4)),),
        legs=legs,
    )


def checkpoint(
    code: str, hours: float, location: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "checkpoint_time": stamp(hours), **extra}
    if location is not None:
        body["location_code"] = location
    return body


def tracking(*checkpoints: dict[str, Any], number: str = "SHP-1", **extra: Any) -> dict[str, Any]:
    return {"tracking_number": number, "checkpoints": list(checkpoints), **extra}


def read(raw: dict[str, Any], detail: ShipmentDetail) -> Any:
    return translate(parse_tracking(raw, expected_number=detail.summary.id), detail)


def test_a_whole_journey_over_two_legs_becomes_departures_arrivals_and_the_delivery() -> None:
    detail = shipment("LYS-1", "HUB-PAR", "CUST-42")
    update = read(
        tracking(
            checkpoint("PICKED_UP", 1, "LYS-1"),
            checkpoint("IN_TRANSIT", 6, "HUB-PAR"),
            checkpoint("OUT_FOR_DELIVERY", 20, "HUB-PAR"),
            checkpoint("DELIVERED", 24, "CUST-42"),
        ),
        detail,
    )

    assert update.shipment_id == "SHP-1"
    assert update.legs == (
        LegTracking(sequence=1, departed_at=at(1), arrived_at=at(6)),
        LegTracking(sequence=2, departed_at=at(20), arrived_at=at(24)),
    )
    assert update.delivered_at == at(24)
    assert update.eta is None
    assert (update.unknown_checkpoints, update.off_route_checkpoints) == (0, 0)


def test_scans_in_and_out_of_a_hub_are_the_arrival_and_the_next_departure() -> None:
    detail = shipment("LYS-1", "HUB-PAR", "DEPOT-11", "CUST-42")
    update = read(
        tracking(
            checkpoint("IN_TRANSIT", 1, "LYS-1"),
            checkpoint("IN_TRANSIT", 6, "HUB-PAR"),
            checkpoint("IN_TRANSIT", 9, "HUB-PAR"),
            checkpoint("IN_TRANSIT", 14, "DEPOT-11"),
            checkpoint("IN_TRANSIT", 15, "DEPOT-11"),
        ),
        detail,
    )

    assert update.legs == (
        LegTracking(sequence=1, departed_at=at(1), arrived_at=at(6)),
        LegTracking(sequence=2, departed_at=at(9), arrived_at=at(14)),
        LegTracking(sequence=3, departed_at=at(15), arrived_at=None),
    )
    assert update.delivered_at is None


def test_checkpoints_are_taken_in_time_order_whatever_order_the_carrier_lists_them() -> None:
    detail = shipment("LYS-1", "HUB-PAR", "CUST-42")
    update = read(
        tracking(
            checkpoint("IN_TRANSIT", 9, "HUB-PAR"),
            checkpoint("PICKED_UP", 1, "LYS-1"),
            checkpoint("IN_TRANSIT", 6, "HUB-PAR"),
        ),
        detail,
    )

    assert update.legs == (
        LegTracking(sequence=1, departed_at=at(1), arrived_at=at(6)),
        LegTracking(sequence=2, departed_at=at(9), arrived_at=None),
    )


def test_codes_and_places_are_matched_without_regard_to_case_dashes_or_blanks() -> None:
    detail = shipment("LYS-1", "HUB-PAR", "CUST-42")
    update = read(
        tracking(
            checkpoint("picked-up", 1, " lys-1 "),
            checkpoint("In Transit", 6, "hub-par"),
        ),
        detail,
    )

    assert update.legs == (LegTracking(sequence=1, departed_at=at(1), arrived_at=at(6)),)
    assert update.unknown_checkpoints == 0


def test_unknown_codes_and_places_off_the_route_are_ignored_and_counted() -> None:
    detail = shipment("LYS-1", "HUB-PAR", "CUST-42")
    update = read(
        tracking(
            checkpoint("INFO_RECEIVED", 0, "LYS-1"),
            checkpoint("PICKED_UP", 1, "LYS-1"),
            checkpoint("CUSTOMS_HOLD", 3),
            checkpoint("IN_TRANSIT", 4, "HUB-LYON-SORTING"),
            checkpoint("IN_TRANSIT", 6, "HUB-PAR"),
        ),
        detail,
    )

    assert update.legs == (LegTracking(sequence=1, departed_at=at(1), arrived_at=at(6)),)
    assert update.unknown_checkpoints == 2
    assert update.off_route_checkpoints == 1


def test_a_repeated_scan_adds_nothing() -> None:
    detail = shipment("LYS-1", "HUB-PAR", "CUST-42")
    update = read(
        tracking(
            checkpoint("PICKED_UP", 1, "LYS-1"),
            checkpoint("PICKED_UP", 2, "LYS-1"),
            checkpoint("DELIVERED", 24, "CUST-42"),
            checkpoint("DELIVERED", 25, "CUST-42"),
        ),
        detail,
    )

    assert update.leg(1) == LegTracking(sequence=1, departed_at=at(1))
    assert update.delivered_at == at(24)
    assert update.off_route_checkpoints == 0


def test_pick_up_and_out_for_delivery_without_a_place_mean_the_first_and_last_legs() -> None:
    detail = shipment("LYS-1", "HUB-PAR", "CUST-42")
    update = read(
        tracking(
            checkpoint("PICKED_UP", 1),
            checkpoint("OUT_FOR_DELIVERY", 20),
            checkpoint("DELIVERED", 24),
        ),
        detail,
    )

    assert update.leg(1) == LegTracking(sequence=1, departed_at=at(1))
    assert update.leg(2) == LegTracking(sequence=2, departed_at=at(20), arrived_at=at(24))
    assert update.delivered_at == at(24)


def test_a_delivery_elsewhere_is_still_the_delivery_but_not_the_last_legs_arrival() -> None:
    detail = shipment("LYS-1", "HUB-PAR", "CUST-42")
    update = read(tracking(checkpoint("DELIVERED", 24, "NEIGHBOUR-7")), detail)

    assert update.delivered_at == at(24)
    assert update.legs == ()
    assert update.off_route_checkpoints == 1


def test_an_exception_with_a_new_estimate_slips_the_eta() -> None:
    detail = shipment("LYS-1", "HUB-PAR", "CUST-42")
    update = read(
        tracking(
            checkpoint("PICKED_UP", 1, "LYS-1"),
            checkpoint(
                "EXCEPTION",
                7,
                "HUB-PAR",
                description="Missed linehaul connection",
                estimated_delivery=stamp(40),
            ),
        ),
        detail,
    )

    assert update.eta == at(40)
    assert update.exceptions == ("Missed linehaul connection",)


def test_an_exception_without_an_estimate_changes_no_eta() -> None:
    detail = shipment("LYS-1", "HUB-PAR", "CUST-42")
    update = read(tracking(checkpoint("EXCEPTION", 7, "HUB-PAR")), detail)

    assert update.eta is None
    assert update.exceptions == ("exception at HUB-PAR",)


def test_the_trackings_current_estimate_wins_over_estimates_in_checkpoints() -> None:
    detail = shipment("LYS-1", "HUB-PAR", "CUST-42")
    update = read(
        tracking(
            checkpoint("EXCEPTION", 7, "HUB-PAR", estimated_delivery=stamp(40)),
            estimated_delivery=stamp(30),
        ),
        detail,
    )

    assert update.eta == at(30)


def test_the_newest_checkpoint_estimate_is_the_eta_without_a_current_one() -> None:
    detail = shipment("LYS-1", "HUB-PAR", "CUST-42")
    update = read(
        tracking(
            checkpoint("EXCEPTION", 9, "HUB-PAR", estimated_delivery=stamp(50)),
            checkpoint("EXCEPTION", 7, "HUB-PAR", estimated_delivery=stamp(40)),
            estimated_delivery=None,
        ),
        detail,
    )

    assert update.eta == at(50)


def test_timestamps_without_a_zone_are_utc_and_other_zones_are_kept_as_instants() -> None:
    detail = shipment("LYS-1", "HUB-PAR", "CUST-42")
    update = read(
        tracking(
            {
                "code": "PICKED_UP",
                "checkpoint_time": "2025-03-04T09:00:00",
                "location_code": "LYS-1",
            },
            {
                "code": "IN_TRANSIT",
                "checkpoint_time": "2025-03-04T16:00:00+02:00",
                "location_code": "HUB-PAR",
            },
        ),
        detail,
    )

    assert update.leg(1) == LegTracking(sequence=1, departed_at=at(1), arrived_at=at(6))


def test_fields_the_acl_does_not_use_are_ignored_and_a_missing_checkpoint_list_is_empty() -> None:
    detail = shipment("LYS-1", "HUB-PAR", "CUST-42")
    update = read(
        {
            "tracking_number": "SHP-1",
            "slug": "kestrel-freight",
            "status": "IN_TRANSIT",
            "checkpoints": None,
            "estimated_delivery": stamp(30),
        },
        detail,
    )

    assert update.legs == ()
    assert update.eta == at(30)


@pytest.mark.parametrize(
    ("raw", "mentions"),
    [
        ([], "payload"),
        ({"checkpoints": []}, "tracking_number"),
        (tracking({"checkpoint_time": stamp(1)}), "checkpoints.0.code"),
        (tracking({"code": "PICKED_UP", "checkpoint_time": "yesterday"}), "checkpoint_time"),
        (tracking(checkpoint("PICKED_UP", 1), number="SHP-2"), "'SHP-2'"),
        ({"tracking_number": "SHP-1", "checkpoints": "many"}, "checkpoints"),
    ],
)
def test_a_payload_that_cannot_be_read_is_a_clear_error(raw: Any, mentions: str) -> None:
    with pytest.raises(MalformedTrackingPayload) as raised:
        parse_tracking(raw, expected_number="SHP-1")

    assert mentions in str(raised.value)
    assert "SHP-1" in str(raised.value)
