"""A crash may delay a data product, never make it wrong: faults injected for real.

- the stream worker SIGKILLed at random moments, 20 times, some of them while it
  starts, joins its group or is mid-stream, while thousands of movements, shipments
  and receipts stream in;
- the outbox relay SIGKILLed at random moments the same way;
- the broker paused (SIGSTOP) again and again while events stream in.

After the last fault the processes run undisturbed, and every product must equal the
totals summed by hand from what was sent, with no event held for a missing version.
The kill moments come from a seeded generator: a failure names its seed, and
``DPMESH_FAULT_SEED=<seed>`` replays it.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from dpmesh.runtime.broker import EmbeddedBroker
from tests.faults.harness import ContextProcess, Deployment, until_exact, workload

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

KILLS = 20
#: A liveness bound after the last fault, generous for a loaded 2-core machine.
SETTLE_S = 240.0


def report(**figures: object) -> None:
    """Append a run's figures to ``DPMESH_FAULT_REPORT`` (a file), when it is set."""
    path = os.environ.get("DPMESH_FAULT_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(" ".join(f"{name}={value}" for name, value in figures.items()) + "\n")


def seed_for(test: str) -> int:
    """``DPMESH_FAULT_SEED`` if set, else a fixed seed per test (CI is reproducible)."""
    override = os.environ.get("DPMESH_FAULT_SEED")
    return int(override) if override else sum(map(ord, test))


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[tuple[EmbeddedBroker, Deployment]]:
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    try:
        deployment = await asyncio.to_thread(Deployment.create, broker.bootstrap_servers, tmp_path)
        await deployment.declare_topics()
        try:
            yield broker, deployment
        finally:
            await deployment.dispose()
    finally:
        broker.stop()


async def kill_repeatedly(process: ContextProcess, rng: random.Random, kills: int) -> None:
    """Start ``process`` and SIGKILL it ``kills`` times at random moments, restarting it
    each time: a third of the kills within its first second (imports, group join),
    the others up to 5 s after start."""
    for _ in range(kills):
        process.start()
        early = rng.random() < 1 / 3
        await asyncio.sleep(rng.uniform(0.05, 1.0) if early else rng.uniform(1.0, 5.0))
        process.kill()
    process.start()


async def test_the_worker_killed_20_times_loses_nothing(
    deployment: tuple[EmbeddedBroker, Deployment],
) -> None:
    _, env = deployment
    seed = seed_for("worker")
    rng = random.Random(seed)
    work = workload(seed)
    relay = env.relay()
    worker = env.process("worker")
    await relay.start()
    try:
        flow = asyncio.create_task(env.stream_in(work.events))
        await kill_repeatedly(worker, rng, KILLS)
        await flow
        settle_started = time.monotonic()
        await until_exact(env, work, deadline_s=SETTLE_S, what=f"seed {seed}")
        assert await env.held() == 0, f"seed {seed}: events still held for a missing version"
        assert worker.running(), f"seed {seed}: the worker exited\n{worker.log_tail()}"
        report(
            seed=seed,
            events=len(work.events),
            kills=KILLS,
            rewinds=worker.count_in_logs("were skipped by the consumer"),
            holes=worker.count_in_logs("(a hole in the log)"),
            exact_after_s=round(time.monotonic() - settle_started, 1),
        )
    finally:
        worker.stop()
        await relay.stop()


async def test_the_relay_killed_20_times_loses_nothing(
    deployment: tuple[EmbeddedBroker, Deployment],
) -> None:
    _, env = deployment
    seed = seed_for("relay")
    rng = random.Random(seed)
    work = workload(seed, items=4, pairs=100)
    relay = env.process("relay")
    worker = env.process("worker")
    worker.start()
    try:
        flow = asyncio.create_task(env.stream_in(work.events))
        await kill_repeatedly(relay, rng, KILLS)
        await flow
        await until_exact(env, work, deadline_s=SETTLE_S, what=f"seed {seed}")
        assert await env.unpublished() == 0
        assert await env.held() == 0
    finally:
        worker.stop()
        relay.stop()


async def test_a_paused_broker_delays_the_products_but_keeps_them_exact(
    deployment: tuple[EmbeddedBroker, Deployment],
) -> None:
    broker, env = deployment
    seed = seed_for("broker")
    rng = random.Random(seed)
    work = workload(seed, items=4, pairs=100)
    relay = env.relay()
    worker = env.process("worker")
    await relay.start()
    worker.start()
    try:
        flow = asyncio.create_task(env.stream_in(work.events))
        for _ in range(8):
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            with broker.outage():
                await asyncio.sleep(rng.uniform(0.5, 3.0))
        await flow
        await until_exact(env, work, deadline_s=SETTLE_S, what=f"seed {seed}")
        assert await env.held() == 0
        assert worker.running(), f"the worker exited\n{worker.log_tail()}"
    finally:
        worker.stop()
        await relay.stop()


@pytest.mark.parametrize("recovery", ["dpmesh replay", "relay replays by itself"])
async def test_a_wiped_broker_is_rebuilt_from_the_outbox(
    deployment: tuple[EmbeddedBroker, Deployment], tmp_path: Path, recovery: str
) -> None:
    """The embedded broker keeps everything in memory: a restart loses every topic,
    offset and group. The relay notices the lost topics; the outbox, kept in the
    database, rebuilds the broker, and the products stay exact (every event is applied
    once, by aggregate version), with new events arriving meanwhile."""
    broker, env = deployment
    work = workload(seed_for("wipe"), items=4, pairs=60)
    half = len(work.events) // 2
    automatic = recovery != "dpmesh replay"
    relay = env.relay(topic_check_interval_s=0.5, replay_on_broker_loss=automatic)
    worker = env.process("worker")
    await relay.start()
    worker.start()
    try:
        await env.stream_in(work.events[:half])
        port = broker.port
        worker.kill()
        broker.stop()
        broker = EmbeddedBroker(port=port, log_path=tmp_path / "broker-2.log").start()
        try:
            await env.stream_in(work.events[half:])
            if not automatic:
                await until(lambda: bool(relay.lost_topics), what="the relay saw the lost topics")
                replay = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "dpmesh", "replay", "supply_chain", env=env.env
                )
                assert await replay.wait() == 0
            worker.start()
            await until_exact(env, work, deadline_s=SETTLE_S, what=recovery)
            assert await env.held() == 0
            assert relay.lost_topics == frozenset()
        finally:
            worker.stop()
            broker.stop()
    finally:
        await relay.stop()


async def until(condition: Callable[[], bool], *, what: str, deadline_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + deadline_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached within {deadline_s:.0f} s: {what}")
        await asyncio.sleep(0.1)
