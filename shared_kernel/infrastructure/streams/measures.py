"""Where a stream worker measures the live SLIs of its data products.

Two places, so that each figure is taken where it means what it says:

- **freshness** where product rows are written (:func:`observe_freshness`): once the
  event's transaction has committed, each product written gets one lag sample, from
  the newest ``as_of`` of its rows (the event time of the newest fact) to now, when the
  rows became visible. Skipped redeliveries write nothing, so they add no sample.
- **completeness, errors and dead letters** around each agent's handler
  (:func:`measured_handler`, :func:`dead_letter_hook`), for the products the agent
  feeds (an :class:`AgentMeasure`). The sequence of aggregate versions is followed by
  the agent that reads the product's *domain* topic, where every version of an
  aggregate passes; keys are prefixed with that topic, so aggregates of different
  topics never share a sequence. Agents downstream of a forwarder report failures and
  dead letters (a dead letter there marks its version lost) but do not count events
  again (``counts_events=False``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared_kernel.infrastructure.messaging.cloudevents import EventEnvelope
from shared_kernel.infrastructure.slo import SliRecorder
from shared_kernel.infrastructure.streams.events import DeadLetterHook
from shared_kernel.infrastructure.streams.idempotency import aggregate_version_of

__all__ = [
    "AgentMeasure",
    "Handler",
    "dead_letter_hook",
    "measured_handler",
    "observe_freshness",
]

#: A handler may return a future for an effect still on its way (see process_events).
Handler = Callable[[EventEnvelope], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class AgentMeasure:
    """What one agent contributes to the SLIs of ``products``.

    ``sequence_topic`` is the domain topic whose aggregate versions are followed (the
    key prefix); ``counts_events`` is True for the agent reading that topic itself.
    """

    products: tuple[str, ...]
    sequence_topic: str
    counts_events: bool = True


def observe_freshness(
    recorder: SliRecorder, rows: Sequence[Any], product_of: Callable[[Any], str]
) -> None:
    """One freshness sample per product written, from its newest row's ``as_of`` to
    now; call it once the rows are committed (visible). Every row has an ``as_of``."""
    if not rows:
        return
    visible_at = recorder.now()
    newest: dict[str, datetime] = {}
    for row in rows:
        product = product_of(row)
        if product not in newest or row.as_of > newest[product]:
            newest[product] = row.as_of
    for product, as_of in newest.items():
        recorder.observe_freshness(product, as_of, visible_at)


def _sequence_key(measure: AgentMeasure, envelope: EventEnvelope) -> tuple[str, int] | None:
    subject = envelope.subject or envelope.key
    version = aggregate_version_of(envelope)
    if subject is None or version is None:
        return None
    return f"{measure.sequence_topic}/{subject}", version


def measured_handler(handle: Handler, recorder: SliRecorder, measure: AgentMeasure) -> Handler:
    """``handle``, reporting each failed attempt and, where the agent counts events,
    each event applied."""

    async def measured(envelope: EventEnvelope) -> Any:
        try:
            effect = await handle(envelope)
        except Exception:
            for product in measure.products:
                recorder.observe_error(product)
            raise
        if not measure.counts_events:
            return effect
        sequence = _sequence_key(measure, envelope)
        key, version = sequence if sequence is not None else (None, None)
        for product in measure.products:
            recorder.observe(product, envelope.time, key, version)
        return effect

    return measured


def dead_letter_hook(recorder: SliRecorder, measure: AgentMeasure) -> DeadLetterHook:
    """For ``process_events(on_dead_letter=...)``: each dead letter of the agent, for
    each of its products, with the event's version when the message was an event."""

    def hook(envelope: EventEnvelope | None, reason: str) -> None:
        sequence = None if envelope is None else _sequence_key(measure, envelope)
        key, version = sequence if sequence is not None else (None, None)
        for product in measure.products:
            recorder.observe_dead_letter(product, key, version)

    return hook
