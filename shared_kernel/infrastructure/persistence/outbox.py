"""The transactional outbox and inbox tables.

Outbox: events written in the same transaction as the aggregate change, published
later by the relay. ``seq`` gives commit order within one aggregate (two transactions
on one aggregate are serialised by its version check). Inbox: event ids a consumer
has applied, written in the same transaction as the effect, which makes redelivery
harmless.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared_kernel.domain.events import DomainEvent
from shared_kernel.infrastructure.logging import current_correlation_id
from shared_kernel.infrastructure.serialization import event_to_json

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
SequenceType = BigInteger().with_variant(Integer(), "sqlite")

TopicRouter = Callable[[DomainEvent], str]


def topic_of(event_type: type[DomainEvent]) -> str:
    """``<context>.<aggregate>.v<major>``, the naming rule of DESIGN.md."""
    return f"{event_type.context}.{event_type.aggregate_type}.v{event_type.schema_version}"


def default_topic(event: DomainEvent) -> str:
    """The topic of ``event`` by the naming rule (:func:`topic_of`)."""
    return topic_of(type(event))


def outbox_table(metadata: MetaData, name: str = "outbox") -> Table:
    return Table(
        name,
        metadata,
        Column("seq", SequenceType, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(200), nullable=False),
        Column("schema_version", Integer, nullable=False),
        Column("topic", String(249), nullable=False),
        Column("message_key", String(200), nullable=False),
        Column("aggregate_version", Integer, nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("payload", Text, nullable=False),
        Column("headers", Text, nullable=False, default="{}"),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
        Index(f"ix_{name}_unpublished", "published_at", "seq"),
        Index(f"ix_{name}_key_seq", "message_key", "seq"),
    )


async def mark_for_replay(
    engine: AsyncEngine, table: Table, *, since: datetime | None = None
) -> int:
    """Mark published rows unpublished again, so the relay republishes them; the count.

    The source of truth is the database: a broker that lost its topics, a new
    environment or a new consumer is rebuilt by publishing the kept rows again. The
    relay sends them in ``seq`` order, so each aggregate's events keep their order, and
    consumers idempotent by aggregate version apply each event once. With ``since``,
    only rows recorded at or after it: a consumer that never saw an aggregate's earlier
    versions holds the later ones as a gap, so rebuild a new consumer from everything.
    """
    statement = (
        update(table).where(table.c.published_at.is_not(None)).values(published_at=None, attempts=0)
    )
    if since is not None:
        statement = statement.where(table.c.recorded_at >= since)
    async with engine.begin() as conn:
        result = await conn.execute(statement)
    return int(result.rowcount or 0)


async def purge_published(engine: AsyncEngine, table: Table, *, before: datetime) -> int:
    """Delete rows published before ``before`` (the retention's horizon); the count.
    Unpublished rows are never deleted, however old."""
    statement = delete(table).where(
        table.c.published_at.is_not(None), table.c.published_at < before
    )
    async with engine.begin() as conn:
        result = await conn.execute(statement)
    return int(result.rowcount or 0)


def outbox_channel(table: Table) -> str:
    """PostgreSQL notification channel on which a commit of outbox rows wakes relays."""
    return f"dpmesh_{table.fullname}".replace(".", "_")[:63]


def inbox_table(metadata: MetaData, name: str = "inbox") -> Table:
    return Table(
        name,
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("event_id", String(200), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )


class OutboxWriter:
    """Turns domain events into outbox rows inside the caller's transaction.

    On PostgreSQL it also issues ``NOTIFY`` on :func:`outbox_channel` in that
    transaction; PostgreSQL delivers it at commit, and only then, so a relay in
    another process wakes as soon as the rows are visible (``notify=False`` to opt
    out). SQLite has no such channel: relays there poll.
    """

    def __init__(
        self, table: Table, topic_for: TopicRouter = default_topic, *, notify: bool = True
    ) -> None:
        self.table = table
        self._topic_for = topic_for
        self._notify = notify
        channel = outbox_channel(table).replace('"', '""')
        self._notify_sql = f'NOTIFY "{channel}"'

    def rows(self, events: Sequence[DomainEvent]) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        headers = json.dumps(
            {"correlation_id": current_correlation_id()} if current_correlation_id() else {}
        )
        return [
            {
                "event_id": str(event.event_id),
                "event_type": event.event_type,
                "schema_version": event.schema_version,
                "topic": self._topic_for(event),
                "message_key": event.aggregate_id,
                "aggregate_version": event.aggregate_version,
                # UTC itself: SQLite keeps no offset, so any other zone would shift.
                "occurred_at": event.occurred_at.astimezone(UTC),
                "payload": event_to_json(event).decode(),
                "headers": headers,
                "recorded_at": now,
                "attempts": 0,
            }
            for event in events
        ]

    async def write(self, session: AsyncSession, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        await session.execute(insert(self.table), self.rows(events))
        if self._notify and session.get_bind().dialect.name == "postgresql":
            connection = await session.connection()
            await connection.exec_driver_sql(self._notify_sql)
