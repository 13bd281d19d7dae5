"""Skip events an agent has already applied, with state that survives a restart.

Design: one changelogged faust table per guarded source topic, keyed by the message
key (the aggregate id). For each key it keeps the highest ``aggregate_version``
applied and the ids of the last few events. An event is a duplicate when

- it carries a version and the key's recorded version is at least that high: the
  outbox relay publishes one aggregate's events in version order on one partition,
  so a version not above the last applied one is a redelivery; or
- it carries no version and its id is among the key's recent ids (events ingested
  without an aggregate behind them).

Why not a set of every event id: it grows without bound, and the version already
orders everything before it. Memory is one small entry per key, whatever the event
count. The table lives in the partitions of the source topic (faust writes a table
change to the changelog partition of the event being processed), so the entry of a
key is always local to the worker that owns the key, and a new worker rebuilds it
from ``<app id>-<table>-changelog`` before it processes anything.

Limits, stated so nobody relies on more:

- One guard per topic: versions of one aggregate spread over two topics (a schema
  major version bump) are not ordered with respect to each other.
- Events without a key cannot be guarded: they land on any partition, so no worker
  owns their entry. They pass through.
- At least once (the embedded broker): the guard's changelog record is written after
  the effect's. A worker killed between the two re-applies that one event after a
  restart. With ``exactly_once`` (Apache Kafka) changelog records and offsets commit
  in one transaction and the window is closed.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types import TableT

from shared_kernel.infrastructure.messaging.cloudevents import EventEnvelope

__all__ = ["VERSION_EXTENSION", "IdempotencyGuard", "aggregate_version_of"]

#: CloudEvents extension attribute that may carry the aggregate version.
VERSION_EXTENSION = "aggregateversion"
#: Field of the event data written by ``shared_kernel.infrastructure.serialization``.
VERSION_FIELD = "aggregate_version"
DEFAULT_RECENT_IDS = 16


def aggregate_version_of(envelope: EventEnvelope) -> int | None:
    """The aggregate version of an event: the extension, else the data field, else None."""
    raw: Any = envelope.extensions.get(VERSION_EXTENSION)
    if raw is None:
        raw = envelope.data.get(VERSION_FIELD)
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw)
        except ValueError:
            return None
    return None


class IdempotencyGuard:
    """Remembers, per message key, what an agent has applied.

    Create it next to the tables it protects, with the partition count of the source
    topic, then hand it to ``process_events`` or ``cloud_events``, which call
    :meth:`is_duplicate` before and :meth:`record` after the agent's work. Call
    both only from the agent that consumes the topic: the entry must be written
    while that key's event is being processed.
    """

    def __init__(
        self,
        app: faust.App,
        name: str,
        *,
        partitions: int | None = None,
        recent_ids: int = DEFAULT_RECENT_IDS,
    ) -> None:
        if recent_ids < 1:
            raise ValueError("recent_ids must be at least 1")
        self.name = name
        self.recent_ids = recent_ids
        self.table: TableT[str, dict[str, Any]] = app.Table(
            name,
            partitions=partitions,
            key_type=str,
            help="Idempotency guard: last applied aggregate version and event ids per key.",
        )

    def is_duplicate(self, envelope: EventEnvelope) -> bool:
        """Whether ``envelope`` was applied already; False for events without a key."""
        if envelope.key is None:
            return False
        entry = self.table.get(envelope.key)
        if entry is None:
            return False
        version = aggregate_version_of(envelope)
        applied = entry.get("version")
        if version is not None and applied is not None:
            return bool(version <= applied)
        return envelope.id in entry.get("recent", ())

    def record(self, envelope: EventEnvelope) -> None:
        """Note ``envelope`` as applied. Call it after the agent's effect."""
        if envelope.key is None:
            return
        entry = self.table.get(envelope.key) or {}
        applied = entry.get("version")
        version = aggregate_version_of(envelope)
        if version is not None and (applied is None or version > applied):
            applied = version
        recent = [*entry.get("recent", ()), envelope.id][-self.recent_ids :]
        self.table[envelope.key] = {"version": applied, "recent": recent}

    def applied_version(self, key: str) -> int | None:
        """The highest version recorded for ``key`` (for inspection and tests)."""
        entry = self.table.get(key)
        if entry is None:
            return None
        version = entry.get("version")
        return int(version) if version is not None else None
