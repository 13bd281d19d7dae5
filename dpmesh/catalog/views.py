"""What the catalog answers, built from what products registered and reported."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from dpmesh.catalog.models import (
    HeartbeatOut,
    InputPortOut,
    ProductDetail,
    ProductSummary,
    SloStatus,
)
from dpmesh.catalog.store import StoredProduct, owner_of, tags_of

PRODUCTS_PATH = "/api/v1/products"

#: The comparison operators of ODCS data quality rules, reused for objectives.
_OBJECTIVES: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "mustBeLessOrEqualTo": ("<=", operator.le),
    "mustBeLessThan": ("<", operator.lt),
    "mustBeGreaterOrEqualTo": (">=", operator.ge),
    "mustBeGreaterThan": (">", operator.gt),
}


def slo_statuses(stored: StoredProduct) -> list[SloStatus]:
    """Each objective the product declares, against its last heartbeat."""
    slis = stored.heartbeat.heartbeat.slis if stored.heartbeat else {}
    statuses = []
    for objective in _custom(stored.registration.descriptor, "serviceLevelObjectives") or []:
        if not isinstance(objective, dict) or "sli" not in objective:
            continue
        sli = str(objective["sli"])
        for key, (symbol, holds) in _OBJECTIVES.items():
            if key in objective:
                target = float(objective[key])
                value = slis.get(sli)
                statuses.append(
                    SloStatus(
                        sli=sli,
                        objective=f"{symbol} {objective[key]}",
                        value=value,
                        met=None if value is None else holds(value, target),
                        description=objective.get("description"),
                    )
                )
    return statuses


def summary(stored: StoredProduct) -> ProductSummary:
    return ProductSummary(**_summary_fields(stored))


def detail(stored: StoredProduct) -> ProductDetail:
    registration = stored.registration
    descriptor = registration.descriptor
    return ProductDetail(
        **_summary_fields(stored),
        description=descriptor.get("description") or {},
        ports=registration.ports,
        input_ports=[
            InputPortOut(
                name=str(port.get("name")),
                source_type=_custom(port, "sourceType"),
                acl=_custom(port, "acl"),
            )
            for port in descriptor.get("inputPorts") or []
        ],
        schemas={
            str(contract.get("id")): list(contract.get("schema") or [])
            for contract in registration.contracts
        },
        contracts=registration.contracts,
        descriptor=descriptor,
    )


def _summary_fields(stored: StoredProduct) -> dict[str, Any]:
    registration = stored.registration
    descriptor = registration.descriptor
    beat = stored.heartbeat
    return {
        "urn": registration.urn,
        "context": registration.context,
        "name": registration.name,
        "domain": registration.domain,
        "owner": owner_of(descriptor),
        "status": registration.status,
        "version": registration.version,
        "purpose": (descriptor.get("description") or {}).get("purpose"),
        "tags": tags_of(descriptor),
        "registered_at": stored.registered_at,
        "updated_at": stored.updated_at,
        "heartbeat": None
        if beat is None
        else HeartbeatOut(
            status=beat.heartbeat.status,
            slis=beat.heartbeat.slis,
            observed_at=beat.heartbeat.observed_at,
            received_at=beat.received_at,
        ),
        "slos": slo_statuses(stored),
        "links": {
            "self": f"{PRODUCTS_PATH}/{registration.urn}",
            "heartbeat": f"{PRODUCTS_PATH}/{registration.urn}/heartbeat",
        },
    }


def _custom(element: dict[str, Any], name: str) -> Any:
    for item in element.get("customProperties") or []:
        if isinstance(item, dict) and item.get("property") == name:
            return item.get("value")
    return None
