"""The SQLAlchemy unit of work against real databases (SQLite file and PostgreSQL).

A test-only aggregate is mapped imperatively here, as a context maps its own in
``infrastructure/persistence/orm.py``, next to the shared outbox table.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, TypeDecorator, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import registry

from shared_kernel.application import Command, MessageBus
from shared_kernel.domain import AggregateRoot, ConcurrencyConflict, DomainEvent, EntityId, NotFound
from shared_kernel.infrastructure.database import create_engine, create_session_factory
from shared_kernel.infrastructure.persistence.outbox import OutboxWriter, outbox_table
from shared_kernel.infrastructure.persistence.unit_of_work import AfterCommit, SqlAlchemyUnitOfWork

pytestmark = pytest.mark.integration

# -- a test-only domain ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CounterId(EntityId):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterEvent(DomainEvent):
    context = "uow_test"
    aggregate_type = "counter"


@dataclass(frozen=True, slots=True, kw_only=True)
class Opened(CounterEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Incremented(CounterEvent):
    by: int
    total: int


class Counter(AggregateRoot[CounterId]):
    def __init__(self, id: CounterId, total: int = 0, version: int = 0) -> None:
        super().__init__(id, version)
        self.total = total

    @classmethod
    def open(cls, id: str) -> Counter:
        counter = cls(CounterId(id))
        counter._record(Opened())
        return counter

    def increment(self, by: int = 1, occurred_at: datetime | None = None) -> None:
        self.total += by
        event = Incremented(by=by, total=self.total)
        if occurred_at is not None:
            event = Incremented(by=by, total=self.total, occurred_at=occurred_at)
        self._record(event)


# -- its persistence ---------------------------------------------------------------


class CounterIdColumn(TypeDecorator[CounterId]):
    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: CounterId | None, dialect: Dialect) -> str | None:
        return None if value is None else value.value

    def process_result_value(self, value: str | None, dialect: Dialect) -> CounterId | None:
        return None if value is None else CounterId(value)


metadata = MetaData()
counters = Table(
    "counters",
    metadata,
    Column("id", CounterIdColumn(), primary_key=True),
    Column("total", Integer, nullable=False),
    Column("version", Integer, nullable=False),
)
outbox = outbox_table(metadata)
mapper_registry = registry()


def map_counter_once() -> None:
    """A class can be mapped only once per process."""
    if sa_inspect(Counter, raiseerr=False) is None:
        mapper_registry.map_imperatively(
            Counter,
            counters,
            version_id_col=counters.c.version,
            version_id_generator=False,
        )


map_counter_once()


class Counters:
    def __init__(self, session: AsyncSession, uow: SqlAlchemyUnitOfWork) -> None:
        self._session = session
        self._uow = uow

    async def add(self, counter: Counter) -> None:
        self._session.add(counter)
        self._uow.track(counter)

    async def get(self, counter_id: str) -> Counter:
        counter = await self._session.get(Counter, CounterId(counter_id))
        if counter is None:
            raise NotFound("Counter", counter_id)
        self._uow.track(counter)
        return counter


class CounterUnitOfWork(SqlAlchemyUnitOfWork):
    counters: Counters

    def _open_repositories(self, session: AsyncSession) -> None:
        self.counters = Counters(session, self)


# -- fixtures and helpers ----------------------------------------------------------

UowFactory = Callable[..., CounterUnitOfWork]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture
def new_uow(sessions: async_sessionmaker[AsyncSession]) -> UowFactory:
    def make(after_commit: Sequence[AfterCommit] = ()) -> CounterUnitOfWork:
        return CounterUnitOfWork(sessions, OutboxWriter(outbox), after_commit=after_commit)

    return make


async def stored_counters(engine: AsyncEngine) -> dict[str, tuple[int, int]]:
    async with engine.connect() as connection:
        rows = (await connection.execute(select(counters))).all()
    return {row.id.value: (row.total, row.version) for row in rows}


async def outbox_rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(outbox).order_by(outbox.c.seq))).all())


async def open_counter(new_uow: UowFactory, counter_id: str = "c-1") -> None:
    async with new_uow() as uow:
        await uow.counters.add(Counter.open(counter_id))
        await uow.commit()


def as_utc(moment: datetime) -> datetime:
    """SQLite returns the stored UTC time without its offset; PostgreSQL keeps it."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- commit ------------------------------------------------------------------------


async def test_commit_stores_the_aggregate_and_its_events_together(
    engine: AsyncEngine, new_uow: UowFactory
) -> None:
    async with new_uow() as uow:
        counter = Counter.open("c-1")
        counter.increment(2)
        counter.increment(3)
        await uow.counters.add(counter)
        await uow.commit()

    assert await stored_counters(engine) == {"c-1": (5, 3)}
    rows = await outbox_rows(engine)
    assert [row.event_type for row in rows] == [
        "uow_test.Opened",
        "uow_test.Incremented",
        "uow_test.Incremented",
    ]
    assert {row.topic for row in rows} == {"uow_test.counter.v1"}
    assert {row.message_key for row in rows} == {"c-1"}
    assert [row.aggregate_version for row in rows] == [1, 2, 3]
    assert [json.loads(row.payload).get("total") for row in rows] == [None, 2, 5]
    assert [json.loads(row.payload)["event_id"] for row in rows] == [r.event_id for r in rows]
    assert all(row.published_at is None and row.attempts == 0 for row in rows)
    assert {row.schema_version for row in rows} == {1}


async def test_a_later_change_continues_the_version_and_the_outbox_order(
    engine: AsyncEngine, new_uow: UowFactory
) -> None:
    await open_counter(new_uow)

    async with new_uow() as uow:
        counter = await uow.counters.get("c-1")
        counter.increment(4)
        await uow.commit()

    assert await stored_counters(engine) == {"c-1": (4, 2)}
    rows = await outbox_rows(engine)
    assert [row.aggregate_version for row in rows] == [1, 2]
    assert rows[0].seq < rows[1].seq
    assert json.loads(rows[1].payload)["by"] == 4


async def test_loading_twice_in_one_unit_writes_each_event_once(
    engine: AsyncEngine, new_uow: UowFactory
) -> None:
    await open_counter(new_uow)

    async with new_uow() as uow:
        first = await uow.counters.get("c-1")
        again = await uow.counters.get("c-1")
        assert first is again
        again.increment()
        await uow.commit()

    assert [row.aggregate_version for row in await outbox_rows(engine)] == [1, 2]


async def test_occurred_at_is_stored_as_the_same_instant(
    engine: AsyncEngine, new_uow: UowFactory
) -> None:
    await open_counter(new_uow)
    local = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))

    async with new_uow() as uow:
        (await uow.counters.get("c-1")).increment(occurred_at=local)
        await uow.commit()

    row = (await outbox_rows(engine))[-1]
    assert as_utc(row.occurred_at) == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# -- rollback ----------------------------------------------------------------------


async def test_leaving_without_commit_stores_nothing(
    engine: AsyncEngine, new_uow: UowFactory
) -> None:
    async with new_uow() as uow:
        await uow.counters.add(Counter.open("c-1"))
        await uow.session.flush()  # the row reached the transaction, not the database

    assert await stored_counters(engine) == {}
    assert await outbox_rows(engine) == []


async def test_leaving_without_commit_keeps_the_previous_state(
    engine: AsyncEngine, new_uow: UowFactory
) -> None:
    await open_counter(new_uow)

    async with new_uow() as uow:
        (await uow.counters.get("c-1")).increment(7)

    assert await stored_counters(engine) == {"c-1": (0, 1)}
    assert len(await outbox_rows(engine)) == 1


async def test_an_exception_inside_the_block_stores_nothing(
    engine: AsyncEngine, new_uow: UowFactory
) -> None:
    await open_counter(new_uow)

    async def failing_handler() -> None:
        async with new_uow() as uow:
            (await uow.counters.get("c-1")).increment(3)
            await uow.counters.add(Counter.open("c-2"))
            await uow.session.flush()
            raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError, match="handler failed"):
        await failing_handler()

    assert await stored_counters(engine) == {"c-1": (0, 1)}
    assert [row.message_key for row in await outbox_rows(engine)] == ["c-1"]


async def test_explicit_rollback_discards_the_changes(
    engine: AsyncEngine, new_uow: UowFactory
) -> None:
    async with new_uow() as uow:
        await uow.counters.add(Counter.open("c-1"))
        await uow.session.flush()
        await uow.rollback()
        await uow.counters.add(Counter.open("c-2"))
        await uow.commit()

    assert set(await stored_counters(engine)) == {"c-2"}
    assert {row.message_key for row in await outbox_rows(engine)} == {"c-2"}


# -- optimistic concurrency --------------------------------------------------------


async def test_the_second_of_two_concurrent_writers_gets_a_conflict(
    engine: AsyncEngine, new_uow: UowFactory
) -> None:
    await open_counter(new_uow)
    first, second = new_uow(), new_uow()

    async with first, second:
        mine = await first.counters.get("c-1")
        theirs = await second.counters.get("c-1")
        mine.increment(1)
        theirs.increment(10)
        await second.counters.add(Counter.open("c-2"))

        await first.commit()
        with pytest.raises(ConcurrencyConflict) as caught:
            await second.commit()

    # Only a loaded aggregate can be stale; the new one is not blamed.
    assert (caught.value.kind, caught.value.identifier) == ("Counter", "c-1")
    assert await stored_counters(engine) == {"c-1": (1, 2)}
    rows = await outbox_rows(engine)
    assert [(row.message_key, row.aggregate_version) for row in rows] == [("c-1", 1), ("c-1", 2)]
    assert json.loads(rows[-1].payload)["by"] == 1
    assert list(second.collect_committed_events()) == []


async def test_a_conflict_among_several_loaded_aggregates_names_them_all(
    engine: AsyncEngine, new_uow: UowFactory
) -> None:
    await open_counter(new_uow, "c-1")
    await open_counter(new_uow, "c-2")
    first, second = new_uow(), new_uow()

    async with first, second:
        # Everything is loaded before anything changes: on SQLite an early autoflush
        # would take the single write lock and make the other writer wait for it.
        theirs = await first.counters.get("c-2")
        mine = [await second.counters.get("c-1"), await second.counters.get("c-2")]
        theirs.increment()
        for counter in mine:
            counter.increment()
        await first.commit()
        with pytest.raises(ConcurrencyConflict) as caught:
            await second.commit()

    assert (caught.value.kind, caught.value.identifier) == (
        "aggregates",
        "Counter c-1, Counter c-2",
    )
    assert await stored_counters(engine) == {"c-1": (0, 1), "c-2": (1, 2)}
    assert len(await outbox_rows(engine)) == 3


async def test_after_a_conflict_a_fresh_unit_can_retry(
    engine: AsyncEngine, new_uow: UowFactory
) -> None:
    await open_counter(new_uow)
    loser = new_uow()
    async with new_uow() as winner, loser:
        (await winner.counters.get("c-1")).increment(1)
        (await loser.counters.get("c-1")).increment(10)
        await winner.commit()
        with pytest.raises(ConcurrencyConflict):
            await loser.commit()

    async with loser:
        (await loser.counters.get("c-1")).increment(10)
        await loser.commit()

    assert await stored_counters(engine) == {"c-1": (11, 3)}
    assert [row.aggregate_version for row in await outbox_rows(engine)] == [1, 2, 3]


async def wait_for_a_lock_wait(engine: AsyncEngine) -> None:
    """Give the blocked writer the chance to queue behind the lock before going on.

    On PostgreSQL the wait is visible in ``pg_locks``; SQLite's busy wait is not, so
    there the writer simply gets some turns of the event loop. Nothing is asserted
    about the wait itself: the outcome below must hold either way.
    """
    if engine.dialect.name != "postgresql":
        for _ in range(20):
            await asyncio.sleep(0)
        return
    for _ in range(500):
        async with engine.connect() as connection:
            waiting = await connection.scalar(
                text("SELECT count(*) FROM pg_locks WHERE NOT granted")
            )
        if waiting:
            return
        await asyncio.sleep(0.01)


async def test_a_writer_queued_behind_another_gets_a_conflict(
    engine: AsyncEngine, new_uow: UowFactory
) -> None:
    await open_counter(new_uow)
    first, second = new_uow(), new_uow()

    async with first, second:
        (await first.counters.get("c-1")).increment(1)
        (await second.counters.get("c-1")).increment(10)
        await first.session.flush()  # first now holds the write lock
        queued = asyncio.create_task(second.commit())
        await wait_for_a_lock_wait(engine)
        await first.commit()
        with pytest.raises(ConcurrencyConflict):
            await queued

    assert await stored_counters(engine) == {"c-1": (1, 2)}
    assert [row.aggregate_version for row in await outbox_rows(engine)] == [1, 2]


# -- after commit and committed events ---------------------------------------------


async def test_after_commit_callbacks_run_only_after_a_successful_commit(
    engine: AsyncEngine, new_uow: UowFactory
) -> None:
    calls: list[str] = []
    uow = new_uow(after_commit=[lambda: calls.append("first")])
    uow.add_after_commit(lambda: calls.append("second"))

    async with uow:
        await uow.counters.add(Counter.open("c-1"))
        await uow.session.flush()
        assert calls == []
    assert calls == []  # left without commit

    async with uow:
        await uow.counters.add(Counter.open("c-1"))
        await uow.commit()
        assert calls == ["first", "second"]
    assert calls == ["first", "second"]


async def test_after_commit_callbacks_do_not_run_when_the_commit_fails(
    engine: AsyncEngine, new_uow: UowFactory
) -> None:
    await open_counter(new_uow)
    calls: list[str] = []
    first, second = new_uow(), new_uow(after_commit=[lambda: calls.append("woken")])

    async with first, second:
        (await first.counters.get("c-1")).increment()
        (await second.counters.get("c-1")).increment()
        await first.commit()
        with pytest.raises(ConcurrencyConflict):
            await second.commit()

    assert calls == []


async def test_a_failing_callback_neither_hides_the_commit_nor_stops_the_others(
    engine: AsyncEngine, new_uow: UowFactory, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def broken() -> None:
        raise RuntimeError("wake-up failed")

    uow = new_uow(after_commit=[broken, lambda: calls.append("after")])

    async with uow:
        await uow.counters.add(Counter.open("c-1"))
        await uow.commit()  # the transaction is durable: commit must not report failure

    assert calls == ["after"]
    assert await stored_counters(engine) == {"c-1": (0, 1)}
    assert [event.aggregate_id for event in uow.collect_committed_events()] == ["c-1"]
    assert "wake-up failed" in caplog.text


async def test_committed_events_are_collected_once(
    engine: AsyncEngine, new_uow: UowFactory
) -> None:
    uow = new_uow()
    async with uow:
        counter = Counter.open("c-1")
        counter.increment(2)
        await uow.counters.add(counter)
        assert list(uow.collect_committed_events()) == []  # nothing committed yet
        await uow.commit()

    events = list(uow.collect_committed_events())

    assert [type(event) for event in events] == [Opened, Incremented]
    assert [event.aggregate_version for event in events] == [1, 2]
    assert list(uow.collect_committed_events()) == []
    assert counter.pending_events == ()


async def test_events_of_a_unit_left_without_commit_are_never_collected(
    new_uow: UowFactory,
) -> None:
    uow = new_uow()
    async with uow:
        await uow.counters.add(Counter.open("c-1"))

    assert list(uow.collect_committed_events()) == []


async def test_events_of_several_commits_queue_up_in_order(new_uow: UowFactory) -> None:
    uow = new_uow()
    async with uow:
        await uow.counters.add(Counter.open("c-1"))
        await uow.commit()
    async with uow:
        (await uow.counters.get("c-1")).increment(5)
        await uow.commit()

    events = list(uow.collect_committed_events())

    assert [(type(e), e.aggregate_version) for e in events] == [(Opened, 1), (Incremented, 2)]


# -- lifecycle ---------------------------------------------------------------------


async def test_a_unit_cannot_be_entered_twice_at_once(new_uow: UowFactory) -> None:
    uow = new_uow()
    async with uow:
        with pytest.raises(RuntimeError, match="already open"):
            await uow.__aenter__()


# -- with the message bus ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenCounter(Command):
    counter_id: str


async def handle_open(command: OpenCounter, uow: CounterUnitOfWork) -> None:
    async with uow:
        await uow.counters.add(Counter.open(command.counter_id))
        await uow.commit()


async def welcome_bonus(event: Opened, uow: CounterUnitOfWork) -> None:
    async with uow:
        (await uow.counters.get(event.aggregate_id)).increment(1)
        await uow.commit()


async def test_the_bus_runs_reactions_in_their_own_transactions(
    engine: AsyncEngine, new_uow: UowFactory
) -> None:
    bus = MessageBus(new_uow(), {OpenCounter: handle_open}, {Opened: [welcome_bonus]})

    await bus.handle(OpenCounter("c-1"))

    assert await stored_counters(engine) == {"c-1": (1, 2)}
    rows = await outbox_rows(engine)
    assert [(row.event_type, row.aggregate_version) for row in rows] == [
        ("uow_test.Opened", 1),
        ("uow_test.Incremented", 2),
    ]
