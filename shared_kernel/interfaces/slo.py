"""``GET /slo``: each data product's live SLIs, its objectives and where it stands.

The worker-side SLIs (freshness, completeness, processing error and dead-letter rates)
are the snapshots the stream worker writes to the read store every few seconds
(``shared_kernel.infrastructure.sli_store``), merged over workers. The ``error_rate`` of
a product's REST port is measured by this API process (:func:`read_meter_dependency`)
over the same window: it is the view of the replica that answers, and Prometheus
(``dpmesh_product_reads_total``) adds the replicas up.

A product's ``status`` is the worst of its objectives': ``breached``, ``at_risk``,
``unknown`` (no measurement yet, or the worker's snapshot is older than
``stale_after``: a stopped worker measures nothing) or ``met``. The objectives come
from the product's descriptor (``objectives_source: descriptor``) or the platform's
defaults (``default``).

Callers see only the products they may read (see ``access.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from shared_kernel.domain import DomainError
from shared_kernel.infrastructure.slo import (
    ERROR_RATE,
    Objective,
    ReadMeter,
    SliSnapshot,
    SloStatus,
    evaluate,
    merge_snapshots,
    worst,
)
from shared_kernel.interfaces.access import ContextScopes

__all__ = ["SLO_PATH", "SliReader", "SloReport", "read_meter_dependency", "slo_router"]

SLO_PATH = "/slo"
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SliReader(Protocol):
    async def snapshots(self) -> Sequence[tuple[str, SliSnapshot]]:
        """Every stored snapshot as ``(worker id, snapshot)``."""
        ...


SliReaderDependency = Callable[..., SliReader | Awaitable[SliReader]]


class ObjectiveOut(BaseModel):
    sli: str
    objective: str = Field(description="e.g. `<= 5000`")
    target: float
    value: float | None = Field(description="The measured SLI; null without a measurement.")
    status: SloStatus
    description: str | None = None


class CountsOut(BaseModel):
    events_received: int = Field(description="Versions received in sequence, since start.")
    events_missing: int = Field(description="Versions skipped and not arrived (open gaps).")
    events_duplicate: int = Field(description="Redelivered versions, ignored.")
    events_lost: int = Field(description="Versions dead-lettered.")
    window_applied: int
    window_errors: int = Field(description="Failed handler attempts over the window.")
    window_dead_letters: int
    freshness_samples: int = Field(description="Freshness samples over the window.")
    reads: int | None = Field(description="REST reads over the window (this replica).")
    read_errors: int | None = Field(description="Of which answered with a server error.")


class ProductSloOut(BaseModel):
    product: str
    urn: str
    status: SloStatus
    measured_at: datetime | None = Field(description="When the newest worker snapshot was taken.")
    snapshot_age_ms: int | None
    stale: bool = Field(description="No worker snapshot newer than the staleness limit.")
    workers: int = Field(description="Worker snapshots merged.")
    window_s: float
    last_event_time: datetime | None
    slis: dict[str, float] = Field(
        description="freshness_ms (p99), freshness_p50_ms, freshness_last_ms, completeness, "
        "processing_error_rate, dead_letter_rate, error_rate; absent when not measured."
    )
    counts: CountsOut
    objectives: list[ObjectiveOut]
    objectives_source: Literal["descriptor", "default"]


class SloReport(BaseModel):
    context: str
    generated_at: datetime
    products: list[ProductSloOut]


_WORKER_SLIS = frozenset(
    {
        "freshness_ms",
        "freshness_p50_ms",
        "freshness_last_ms",
        "completeness",
        "processing_error_rate",
        "dead_letter_rate",
    }
)


def slo_router(
    scopes_of: ContextScopes,
    reader_dependency: SliReaderDependency,
    objectives: Mapping[str, Sequence[Objective]],
    *,
    objectives_source: Mapping[str, Literal["descriptor", "default"]] | None = None,
    product_scopes: Mapping[str, str] | None = None,
    read_meter: ReadMeter | None = None,
    stale_after: timedelta = timedelta(seconds=60),
    window: timedelta = timedelta(minutes=5),
    clock: Clock = _utc_now,
) -> APIRouter:
    """``GET /slo`` over the snapshots of ``reader_dependency`` for the products of
    ``objectives`` (and any other product a worker reports)."""
    read = Depends(reader_dependency)
    sources = dict(objectives_source or {})
    scopes = dict(product_scopes or {})
    router = APIRouter(tags=["data products"])

    @router.get(SLO_PATH, response_model=SloReport, summary="Live SLIs and SLO status per product")
    async def slo(request: Request, reader: SliReader = read) -> dict[str, Any]:
        """Every data product the caller may read: measured SLIs, objectives, status."""
        now = clock()
        by_product: dict[str, list[SliSnapshot]] = {product: [] for product in objectives}
        for _, snapshot in await reader.snapshots():
            by_product.setdefault(snapshot.product, []).append(snapshot)
        principal = getattr(request.state, "principal", None)
        products = [
            _product(
                scopes_of.context,
                product,
                snapshots,
                objectives.get(product, ()),
                sources.get(product, "default"),
                read_meter,
                now=now,
                stale_after=stale_after,
                window=window,
            )
            for product, snapshots in sorted(by_product.items())
            if principal is None or principal.has(scopes_of.product_scope(product, scopes))
        ]
        return {"context": scopes_of.context, "generated_at": now, "products": products}

    return router


def _product(
    context: str,
    product: str,
    snapshots: Sequence[SliSnapshot],
    objectives: Sequence[Objective],
    source: Literal["descriptor", "default"],
    meter: ReadMeter | None,
    *,
    now: datetime,
    stale_after: timedelta,
    window: timedelta,
) -> dict[str, Any]:
    fresh = [s for s in snapshots if now - s.measured_at <= stale_after]
    stale = bool(snapshots) and not fresh
    merged = merge_snapshots(fresh or snapshots) if snapshots else None
    slis: dict[str, float] = merged.slis() if merged is not None else {}
    reads = read_errors = None
    if meter is not None:
        reads, read_errors = meter.counts(product)
        rate = meter.error_rate(product)
        if rate is not None:
            slis[ERROR_RATE] = rate
    evaluations = evaluate(objectives, slis)
    rendered: list[dict[str, Any]] = []
    for evaluation in evaluations:
        status = evaluation.status
        if stale and evaluation.objective.sli in _WORKER_SLIS:
            status = SloStatus.UNKNOWN
        rendered.append(
            {
                "sli": evaluation.objective.sli,
                "objective": evaluation.objective.text,
                "target": evaluation.objective.target,
                "value": evaluation.value,
                "status": status,
                "description": evaluation.objective.description,
            }
        )
    empty = SliSnapshot(product=product, measured_at=now, window_s=window.total_seconds())
    shown = merged or empty
    return {
        "product": product,
        "urn": f"urn:dpmesh:{context}:{product}",
        "status": worst(item["status"] for item in rendered),
        "measured_at": None if merged is None else merged.measured_at,
        "snapshot_age_ms": None
        if merged is None
        else max(int((now - merged.measured_at).total_seconds() * 1000), 0),
        "stale": stale,
        "workers": len(fresh or snapshots),
        "window_s": shown.window_s,
        "last_event_time": shown.last_event_time,
        "slis": slis,
        "counts": {
            "events_received": shown.events_received,
            "events_missing": shown.events_missing,
            "events_duplicate": shown.events_duplicate,
            "events_lost": shown.events_lost,
            "window_applied": shown.window_applied,
            "window_errors": shown.window_errors,
            "window_dead_letters": shown.window_dead_letters,
            "freshness_samples": shown.freshness_samples,
            "reads": reads,
            "read_errors": read_errors,
        },
        "objectives": rendered,
        "objectives_source": source,
    }


def read_meter_dependency(meter: ReadMeter, product: str) -> Callable[[], AsyncIterator[None]]:
    """A dependency counting each read of ``product``'s routes, and the server errors.

    Include it after the access check, so that refused requests are not reads. A
    domain error (404), an HTTP error below 500 or invalid input is the caller's
    business, not a failure of the port.
    """

    async def metered() -> AsyncIterator[None]:
        try:
            yield
        except Exception as exc:
            meter.record(product, server_error=_is_server_error(exc))
            raise
        meter.record(product, server_error=False)

    metered.__name__ = f"read_meter_{product.replace('-', '_')}"
    return metered


def _is_server_error(exc: Exception) -> bool:
    if isinstance(exc, HTTPException):
        return exc.status_code >= 500
    return not isinstance(exc, DomainError | RequestValidationError)
