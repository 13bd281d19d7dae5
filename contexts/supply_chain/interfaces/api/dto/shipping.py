"""Shipments: planning, tracking leg by leg, delivery."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

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
from contexts.supply_chain.application.queries.views import ShipmentDetail, ShipmentSummary
from contexts.supply_chain.domain.shipping.status import ShipmentStatus
from contexts.supply_chain.interfaces.api.dto.common import (
    Amount,
    Code,
    Identifier,
    Input,
    Instant,
    Text,
)


class ShipmentLineIn(Input):
    sku: Code = Field(examples=["KD-HUB-200"])
    quantity: Amount


class LegIn(Input):
    origin: Text
    destination: Text
    carrier: Text
    planned_departure: Instant
    planned_arrival: Instant


class PlanShipmentIn(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account": "ACC-ENT-7",
                    "warehouse": "LYS-1",
                    "lines": [{"sku": "KD-HUB-200", "quantity": "4"}],
                    "legs": [
                        {
                            "origin": "LYS-1",
                            "destination": "Paris hub",
                            "carrier": "RoadCo",
                            "planned_departure": "2025-03-04T08:00:00Z",
                            "planned_arrival": "2025-03-04T14:00:00Z",
                        },
                        {
                            "origin": "Paris hub",
                            "destination": "Customer site, Paris 11e",
                            "carrier": "CityVan",
                            "planned_departure": "2025-03-05T08:00:00Z",
                            "planned_arrival": "2025-03-05T11:00:00Z",
                        },
                    ],
                }
            ]
        }
    )

    id: Identifier | None = Field(default=None, description="Chosen by the server when omitted.")
    account: Identifier = Field(description="The customer account delivered to.")
    warehouse: Code
    lines: list[ShipmentLineIn]
    legs: list[LegIn]

    def to_command(self) -> PlanShipment:
        return PlanShipment(
            account=self.account,
            warehouse=self.warehouse,
            lines=tuple(
                ShipmentLineInput(sku=line.sku, quantity=line.quantity) for line in self.lines
            ),
            legs=tuple(
                LegInput(
                    origin=leg.origin,
                    destination=leg.destination,
                    carrier=leg.carrier,
                    planned_departure=leg.planned_departure,
                    planned_arrival=leg.planned_arrival,
                )
                for leg in self.legs
            ),
            shipment_id=self.id,
        )


class DispatchIn(Input):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"dispatched_at": "2025-03-04T08:05:00Z"}]}
    )

    dispatched_at: Instant | None = Field(default=None, description="Now when omitted.")

    def to_command(self, shipment: str, version: int | None) -> DispatchShipment:
        return DispatchShipment(
            shipment_id=shipment, dispatched_at=self.dispatched_at, expected_version=version
        )


class DepartureIn(Input):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"departed_at": "2025-03-04T08:20:00Z"}]}
    )

    departed_at: Instant

    def to_command(self, shipment: str, sequence: int, version: int | None) -> RecordLegDeparture:
        return RecordLegDeparture(
            shipment_id=shipment,
            sequence=sequence,
            departed_at=self.departed_at,
            expected_version=version,
        )


class ArrivalIn(Input):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"arrived_at": "2025-03-04T14:40:00Z"}]}
    )

    arrived_at: Instant

    def to_command(self, shipment: str, sequence: int, version: int | None) -> RecordLegArrival:
        return RecordLegArrival(
            shipment_id=shipment,
            sequence=sequence,
            arrived_at=self.arrived_at,
            expected_version=version,
        )


class EtaIn(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"eta": "2025-03-05T15:00:00Z"}]})

    eta: Instant = Field(description="The carrier's latest estimate of delivery.")

    def to_command(self, shipment: str, version: int | None) -> UpdateShipmentEta:
        return UpdateShipmentEta(shipment_id=shipment, eta=self.eta, expected_version=version)


class DeliverIn(Input):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"delivered_at": "2025-03-05T10:45:00Z"}]}
    )

    delivered_at: Instant | None = Field(default=None, description="Now when omitted.")

    def to_command(self, shipment: str, version: int | None) -> DeliverShipment:
        return DeliverShipment(
            shipment_id=shipment, delivered_at=self.delivered_at, expected_version=version
        )


class ShipmentSummaryOut(BaseModel):
    id: str
    account: str
    warehouse: str
    status: ShipmentStatus
    destination: str
    planned_delivery: datetime
    eta: datetime
    delivered_at: datetime | None
    version: int

    @classmethod
    def of(cls, view: ShipmentSummary) -> ShipmentSummaryOut:
        return cls.model_validate(view, from_attributes=True)


class ShipmentLineOut(BaseModel):
    sku: str
    unit: str
    quantity: Decimal


class RouteLegOut(BaseModel):
    sequence: int
    origin: str
    destination: str
    carrier: str
    planned_departure: datetime
    planned_arrival: datetime
    departed_at: datetime | None
    arrived_at: datetime | None


class ShipmentOut(ShipmentSummaryOut):
    dispatched_at: datetime | None
    lines: list[ShipmentLineOut]
    legs: list[RouteLegOut]

    @classmethod
    def of_detail(cls, view: ShipmentDetail) -> ShipmentOut:
        return cls(
            **ShipmentSummaryOut.of(view.summary).model_dump(),
            dispatched_at=view.dispatched_at,
            lines=[
                ShipmentLineOut.model_validate(line, from_attributes=True) for line in view.lines
            ],
            legs=[RouteLegOut.model_validate(leg, from_attributes=True) for leg in view.legs],
        )
