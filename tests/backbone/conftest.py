"""A small ledger wired through the whole event backbone, for the backbone tests.

Command side: an ``Account`` aggregate (imperatively mapped, versioned) whose
``deposit`` records ``Deposited`` events; a unit of work stores both, the events as
outbox rows. Read side: a projection table with, per account, the balance, the
number of deposits applied, the last aggregate version applied, and how many
events arrived out of order. Both live in the test's database (SQLite, and
PostgreSQL when available), next to the outbox and the inbox.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import registry as mapper_registry
from sqlalchemy.types import TypeDecorator

from shared_kernel.domain import AggregateRoot, BusinessRuleViolation, DomainEvent, EntityId
from shared_kernel.infrastructure.database import create_engine, create_session_factory
from shared_kernel.infrastructure.messaging.cloudevents import EventEnvelope
from shared_kernel.infrastructure.messaging.consumer import EventConsumer
from shared_kernel.infrastructure.messaging.relay import OutboxRelay
from shared_kernel.infrastructure.messaging.topics import ensure_topics
from shared_kernel.infrastructure.persistence.outbox import (
    OutboxWriter,
    inbox_table,
    outbox_table,
)
from shared_kernel.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWork
from shared_kernel.infrastructure.settings import KafkaSettings

CONTEXT = "ledger"
PARTITIONS = 3

# -- domain ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountId(EntityId):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Deposited(DomainEvent):
    context = CONTEXT
    aggregate_type = "account"

    amount: int


class Account(AggregateRoot[AccountId]):
    """Takes deposits; an amount must be positive."""

    balance: int

    def __init__(self, id: AccountId, version: int = 0) -> None:
        super().__init__(id, version)
        self.balance = 0

    def deposit(self, amount: int) -> None:
        if amount <= 0:
            raise BusinessRuleViolation("positive_amount", f"cannot deposit {amount}")
        self.balance += amount
        self._record(Deposited(amount=amount))


# -- persistence -------------------------------------------------------------------


class AccountIdType(TypeDecorator[AccountId]):
    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: AccountId | str | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> AccountId | None:
        return None if value is None else AccountId(value)


metadata = MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
accounts = Table(
    "accounts",
    metadata,
    Column("id", AccountIdType(), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("balance", BigInteger, nullable=False),
)
balances = Table(
    "account_balances",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("balance", BigInteger, nullable=False),
    Column("deposits", Integer, nullable=False),
    Column("last_version", Integer, nullable=False),
    Column("out_of_order", Integer, nullable=False),
)

mapper_registry().map_imperatively(
    Account,
    accounts,
    version_id_col=accounts.c.version,
    version_id_generator=False,
)


class LedgerUnitOfWork(SqlAlchemyUnitOfWork):
    async def account(self, account_id: AccountId) -> Account:
        """The account, opened on first use; tracked for commit."""
        account = await self.session.get(Account, account_id)
        if account is None:
            account = Account(account_id)
            self.session.add(account)
        self.track(account)
        return account


# -- read side -----------------------------------------------------------------------


class DepositedData(BaseModel):
    """The consumer's tolerant reading of ``ledger.Deposited`` (extra fields ignored)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    aggregate_id: str = Field(min_length=1)
    aggregate_version: int = Field(ge=1)
    amount: int = Field(gt=0)


async def project_deposit(envelope: EventEnvelope, session: AsyncSession) -> None:
    """Balance per account; counts an event whose version is not the next one."""
    if envelope.type != Deposited.type_name():
        return
    data = DepositedData.model_validate(envelope.data)  # ValidationError -> dead letter
    row = (
        await session.execute(
            select(balances.c.last_version).where(balances.c.account_id == data.aggregate_id)
        )
    ).first()
    if row is None:
        await session.execute(
            balances.insert().values(
                account_id=data.aggregate_id,
                balance=data.amount,
                deposits=1,
                last_version=data.aggregate_version,
                out_of_order=0 if data.aggregate_version == 1 else 1,
            )
        )
        return
    in_order = data.aggregate_version == row.last_version + 1
    await session.execute(
        update(balances)
        .where(balances.c.account_id == data.aggregate_id)
        .values(
            balance=balances.c.balance + data.amount,
            deposits=balances.c.deposits + 1,
            last_version=data.aggregate_version,
            out_of_order=balances.c.out_of_order + (0 if in_order else 1),
        )
    )


async def project_deposits(envelopes: Sequence[EventEnvelope], session: AsyncSession) -> None:
    """The same projection a batch at a time: one read and one write per account."""
    deposits = [
        DepositedData.model_validate(envelope.data)
        for envelope in envelopes
        if envelope.type == Deposited.type_name()
    ]
    if not deposits:
        return
    by_account: dict[str, list[DepositedData]] = {}
    for deposit in deposits:
        by_account.setdefault(deposit.aggregate_id, []).append(deposit)
    conn = await session.connection()
    rows = await conn.execute(
        select(balances.c.account_id, balances.c.last_version).where(
            balances.c.account_id.in_(by_account)
        )
    )
    last_versions: dict[str, int] = {row[0]: row[1] for row in rows}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for account, items in by_account.items():
        known = account in last_versions
        last = last_versions.get(account, 0)
        out_of_order = 0
        for item in items:
            out_of_order += item.aggregate_version != last + 1
            last = item.aggregate_version
        values = {
            "b_account": account,
            "b_amount": sum(item.amount for item in items),
            "b_count": len(items),
            "b_last": last,
            "b_out": out_of_order,
        }
        (updates if known else inserts).append(values)
    if inserts:
        await conn.execute(
            balances.insert().values(
                account_id=bindparam("b_account"),
                balance=bindparam("b_amount"),
                deposits=bindparam("b_count"),
                last_version=bindparam("b_last"),
                out_of_order=bindparam("b_out"),
            ),
            inserts,
        )
    if updates:
        await conn.execute(
            update(balances)
            .where(balances.c.account_id == bindparam("b_account"))
            .values(
                balance=balances.c.balance + bindparam("b_amount"),
                deposits=balances.c.deposits + bindparam("b_count"),
                last_version=bindparam("b_last"),
                out_of_order=balances.c.out_of_order + bindparam("b_out"),
            ),
            updates,
        )


@dataclass(frozen=True, slots=True)
class Totals:
    accounts: int
    deposits: int
    balance: int
    out_of_order: int
    inbox: int


# -- the harness ---------------------------------------------------------------------


class Ledger:
    """One test's database, topic and backbone components."""

    def __init__(self, engine: AsyncEngine, topic: str, kafka: KafkaSettings) -> None:
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = create_session_factory(engine)
        self.topic = topic
        self.kafka = kafka
        self.registry = CollectorRegistry()
        self.writer = OutboxWriter(outbox, topic_for=lambda _event: topic)
        self.after_commit: list[Callable[[], None]] = []
        self.expected: dict[str, list[int]] = {}  # account -> amounts, in order

    def unit_of_work(self) -> LedgerUnitOfWork:
        return LedgerUnitOfWork(self.sessions, self.writer, after_commit=self.after_commit)

    async def deposit(self, account: str, amounts: list[int]) -> None:
        """One transaction: ``amounts`` deposited on ``account`` in order."""
        async with self.unit_of_work() as uow:
            target = await uow.account(AccountId(account))
            for amount in amounts:
                target.deposit(amount)
            await uow.commit()
        self.expected.setdefault(account, []).extend(amounts)

    def relay(
        self, cls: type[OutboxRelay] = OutboxRelay, *, wake_on_commit: bool = True, **overrides: Any
    ) -> OutboxRelay:
        options: dict[str, Any] = {
            "batch_size": 500,
            "poll_interval_s": 0.05,
            "backoff_initial_s": 0.05,
            "backoff_max_s": 0.5,
        }
        options.update(overrides)
        relay = cls(
            engine=self.engine,
            table=outbox,
            kafka=self.kafka,
            context=CONTEXT,
            registry=self.registry,
            **options,
        )
        if wake_on_commit:
            self.after_commit.append(relay.wake)
        return relay

    def consumer(self, name: str, **overrides: Any) -> EventConsumer:
        """A consumer of the ledger topic; the batch projection unless a handler is given."""
        options: dict[str, Any] = {
            "retry_backoff_s": 0.01,
            "retry_backoff_max_s": 0.1,
            # A group per test: on the embedded broker, rejoining a group that a
            # member just left takes about two session timeouts.
            "group_id": f"{self.topic}.{name}",
            "session_factory": self.sessions,
        }
        if "handler" not in overrides:
            options["batch_handler"] = project_deposits
        options.update(overrides)
        return EventConsumer(
            name=name,
            topics=[self.topic],
            inbox=inbox,
            kafka=self.kafka,
            registry=self.registry,
            **options,
        )

    async def totals(self, consumer: str) -> Totals:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        func.count(),
                        func.coalesce(func.sum(balances.c.deposits), 0),
                        func.coalesce(func.sum(balances.c.balance), 0),
                        func.coalesce(func.sum(balances.c.out_of_order), 0),
                    )
                )
            ).one()
            inbox_rows = await conn.scalar(
                select(func.count()).select_from(inbox).where(inbox.c.consumer == consumer)
            )
        return Totals(int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(inbox_rows or 0))

    async def projected(self) -> dict[str, tuple[int, int, int]]:
        """account -> (balance, deposits, last_version)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(
                    balances.c.account_id,
                    balances.c.balance,
                    balances.c.deposits,
                    balances.c.last_version,
                )
            )
            return {r.account_id: (r.balance, r.deposits, r.last_version) for r in rows}

    async def unpublished(self) -> int:
        async with self.engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        return int(count or 0)

    async def all_published(self) -> bool:
        return await self.unpublished() == 0

    def expected_projection(self) -> dict[str, tuple[int, int, int]]:
        return {
            account: (sum(amounts), len(amounts), len(amounts))
            for account, amounts in self.expected.items()
        }

    def metric(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


@pytest.fixture
async def ledger(
    database_url: str,
    kafka_bootstrap: str,
    broker_supports_idempotence: bool,
    unique_topic: Callable[[str], str],
) -> AsyncIterator[Ledger]:
    topic = unique_topic("ledger.account.v1")
    await ensure_topics(kafka_bootstrap, {topic: PARTITIONS})
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    kafka = KafkaSettings(
        bootstrap_servers=kafka_bootstrap,
        idempotent_producer=broker_supports_idempotence,
    )
    try:
        yield Ledger(engine, topic, kafka)
    finally:
        await engine.dispose()


# -- helpers -------------------------------------------------------------------------


async def eventually(
    condition: Callable[[], Awaitable[bool]], *, within_s: float, what: str
) -> None:
    """Wait for ``condition``; fail with ``what`` if it does not hold in ``within_s``.

    A liveness bound, not a performance check: generous on purpose.
    """
    deadline = time.monotonic() + within_s
    while not await condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not reached within {within_s} s: {what}")
        await asyncio.sleep(0.05)


async def read_topic(
    bootstrap: str, topic: str, *, expected: int, within_s: float = 20
) -> list[Any]:
    """Every record of ``topic`` from the start, once at least ``expected`` are there."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await _wait_partitions(consumer, topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        deadline = time.monotonic() + within_s
        while len(records) < expected:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{topic}: {len(records)} records within {within_s} s, expected {expected}"
                )
            batch = await consumer.getmany(timeout_ms=200)
            for tp in sorted(batch):
                records.extend(batch[tp])
        # Anything beyond `expected` that is already there.
        end = await consumer.end_offsets(tps)
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            batch = await consumer.getmany(timeout_ms=200)
            for tp in sorted(batch):
                records.extend(batch[tp])
        return records
    finally:
        await consumer.stop()


async def _wait_partitions(consumer: Any, topic: str) -> set[int]:
    for _ in range(100):
        await consumer.topics()  # refreshes the metadata
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return set(partitions)
        await asyncio.sleep(0.05)
    pytest.fail(f"topic {topic} has no partitions")


def headers_of(record: Any) -> dict[str, bytes]:
    return {name: bytes(value) for name, value in record.headers}
