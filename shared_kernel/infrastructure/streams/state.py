"""A stream worker's state, kept in its read store and changed in one transaction per event.

Why not faust tables. A faust table lives in memory, its changelog is written
asynchronously, and on every rebalance it is rebuilt from the changelog over what the
agents have already changed. A worker killed, or a group rebalanced, between those
steps left states that had counted an event whose effect was gone, so the
redelivered event was skipped as "already applied" (supply chain crash tests: 5 runs
in 6 lost events). Here the state, the data product rows computed from it and the
aggregate versions applied are written in the same database transaction: either all
of an event's effect is there, or none of it is and the event comes again.

Order and gaps. Every event carries its aggregate's version, which grows by exactly 1
per event. Per aggregate (per *sequence*), the transaction reads the version applied
and:

- a version at or below it is a redelivery: nothing happens;
- the next version is applied, then any held successors, in order;
- a version past the next is **held**: stored, not applied, until the missing ones
  arrive (from a rewound partition, a replay, a late relay). :meth:`StreamState.gaps`
  lists the gaps and how long they have been open, for alerts and the completeness SLI.

Tables (in the read store's metadata, created with it): ``stream_state`` (JSON value per
``store``/``key``), ``stream_sequences`` (version applied per aggregate),
``stream_held`` (held events). Each row carries the ``consumer`` (the stream app id),
so several apps can share one database.

Concurrency. On SQLite, one transaction at a time per process (the file has one
writer anyway, and a read-then-write transaction would fail to upgrade its lock
while another commits). On PostgreSQL the rows read are locked ``FOR UPDATE``; the
agents of one key run in the worker that owns the key's partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared_kernel.infrastructure.messaging.cloudevents import EventEnvelope

__all__ = [
    "Gap",
    "Outcome",
    "StateTransaction",
    "StreamState",
    "StreamStateTables",
    "stream_state_tables",
]

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class StreamStateTables:
    state: Table
    sequences: Table
    held: Table


def stream_state_tables(metadata: MetaData) -> StreamStateTables:
    """Define the three tables on ``metadata`` (once per metadata)."""
    state = Table(
        "stream_state",
        metadata,
        Column("consumer", String(200), nullable=False),
        Column("store", String(100), nullable=False),
        Column("key", String(400), nullable=False),
        Column("value", Text, nullable=False),
        PrimaryKeyConstraint("consumer", "store", "key", name="pk_stream_state"),
    )
    sequences = Table(
        "stream_sequences",
        metadata,
        Column("consumer", String(200), nullable=False),
        Column("aggregate", String(400), nullable=False),
        Column("version", BigInteger, nullable=False),
        Column("applied_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("consumer", "aggregate", name="pk_stream_sequences"),
    )
    held = Table(
        "stream_held",
        metadata,
        Column("consumer", String(200), nullable=False),
        Column("aggregate", String(400), nullable=False),
        Column("version", BigInteger, nullable=False),
        Column("envelope", Text, nullable=False),
        Column("held_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("consumer", "aggregate", "version", name="pk_stream_held"),
    )
    return StreamStateTables(state, sequences, held)


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    HELD = "held"


@dataclass(frozen=True, slots=True)
class Gap:
    """Versions ``first..last`` of ``aggregate`` are missing; later ones wait since ``since``."""

    aggregate: str
    first: int
    last: int
    held: int
    since: datetime

    @property
    def missing(self) -> int:
        return self.last - self.first + 1


#: Applies one event inside the transaction; for held events too, later.
Apply = Callable[["StateTransaction", EventEnvelope], Awaitable[None]]


class StreamState:
    """The durable state of the stream app ``consumer``, over ``engine``."""

    def __init__(
        self,
        engine: AsyncEngine,
        tables: StreamStateTables,
        consumer: str,
        *,
        clock: Clock = _utc_now,
    ) -> None:
        self.engine = engine
        self.tables = tables
        self.consumer = consumer
        self._clock = clock
        self._postgres = engine.dialect.name == "postgresql"
        self._serial = asyncio.Lock() if not self._postgres else None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[StateTransaction]:
        """One transaction; committed when the block ends without an exception."""
        async with contextlib.AsyncExitStack() as stack:
            if self._serial is not None:
                await stack.enter_async_context(self._serial)
            conn = await stack.enter_async_context(self.engine.begin())
            tx = StateTransaction(self, conn)
            yield tx
            await tx.flush()
        for callback in tx.after_commit:
            callback()

    async def apply_in_sequence(
        self,
        envelope: EventEnvelope,
        aggregate: str,
        version: int,
        apply: Apply,
    ) -> tuple[Outcome, int]:
        """Apply ``envelope`` (version ``version`` of ``aggregate``) in order; see the
        module docstring. Returns the outcome and how many events were applied (held
        successors included)."""
        async with self.transaction() as tx:
            applied = await tx.applied_version(aggregate)
            if version <= applied:
                return Outcome.DUPLICATE, 0
            if version > applied + 1:
                await tx.hold(aggregate, version, envelope)
                return Outcome.HELD, 0
            await apply(tx, envelope)
            count = 1
            while (successor := await tx.take_held(aggregate, version + 1)) is not None:
                await apply(tx, successor)
                version += 1
                count += 1
            await tx.set_applied(aggregate, version, applied)
            return Outcome.APPLIED, count

    async def gaps(self) -> list[Gap]:
        """Every open gap: per aggregate with held events, the missing versions."""
        seq, held = self.tables.sequences, self.tables.held
        query = (
            select(
                held.c.aggregate,
                func.min(held.c.version),
                func.count(),
                func.min(held.c.held_at),
                seq.c.version,
            )
            .select_from(
                held.outerjoin(
                    seq,
                    and_(seq.c.consumer == held.c.consumer, seq.c.aggregate == held.c.aggregate),
                )
            )
            .where(held.c.consumer == self.consumer)
            .group_by(held.c.aggregate, seq.c.version)
            .order_by(held.c.aggregate)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            Gap(
                aggregate=str(aggregate),
                first=int(applied or 0) + 1,
                last=int(first_held) - 1,
                held=int(count),
                since=_aware(since),
            )
            for aggregate, first_held, count, since, applied in rows
        ]

    async def applied_version(self, aggregate: str) -> int:
        async with self.transaction() as tx:
            return await tx.applied_version(aggregate)

    async def load(self, store: str, key: str) -> dict[str, Any] | None:
        async with self.transaction() as tx:
            return await tx.get(store, key)


class StateTransaction:
    """Reads and writes of one event's transaction; writes are flushed at its end."""

    def __init__(self, owner: StreamState, conn: AsyncConnection) -> None:
        self.connection = conn
        self._owner = owner
        self._tables = owner.tables
        self._consumer = owner.consumer
        self._cache: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._dirty: set[tuple[str, str]] = set()
        #: Called once the transaction committed (measurements, notifications).
        self.after_commit: list[Callable[[], None]] = []

    async def get(self, store: str, key: str) -> dict[str, Any] | None:
        """The value of ``key`` in ``store``, as this transaction sees it."""
        if (store, key) in self._cache:
            return self._cache[(store, key)]
        t = self._tables.state
        query = select(t.c.value).where(
            t.c.consumer == self._consumer, t.c.store == store, t.c.key == key
        )
        if self._owner._postgres:
            query = query.with_for_update()
        raw = await self.connection.scalar(query)
        value = None if raw is None else json.loads(raw)
        self._cache[(store, key)] = value
        return value

    def put(self, store: str, key: str, value: Mapping[str, Any]) -> None:
        self._cache[(store, key)] = dict(value)
        self._dirty.add((store, key))

    async def flush(self) -> None:
        rows = [
            {
                "consumer": self._consumer,
                "store": store,
                "key": key,
                "value": json.dumps(self._cache[(store, key)], separators=(",", ":")),
            }
            for store, key in sorted(self._dirty)
        ]
        self._dirty.clear()
        if rows:
            await _upsert(self.connection, self._tables.state, rows, ("value",))

    async def applied_version(self, aggregate: str) -> int:
        t = self._tables.sequences
        query = select(t.c.version).where(
            t.c.consumer == self._consumer, t.c.aggregate == aggregate
        )
        if self._owner._postgres:
            query = query.with_for_update()
        version = await self.connection.scalar(query)
        return int(version or 0)

    async def set_applied(self, aggregate: str, version: int, before: int) -> None:
        t = self._tables.sequences
        now = self._owner._clock()
        if before == 0:
            await _upsert(
                self.connection,
                t,
                [
                    {
                        "consumer": self._consumer,
                        "aggregate": aggregate,
                        "version": version,
                        "applied_at": now,
                    }
                ],
                ("version", "applied_at"),
            )
            return
        await self.connection.execute(
            update(t)
            .where(t.c.consumer == self._consumer, t.c.aggregate == aggregate)
            .values(version=version, applied_at=now)
        )

    async def hold(self, aggregate: str, version: int, envelope: EventEnvelope) -> None:
        await _upsert(
            self.connection,
            self._tables.held,
            [
                {
                    "consumer": self._consumer,
                    "aggregate": aggregate,
                    "version": version,
                    "envelope": _envelope_json(envelope),
                    "held_at": self._owner._clock(),
                }
            ],
            (),
        )

    async def take_held(self, aggregate: str, version: int) -> EventEnvelope | None:
        t = self._tables.held
        where = (t.c.consumer == self._consumer, t.c.aggregate == aggregate, t.c.version == version)
        raw = await self.connection.scalar(select(t.c.envelope).where(*where))
        if raw is None:
            return None
        await self.connection.execute(delete(t).where(*where))
        return _envelope_from_json(raw)


async def _upsert(
    conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], update_columns: tuple[str, ...]
) -> None:
    """Insert ``rows``; on a key that exists, set ``update_columns`` (or keep the row)."""
    keys = [c.name for c in table.primary_key.columns]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(rows)
    if update_columns:
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={c: excluded[c] for c in update_columns}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    await conn.execute(statement)


def _envelope_json(envelope: EventEnvelope) -> str:
    data = asdict(envelope)
    data["time"] = envelope.time.isoformat()
    return json.dumps(data, separators=(",", ":"))


def _envelope_from_json(raw: str) -> EventEnvelope:
    data = json.loads(raw)
    data["time"] = datetime.fromisoformat(data["time"])
    return EventEnvelope(**data)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
