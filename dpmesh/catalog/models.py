"""The catalog's documents: what a context registers, and what consumers read back."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared_kernel.domain import InvalidValue

URN_PATTERN: Final = r"^urn:dpmesh:(?P<context>[a-z][a-z0-9_]*):(?P<product>[a-z][a-z0-9-]*)$"
_URN: Final = re.compile(URN_PATTERN)


def parse_urn(urn: str) -> tuple[str, str]:
    """``(context, product)`` of ``urn:dpmesh:<context>:<product>``; InvalidValue otherwise."""
    match = _URN.match(urn)
    if match is None:
        raise InvalidValue(
            "urn",
            f"{urn!r} is not urn:dpmesh:<context>:<product> (context in snake_case, product "
            "in kebab-case, both lower case)",
        )
    return match["context"], match["product"]


class PortType(StrEnum):
    REST = "rest"
    KAFKA = "kafka"
    PARQUET = "parquet"


class Port(BaseModel):
    """One output port and where this deployment serves it."""

    name: str = Field(max_length=100)
    type: PortType
    version: str = Field(max_length=40)
    contract_id: str = Field(max_length=200)
    url: str = Field(
        max_length=2000,
        description="http(s):// for REST, kafka://<bootstrap>/<topic>, file:// or s3://.",
    )
    scope: str | None = Field(default=None, max_length=200, description="Scope a reader needs.")
    topic: str | None = Field(default=None, max_length=249)
    bootstrap_servers: str | None = Field(default=None, max_length=1000)
    path: str | None = Field(default=None, max_length=2000)


class Registration(BaseModel):
    """A data product as its context registers it (``build_registrations`` builds it)."""

    model_config = ConfigDict(extra="forbid")

    urn: str = Field(pattern=URN_PATTERN, max_length=200)
    context: str = Field(max_length=100)
    name: str = Field(max_length=100)
    version: str = Field(default="", max_length=40)
    status: str = Field(default="", max_length=40)
    domain: str = Field(max_length=100)
    descriptor: dict[str, Any] = Field(description="The ODPS product file, as parsed.")
    contracts: list[dict[str, Any]] = Field(
        max_length=20, description="The ODCS contracts of its ports."
    )
    ports: list[Port] = Field(max_length=20)

    @model_validator(mode="after")
    def _consistent(self) -> Registration:
        if self.urn != f"urn:dpmesh:{self.context}:{self.name}":
            raise ValueError(f"urn must be urn:dpmesh:{self.context}:{self.name}")
        if self.descriptor.get("id") != self.urn:
            raise ValueError("descriptor.id must be the product's urn")
        contract_ids = {contract.get("id") for contract in self.contracts}
        for port in self.ports:
            if port.contract_id not in contract_ids:
                raise ValueError(f"port {port.name!r} names contract {port.contract_id}, not sent")
        return self


class Heartbeat(BaseModel):
    """A product's live indicators, reported while it runs."""

    status: Literal["healthy", "degraded", "unhealthy"] = "healthy"
    slis: dict[str, float] = Field(
        default_factory=dict, description="e.g. freshness_ms, completeness, error_rate."
    )
    observed_at: datetime | None = None


class SloStatus(BaseModel):
    sli: str
    objective: str = Field(description="e.g. `<= 5000`")
    value: float | None
    met: bool | None = Field(description="None when the last heartbeat did not report the SLI.")
    description: str | None = None


class HeartbeatOut(BaseModel):
    status: str
    slis: dict[str, float]
    observed_at: datetime | None
    received_at: datetime


class ProductSummary(BaseModel):
    urn: str
    context: str
    name: str
    domain: str
    owner: str | None
    status: str
    version: str
    purpose: str | None
    tags: list[str]
    registered_at: datetime
    updated_at: datetime
    heartbeat: HeartbeatOut | None
    slos: list[SloStatus]
    links: dict[str, str]


class InputPortOut(BaseModel):
    name: str
    source_type: str | None
    acl: str | None = None


class ProductDetail(ProductSummary):
    description: dict[str, Any]
    ports: list[Port]
    input_ports: list[InputPortOut]
    schemas: dict[str, list[dict[str, Any]]] = Field(description="Schema of each contract, by id.")
    contracts: list[dict[str, Any]]
    descriptor: dict[str, Any]


class ProductPage(BaseModel):
    items: list[ProductSummary]
    total: int


class LineageNode(BaseModel):
    id: str
    kind: Literal["product", "topic", "external"]
    label: str
    context: str | None


class LineageEdge(BaseModel):
    source: str
    target: str
    kind: Literal["input", "output", "acl"]
    label: str


class Lineage(BaseModel):
    nodes: list[LineageNode]
    edges: list[LineageEdge]
