"""Stream-processed data products from a context's domain events, the safe way by default.

A :class:`Projection` says which topic an agent reads, which event types it knows,
which products it feeds and how an event changes them: ``apply(tx, event, at)``
reads and writes the worker's state through ``tx`` and returns the product rows to
upsert. :class:`ProjectionStreams` registers one thin faust agent per projection and
gives every one of them what docs/stream-processing.md argues a crash-safe worker needs:

- an event's state change, its product rows and the aggregate version it applied are
  committed in one read-store transaction (``streams.state``);
- per aggregate, versions are applied in order: a redelivery changes nothing, a
  version that skips ahead is held until the missing ones arrive, an open gap is
  reported (:meth:`ProjectionStreams.report_gaps`);
- an event that can never be applied (malformed, or refused by the domain) goes to the
  dead-letter topic with its reason; one that fails because the store is away is
  retried, then the worker stops (exit non-zero): the product is late, never wrong;
- events of types the worker does not know are skipped and counted;
- with an :class:`~shared_kernel.infrastructure.slo.SliRecorder`, the products' live
  SLIs are measured as the agents run (``streams.measures``).

Contexts whose products join several streams by another key (the supply chain's
re-keyed topics) write their agents by hand on the same parts.
"""

from __future__ import annotations

import functools
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import faust
from faust.types import TopicT
from sqlalchemy.ext.asyncio import AsyncConnection

from shared_kernel.domain import DomainError, DomainEvent
from shared_kernel.infrastructure.messaging.cloudevents import EventEnvelope
from shared_kernel.infrastructure.messaging.consumer import PermanentEventError
from shared_kernel.infrastructure.serialization import event_from_json
from shared_kernel.infrastructure.slo import SliRecorder
from shared_kernel.infrastructure.streams.app import event_topic, stream_agent
from shared_kernel.infrastructure.streams.events import DeadLetterHook, process_events
from shared_kernel.infrastructure.streams.idempotency import aggregate_version_of
from shared_kernel.infrastructure.streams.measures import (
    AgentMeasure,
    dead_letter_hook,
    measured_handler,
    observe_freshness,
)
from shared_kernel.infrastructure.streams.state import (
    Gap,
    Outcome,
    StateTransaction,
    StreamState,
)

__all__ = [
    "Projection",
    "ProjectionSink",
    "ProjectionStreams",
    "apply_in_order",
    "report_open_gaps",
    "safe_agent",
]

logger = logging.getLogger(__name__)

#: A failing sink (the read store down) is retried this many times, about half a
#: minute with the kernel's backoff, before the worker stops (exit non-zero).
MAX_ATTEMPTS = 18

Apply = Callable[[StateTransaction, Any, datetime], Awaitable[Sequence[object]]]


@dataclass(frozen=True, slots=True)
class Projection:
    """One agent: the domain topic it reads, the event classes it applies (by their
    CloudEvents type), the products it feeds and the change an event makes."""

    name: str
    topic: str
    events: tuple[type[DomainEvent], ...]
    products: tuple[str, ...]
    apply: Apply

    @property
    def event_classes(self) -> dict[str, type[DomainEvent]]:
        return {cls.type_name(): cls for cls in self.events}


class ProjectionSink(Protocol):
    """The read store as the worker needs it (``infrastructure.products.ProductReadStore``)."""

    def stream_state(self, consumer: str) -> StreamState: ...

    def product_of(self, row: object) -> str: ...

    async def write_in(self, conn: AsyncConnection, rows: Sequence[object]) -> None: ...


class ProjectionStreams:
    """The agents of ``projections`` on ``app``, writing into ``sink``."""

    def __init__(
        self,
        app: faust.App,
        sink: ProjectionSink,
        projections: Iterable[Projection],
        *,
        context: str,
        partitions: int | None = None,
        sli: SliRecorder | None = None,
    ) -> None:
        self.app = app
        self.sink = sink
        self.context = context
        self.sli = sli
        self.projections = tuple(projections)
        self.partitions = partitions or int(app.conf.topic_partitions)
        #: Events of types this worker does not know, per type: skipped, but counted.
        self.unknown_types: Counter[str] = Counter()
        for projection in self.projections:
            self._agent(projection)

    @functools.cached_property
    def state(self) -> StreamState:
        """The worker's durable state, in the read store's database (made on first use,
        so that the topology can be inspected without a database)."""
        return self.sink.stream_state(str(self.app.conf.id))

    @property
    def output_topics(self) -> dict[str, int]:
        """Topics the worker writes but does not read: none."""
        return {}

    def _agent(self, projection: Projection) -> None:
        classes = projection.event_classes

        async def apply(envelope: EventEnvelope) -> None:
            try:
                await self._in_sequence(projection, classes, envelope)
            except DomainError as exc:
                raise PermanentEventError(f"{type(exc).__name__}: {exc}") from exc

        source = event_topic(self.app, projection.topic, partitions=self.partitions)
        safe_agent(
            self.app,
            source,
            f"{self.context}.products.{projection.name}",
            apply,
            sli=self.sli,
            measure=AgentMeasure(projection.products, projection.topic),
        )

    async def _in_sequence(
        self,
        projection: Projection,
        classes: Mapping[str, type[DomainEvent]],
        envelope: EventEnvelope,
    ) -> None:
        async def change(tx: StateTransaction, held: EventEnvelope) -> None:
            cls = classes.get(held.type)
            if cls is None:
                self._unknown(projection, held.type)
                return
            event = event_from_json(cls, json.dumps(held.data))
            rows = await projection.apply(tx, event, held.time)
            if rows:
                await self.sink.write_in(tx.connection, rows)
                if self.sli is not None:
                    recorder, product_of = self.sli, self.sink.product_of
                    tx.after_commit.append(lambda: observe_freshness(recorder, rows, product_of))

        await apply_in_order(self.state, envelope, projection.name, change)

    def _unknown(self, projection: Projection, event_type: str) -> None:
        self.unknown_types[event_type] += 1
        if self.unknown_types[event_type] == 1:
            logger.warning("events of unknown type %s are skipped (and counted)", event_type)
        if self.sli is not None:
            for product in projection.products:
                self.sli.observe_unknown_type(product, event_type)

    async def gaps(self) -> list[Gap]:
        """Aggregates whose events wait for missing versions (see ``streams.state``)."""
        return await self.state.gaps()

    async def report_gaps(self, alert_after: timedelta) -> list[Gap]:
        """:func:`report_open_gaps` of this worker's projections."""
        by_name = {projection.name: projection.products for projection in self.projections}
        return await report_open_gaps(
            await self.gaps(),
            alert_after,
            context=self.context,
            products_of=lambda sequence: by_name.get(sequence, ()),
            all_products={p for products in by_name.values() for p in products},
            sli=self.sli,
        )


def safe_agent(
    app: faust.App,
    source: TopicT,
    name: str,
    handle: Callable[[EventEnvelope], Awaitable[Any]],
    *,
    sli: SliRecorder | None = None,
    measure: AgentMeasure | None = None,
) -> None:
    """A thin agent on ``source`` running ``handle`` per event the crash-safe way:
    retried, then the worker stops (``give_up="crash"``) when the store stays away;
    dead-lettered only when the event can never apply; measured for the SLIs of
    ``measure``'s products when ``sli`` is given."""
    handler: Callable[[EventEnvelope], Awaitable[Any]] = handle
    on_dead_letter: DeadLetterHook | None = None
    if sli is not None and measure is not None:
        handler = measured_handler(handle, sli, measure)
        on_dead_letter = dead_letter_hook(sli, measure)

    async def agent(stream: faust.StreamT[Any]) -> None:
        await process_events(
            stream,
            handler,
            max_attempts=MAX_ATTEMPTS,
            on_dead_letter=on_dead_letter,
            give_up="crash",
        )

    stream_agent(app, source, name=name)(agent)


async def apply_in_order(
    state: StreamState,
    envelope: EventEnvelope,
    sequence: str,
    apply: Callable[[StateTransaction, EventEnvelope], Awaitable[None]],
) -> Outcome:
    """Apply ``envelope`` in its aggregate's version order, in the sequence
    ``<sequence>/<aggregate>`` (module docstring of ``streams.state``): a redelivery is
    skipped, a version past the next is held. An event that names no aggregate and
    version cannot be placed: it is a dead letter."""
    subject = envelope.subject or envelope.key
    version = aggregate_version_of(envelope)
    if subject is None or version is None or version < 1:
        raise PermanentEventError(
            f"{envelope.type} {envelope.id} names no aggregate and version; "
            "its place in the aggregate's history is unknown"
        )
    outcome, _ = await state.apply_in_sequence(envelope, f"{sequence}/{subject}", version, apply)
    if outcome is Outcome.DUPLICATE:
        logger.info("skipped redelivered %s v%s of %s", envelope.type, version, subject)
    elif outcome is Outcome.HELD:
        logger.warning(
            "held %s v%s of %s: an earlier version has not arrived",
            envelope.type,
            version,
            subject,
        )
    return outcome


async def report_open_gaps(
    gaps: Sequence[Gap],
    alert_after: timedelta,
    *,
    context: str,
    products_of: Callable[[str], Iterable[str]],
    all_products: Iterable[str],
    sli: SliRecorder | None,
) -> list[Gap]:
    """Tell the SLIs how many versions the held events wait for (per product, through
    ``products_of`` a sequence name) and log an error for each gap open longer than
    ``alert_after``; read from the durable state, so true across restarts."""
    missing: Counter[str] = Counter()
    now = datetime.now(UTC)
    for gap in gaps:
        for product in products_of(gap.aggregate.split("/", 1)[0]):
            missing[product] += gap.missing
        if now - gap.since >= alert_after:
            logger.error(
                "gap in %s: versions %s..%s missing for %.0f s, %s later events held; "
                "if the broker lost them, replay the outbox ('dpmesh replay %s')",
                gap.aggregate,
                gap.first,
                gap.last,
                (now - gap.since).total_seconds(),
                gap.held,
                context,
            )
    if sli is not None:
        for product in set(all_products):
            sli.observe_held(product, missing[product])
    return list(gaps)
