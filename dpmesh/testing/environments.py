"""Where tests find a broker and a database: configured, containerised, or embedded.

Order of preference, for both: an address from the environment (a CI service or a
developer's own server), then a testcontainers container when a Docker engine
answers, then what runs without Docker (the embedded broker; for PostgreSQL,
nothing: those tests skip). Every function here is plain Python so it can be used
outside pytest, e.g. from a notebook or a benchmark.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import re
import secrets
import threading
from collections.abc import Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, TypeVar

from dpmesh.runtime.broker import EmbeddedBroker, broker_supports_idempotence

__all__ = [
    "KafkaEndpoint",
    "docker_available",
    "kafka_endpoint",
    "postgres_server_url",
    "run_coroutine",
    "sqlite_database_url",
    "temporary_postgres_database",
    "unique_name",
]

KAFKA_ENV = "KAFKA_BOOTSTRAP_SERVERS"
POSTGRES_ENV = "TEST_DATABASE_URL"
#: ``embedded`` skips the Docker probe even when an engine answers (fast local runs).
BROKER_CHOICE_ENV = "DPMESH_TEST_BROKER"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
POSTGRES_IMAGE = "postgres:16-alpine"
DATABASE_PREFIX = "dpmesh_t_"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class KafkaEndpoint:
    """A reachable broker and what it can do."""

    bootstrap_servers: str
    origin: Literal["environment", "testcontainers", "embedded"]
    supports_idempotence: bool
    embedded: EmbeddedBroker | None = None


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on a private loop in a private thread.

    For synchronous fixtures: ``asyncio.run`` in the calling thread would replace
    and then clear that thread's current event loop, which the asyncio test
    plugin may own.
    """
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="dpmesh-fixture-loop")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


@cache
def docker_available(timeout: float = 2.0) -> bool:
    """Whether a Docker engine answers a ping within ``timeout`` seconds.

    A missing local socket answers "no" at once, without the Docker SDK: most runs
    without Docker end here, and the SDK leaks a socket on a failed connect.
    """
    host = os.environ.get("DOCKER_HOST", "")
    if not host or host.startswith("unix://"):
        socket_path = host.removeprefix("unix://") or "/var/run/docker.sock"
        if not Path(socket_path).exists():
            return False
    try:
        docker = _untyped_module("docker")
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # any failure means: no usable engine
        return False


@contextmanager
def kafka_endpoint(env: Mapping[str, str] = os.environ) -> Iterator[KafkaEndpoint]:
    """A broker for the duration of the block, torn down afterwards if we started it."""
    configured = env.get(KAFKA_ENV, "").strip()
    if configured:
        idempotent = run_coroutine(broker_supports_idempotence(configured))
        yield KafkaEndpoint(configured, "environment", idempotent)
        return
    if env.get(BROKER_CHOICE_ENV, "").strip().lower() != "embedded" and docker_available():
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer(KAFKA_IMAGE) as container:
            yield KafkaEndpoint(container.get_bootstrap_server(), "testcontainers", True)
        return
    with EmbeddedBroker() as broker:
        # Tansu refuses InitProducerId; known, so not probed on every session start.
        yield KafkaEndpoint(broker.bootstrap_servers, "embedded", False, broker)


@contextmanager
def postgres_server_url(env: Mapping[str, str] = os.environ) -> Iterator[str | None]:
    """An asyncpg SQLAlchemy URL of a PostgreSQL server we may create databases on.

    None when neither ``TEST_DATABASE_URL`` nor a Docker engine is available.
    """
    configured = env.get(POSTGRES_ENV, "").strip()
    if configured:
        yield _with_asyncpg_driver(configured)
        return
    if not docker_available():
        yield None
        return
    from testcontainers.community.postgres import PostgresContainer

    with PostgresContainer(POSTGRES_IMAGE, driver="asyncpg") as container:
        yield container.get_connection_url()


@contextmanager
def temporary_postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server, dropped afterwards whatever happens.

    The server is shared and outlives test runs, so the name is random and the
    drop forces out connections a failed test may have left open.
    """
    name = DATABASE_PREFIX + secrets.token_hex(6)
    run_coroutine(_create_database(server_url, name))
    try:
        yield _database_url(server_url, name)
    finally:
        run_coroutine(_drop_database(server_url, name))


def sqlite_database_url(directory: Path, filename: str = "test.db") -> str:
    """An aiosqlite URL for a database file in ``directory`` (created on first use)."""
    return f"sqlite+aiosqlite:///{(directory / filename).resolve()}"


_TOPIC_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]+")


def unique_name(prefix: str) -> str:
    """``<prefix>.<random>``, legal as a Kafka topic or consumer group name.

    Tests share a broker across a session (and, with a configured broker, across
    runs), so names must never be reused.
    """
    safe = _TOPIC_UNSAFE.sub("-", prefix).strip(".-") or "t"
    return f"{safe[:200]}.{secrets.token_hex(5)}"


def _untyped_module(name: str) -> ModuleType:
    """Import a library that ships no type information, without a per-module ignore."""
    return importlib.import_module(name)


# -- PostgreSQL helpers ------------------------------------------------------------


def _with_asyncpg_driver(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def _database_url(server_url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def _asyncpg_dsn(server_url: str) -> str:
    from sqlalchemy.engine import make_url

    plain = make_url(server_url).set(drivername="postgresql")
    return plain.render_as_string(hide_password=False)


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _create_database(server_url: str, name: str) -> None:
    asyncpg = _untyped_module("asyncpg")

    connection = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await connection.execute(f"CREATE DATABASE {_quote_identifier(name)}")
    finally:
        await connection.close()


async def _drop_database(server_url: str, name: str) -> None:
    asyncpg = _untyped_module("asyncpg")

    connection = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        if connection.get_server_version().major >= 13:
            await connection.execute(
                f"DROP DATABASE IF EXISTS {_quote_identifier(name)} WITH (FORCE)"
            )
            return
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        await connection.execute(f"DROP DATABASE IF EXISTS {_quote_identifier(name)}")
    finally:
        await connection.close()
