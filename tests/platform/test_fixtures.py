"""The shared fixtures: fresh databases on both engines, the session broker, unique names.

Run with ``TEST_DATABASE_URL=postgresql+asyncpg://user@host:5432/db`` (or a Docker
engine) so the PostgreSQL cases run instead of skipping.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from dpmesh.runtime.broker import EmbeddedBroker, broker_supports_idempotence
from dpmesh.testing import environments
from dpmesh.testing.environments import KafkaEndpoint

pytestmark = pytest.mark.integration

PROBE_TABLE = "isolation_probe"


async def table_exists(url: str, table: str) -> bool:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: inspect(sync).has_table(table))
    finally:
        await engine.dispose()


async def create_probe_table(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f"CREATE TABLE {PROBE_TABLE} (id INTEGER PRIMARY KEY)"))
            await connection.execute(text(f"INSERT INTO {PROBE_TABLE} (id) VALUES (1)"))
    finally:
        await engine.dispose()


async def database_exists(server_url: str, name: str) -> bool:
    engine = create_async_engine(server_url)
    try:
        async with engine.connect() as connection:
            found = await connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            return found.first() is not None
    finally:
        await engine.dispose()


# Two tests doing the same thing: whichever runs second fails if databases are shared.


async def test_database_starts_empty_first(database_url: str) -> None:
    assert not await table_exists(database_url, PROBE_TABLE)
    await create_probe_table(database_url)
    assert await table_exists(database_url, PROBE_TABLE)


async def test_database_starts_empty_second(database_url: str) -> None:
    assert not await table_exists(database_url, PROBE_TABLE)
    await create_probe_table(database_url)
    assert await table_exists(database_url, PROBE_TABLE)


def test_database_url_names_the_engine_it_was_parametrized_with(
    database_url: str, request: pytest.FixtureRequest
) -> None:
    url = make_url(database_url)
    if request.node.callspec.params["database_url"] == "sqlite":
        assert url.drivername == "sqlite+aiosqlite"
    else:
        assert url.drivername == "postgresql+asyncpg"
        assert url.database is not None
        assert url.database.startswith(environments.DATABASE_PREFIX)


async def test_temporary_postgres_database_is_dropped_even_after_a_failure_with_open_connections(
    postgres_url: str | None,
) -> None:
    if postgres_url is None:
        pytest.skip(f"no PostgreSQL: set {environments.POSTGRES_ENV}")
    name = ""
    engine = connection = None
    with (  # noqa: PT012
        pytest.raises(RuntimeError, match="test body failed"),
        environments.temporary_postgres_database(postgres_url) as url,
    ):
        name = make_url(url).database or ""
        engine = create_async_engine(url)
        connection = await engine.connect()  # left open, as a failing test might
        await connection.execute(text("SELECT 1"))
        raise RuntimeError("test body failed")
    assert name.startswith(environments.DATABASE_PREFIX)
    assert not await database_exists(postgres_url, name)
    assert engine is not None
    assert connection is not None
    await connection.invalidate()  # the server already cut it
    await engine.dispose()


def test_sqlite_url_is_a_file_in_the_test_directory(sqlite_url: str, tmp_path: Path) -> None:
    assert sqlite_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'test.db'}"


def test_postgres_server_is_none_without_configuration_or_docker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(environments, "docker_available", lambda: False)
    with environments.postgres_server_url(env={}) as url:
        assert url is None


def test_postgres_server_from_environment_gets_the_asyncpg_driver() -> None:
    env = {environments.POSTGRES_ENV: "postgresql://app:secret@db.internal:5433/app"}
    with environments.postgres_server_url(env=env) as url:
        assert url == "postgresql+asyncpg://app:secret@db.internal:5433/app"


# -- broker fixtures ---------------------------------------------------------------------------


def test_session_broker_fixtures_agree(
    kafka_endpoint: KafkaEndpoint, kafka_bootstrap: str, broker_supports_idempotence: bool
) -> None:
    assert kafka_bootstrap == kafka_endpoint.bootstrap_servers
    if kafka_endpoint.origin == "embedded":
        assert kafka_endpoint.embedded is not None
        assert kafka_endpoint.embedded.running
        assert broker_supports_idempotence is False


def test_embedded_broker_fixture_is_the_session_broker(
    embedded_broker: EmbeddedBroker, kafka_bootstrap: str
) -> None:
    assert embedded_broker.bootstrap_servers == kafka_bootstrap


async def test_configured_bootstrap_wins_and_its_features_are_probed(
    embedded_broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker given by address is asked what it supports, not assumed to be Kafka."""
    monkeypatch.setattr(environments, "docker_available", lambda: pytest.fail("Docker probed"))
    env = {environments.KAFKA_ENV: embedded_broker.bootstrap_servers}
    with environments.kafka_endpoint(env=env) as endpoint:
        assert endpoint.origin == "environment"
        assert endpoint.embedded is None
        assert endpoint.supports_idempotence is False
    assert embedded_broker.running, "a configured broker is not ours to stop"
    assert await broker_supports_idempotence(embedded_broker.bootstrap_servers) is False


def test_embedded_is_the_fallback_without_configuration_or_docker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(environments, "docker_available", lambda: False)
    with environments.kafka_endpoint(env={}) as endpoint:
        assert endpoint.origin == "embedded"
        broker = endpoint.embedded
        assert broker is not None
        assert broker.running
    assert not broker.running


def test_unique_topic_never_repeats_and_is_a_legal_topic_name(
    unique_topic: Callable[[str], str],
) -> None:
    names = {unique_topic("supply_chain.inventory") for _ in range(100)}
    assert len(names) == 100
    assert all(name.startswith("supply_chain.inventory.") for name in names)
    assert unique_topic("odd name/with:chars").startswith("odd-name-with-chars.")
