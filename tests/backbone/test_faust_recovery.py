"""A faust worker's tables survive a restart, and nothing is counted twice.

A worker process (``faust_worker_app.py``) sums deposit amounts per key in two
changelogged tables, behind an idempotency guard. The test stops it, starts a new
process on the same app id with an empty memory store, and checks that the tables
come back from their changelogs before any new event, that redelivered events are
skipped by the rebuilt guard, and that malformed or unprocessable messages are
dead-lettered while the worker keeps going.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from dpmesh.testing.environments import KafkaEndpoint
from shared_kernel.infrastructure.messaging.cloudevents import Headers, encode

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTITIONS = 2
WORKER_MODULE = Path(__file__).with_name("faust_worker_app.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Liveness bound for each wait on the worker; generous, not a performance check.
PATIENCE_S = 90.0
#: Enough events that the worker writes its changelogs in multi-record batches.
DEPOSITS_PER_KEY = 40


@dataclass(frozen=True)
class Message:
    key: bytes
    value: bytes
    headers: Headers
    event_id: str = ""


def deposit(key: str, version: int, amount: Any, *, event_id: str | None = None) -> Message:
    """A ``Deposited`` CloudEvent as the outbox relay publishes it."""
    event_id = event_id or str(uuid.uuid4())
    payload = {"aggregate_id": key, "aggregate_version": version, "amount": amount}
    k, v, h = encode(
        event_id=event_id,
        source="urn:dpmesh:ledger",
        event_type="ledger.Deposited",
        time=datetime.now(UTC),
        subject=key,
        payload=json.dumps(payload).encode(),
    )
    return Message(k, v, h, event_id)


def garbage(key: str) -> Message:
    return Message(key.encode(), b"\x00not a cloud event", [("content-type", b"text/plain")])


def totals_of(messages: Iterable[Message], amounts: dict[str, int]) -> dict[str, list[int]]:
    """key -> [count, total] over the deposits in ``messages``."""
    result: dict[str, list[int]] = {}
    for message in messages:
        entry = result.setdefault(message.key.decode(), [0, 0])
        entry[0] += 1
        entry[1] += amounts[message.event_id]
    return result


class WorkerProcess:
    """A worker process; what it reports on stdout is read line by line."""

    def __init__(self, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self.lines: list[dict[str, Any]] = []

    @classmethod
    async def start(
        cls, *, app_id: str, topic: str, datadir: Path, env: dict[str, str], log_path: Path
    ) -> WorkerProcess:
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(WORKER_MODULE),
                "--app-id",
                app_id,
                "--topic",
                topic,
                "--partitions",
                str(PARTITIONS),
                "--datadir",
                str(datadir),
                cwd=REPO_ROOT,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        return cls(process, log_path)

    async def next_line(self) -> dict[str, Any] | None:
        """The next JSON line, or None at the end of the output."""
        assert self.process.stdout is not None
        try:
            async with asyncio.timeout(PATIENCE_S):
                raw = await self.process.stdout.readline()
        except TimeoutError:
            pytest.fail(f"the worker said nothing for {PATIENCE_S} s\n{self.log_tail()}")
        if not raw:
            return None
        line: dict[str, Any] = json.loads(raw)
        self.lines.append(line)
        return line

    async def restored(self) -> dict[str, list[int]]:
        line = await self.next_line()
        if line is None or "restored" not in line:
            pytest.fail(f"expected the restored tables, got {line!r}\n{self.log_tail()}")
        restored: dict[str, list[int]] = line["restored"]
        return restored

    async def until_applied(self, event_ids: set[str]) -> None:
        waiting = set(event_ids)
        while waiting:
            line = await self.next_line()
            if line is None:
                pytest.fail(f"the worker ended before applying {waiting}\n{self.log_tail()}")
            waiting.discard(line.get("applied", ""))

    async def stop(self) -> int:
        """SIGTERM, then read what is left of the output; the exit code."""
        self.process.send_signal(signal.SIGTERM)
        while await self.next_line() is not None:
            pass
        async with asyncio.timeout(PATIENCE_S):
            return await self.process.wait()

    def applied(self) -> list[str]:
        return [line["applied"] for line in self.lines if "applied" in line]

    def last_totals(self) -> dict[str, list[int]]:
        totals: dict[str, list[int]] = {}
        for line in self.lines:
            if "applied" in line:
                totals[line["key"]] = [line["count"], line["total"]]
        return totals

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "worker log:\n" + "\n".join(text[-lines:])

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


def worker_env(endpoint: KafkaEndpoint) -> dict[str, str]:
    """The settings a deployment would give the worker, for this test's broker.

    Apache Kafka refuses session timeouts under ``group.min.session.timeout.ms`` (6 s
    by default) and offers transactions; the embedded broker takes short timeouts
    (a group join lasts about half of one) and has no transactions.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("KAFKA_")}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        KAFKA_BOOTSTRAP_SERVERS=endpoint.bootstrap_servers,
        KAFKA_HEARTBEAT_INTERVAL_MS="500",
        KAFKA_IDEMPOTENT_PRODUCER=str(endpoint.supports_idempotence).lower(),
        KAFKA_EXACTLY_ONCE=str(endpoint.supports_idempotence).lower(),
    )
    if endpoint.embedded is not None:
        env.update(KAFKA_SESSION_TIMEOUT_MS="2000", KAFKA_REBALANCE_TIMEOUT_MS="2000")
    else:
        env.update(KAFKA_SESSION_TIMEOUT_MS="6000", KAFKA_REBALANCE_TIMEOUT_MS="3000")
    return env


@contextlib.asynccontextmanager
async def producer_for(bootstrap: str) -> AsyncIterator[Any]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def send_all(producer: Any, topic: str, messages: Iterable[Message]) -> None:
    """In one burst, so the worker processes (and writes its changelogs) in batches."""
    sent = [
        await producer.send(topic, key=message.key, value=message.value, headers=message.headers)
        for message in messages
    ]
    await asyncio.gather(*sent)


async def read_dead_letters(bootstrap: str, topic: str, expected: int) -> list[Any]:
    """The first ``expected`` records of the (single-partition) dead-letter topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        records: list[Any] = []
        async with asyncio.timeout(PATIENCE_S):
            while len(records) < expected:
                batch = await consumer.getmany(partition, timeout_ms=200)
                records.extend(batch.get(partition, []))
        return records
    finally:
        await consumer.stop()


async def test_tables_are_rebuilt_from_changelogs_and_redeliveries_are_skipped(
    kafka_endpoint: KafkaEndpoint, unique_topic: Any, tmp_path: Path
) -> None:
    bootstrap = kafka_endpoint.bootstrap_servers
    topic = unique_topic("ledger.deposit.v1")
    app_id = unique_topic("ledger-faust")
    env = worker_env(kafka_endpoint)
    amounts: dict[str, int] = {}

    def fresh(key: str, version: int, amount: int) -> Message:
        message = deposit(key, version, amount)
        amounts[message.event_id] = amount
        return message

    keys = ["acct-a", "acct-b", "acct-c"]
    first_round = [
        fresh(key, version, version * 10 + n)
        for version in range(1, DEPOSITS_PER_KEY + 1)
        for n, key in enumerate(keys)
    ]
    # Refused by the handler, so not recorded: a later event with its version applies.
    unprocessable = deposit("acct-c", DEPOSITS_PER_KEY + 1, "a lot")
    second_round = [fresh(key, DEPOSITS_PER_KEY + 1, 1000 + n) for n, key in enumerate(keys)]
    expected_first = totals_of(first_round, amounts)
    expected_all = totals_of(first_round + second_round, amounts)

    workers: list[WorkerProcess] = []
    try:
        async with producer_for(bootstrap) as producer:
            # -- first worker: a fresh group, empty tables ------------------------
            first = await WorkerProcess.start(
                app_id=app_id,
                topic=topic,
                datadir=tmp_path / "first",
                env=env,
                log_path=tmp_path / "first.log",
            )
            workers.append(first)
            assert await first.restored() == {}, first.log_tail()
            # A relay redelivery (the first event again, same id and version), garbage
            # and an event the handler refuses, in between good events of the same keys.
            await send_all(
                producer,
                topic,
                [
                    *first_round[:5],
                    first_round[0],
                    garbage("acct-b"),
                    *first_round[5:9],
                    unprocessable,
                    *first_round[9:],
                ],
            )
            await first.until_applied({m.event_id for m in first_round})
            assert await first.stop() == 0, first.log_tail()
            assert sorted(first.applied()) == sorted(m.event_id for m in first_round)
            assert first.last_totals() == expected_first

            # -- second worker: new process, empty memory store, same app id -------
            second = await WorkerProcess.start(
                app_id=app_id,
                topic=topic,
                datadir=tmp_path / "second",
                env=env,
                log_path=tmp_path / "second.log",
            )
            workers.append(second)
            assert await second.restored() == expected_first, second.log_tail()
            # Redeliveries from before the restart must be recognised by the guard
            # rebuilt from its changelog; processing goes on after more garbage.
            redelivered = [first_round[3], first_round[10], first_round[-1]]
            await send_all(producer, topic, [*redelivered, garbage("acct-a"), *second_round])
            await second.until_applied({m.event_id for m in second_round})
            assert await second.stop() == 0, second.log_tail()
            assert sorted(second.applied()) == sorted(m.event_id for m in second_round)
            assert second.last_totals() == expected_all

        dead = await read_dead_letters(bootstrap, f"{topic}.dlq", expected=3)
        reasons = sorted(dict(r.headers)["dlq_reason"].decode() for r in dead)
        assert [reason.split(":")[0] for reason in reasons] == [
            "malformed",
            "malformed",
            "permanent",
        ]
        assert "amount" in reasons[2]
        for record in dead:
            headers = dict(record.headers)
            assert headers["dlq_origin_topic"] == topic.encode()
            assert headers["dlq_consumer"] == app_id.encode()
        originals = {
            (m.key, m.value) for m in [garbage("acct-b"), garbage("acct-a"), unprocessable]
        }
        assert {(r.key, r.value) for r in dead} == originals
    finally:
        for worker in workers:
            worker.kill()
