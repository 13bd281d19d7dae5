"""Fixtures every context's tests can use: a Kafka broker, databases, unique names.

Loaded through the ``pytest11`` entry point, so a context's tests use these fixtures
without importing the platform package. Imports stay light: the broker and the
databases are only touched when a test asks for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dpmesh.runtime.broker import EmbeddedBroker
from dpmesh.testing import environments
from dpmesh.testing.environments import KafkaEndpoint


def pytest_configure(config: pytest.Config) -> None:
    # Also declared in the project's pyproject; repeated so a context copied into
    # another project keeps passing with --strict-markers.
    config.addinivalue_line("markers", "integration: talks to a real database or broker")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture(scope="session")
def kafka_endpoint() -> Iterator[KafkaEndpoint]:
    """The session's broker: ``KAFKA_BOOTSTRAP_SERVERS``, else a container, else embedded."""
    with environments.kafka_endpoint() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_endpoint: KafkaEndpoint) -> str:
    return kafka_endpoint.bootstrap_servers


@pytest.fixture(scope="session")
def embedded_broker(kafka_endpoint: KafkaEndpoint) -> EmbeddedBroker:
    """The embedded broker itself, for tests that pause it to simulate an outage."""
    if kafka_endpoint.embedded is None:
        pytest.skip(
            f"needs the embedded broker; the session uses a broker from "
            f"{kafka_endpoint.origin} ({kafka_endpoint.bootstrap_servers})"
        )
    return kafka_endpoint.embedded


@pytest.fixture(scope="session")
def broker_supports_idempotence(kafka_endpoint: KafkaEndpoint) -> bool:
    """False on the embedded broker: producers must then run with idempotence off."""
    return kafka_endpoint.supports_idempotence


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A PostgreSQL server URL (asyncpg driver) or None: ``TEST_DATABASE_URL``, else a
    container when Docker answers."""
    with environments.postgres_server_url() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database per test, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield environments.sqlite_database_url(tmp_path)
        return
    # Looked up lazily so SQLite-only runs never start a PostgreSQL container.
    server: str | None = request.getfixturevalue("postgres_url")
    if server is None:
        pytest.skip(
            f"no PostgreSQL: set {environments.POSTGRES_ENV}="
            "postgresql+asyncpg://user@host:5432/db, or make a Docker engine available"
        )
    with environments.temporary_postgres_database(server) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return environments.sqlite_database_url(tmp_path)


@pytest.fixture
def unique_topic() -> Callable[[str], str]:
    """``unique_topic("supply_chain.inventory")`` -> a name no other test uses.

    Also good for consumer group ids: on the embedded broker a group that a
    member just left takes about two session timeouts to rejoin.
    """
    return environments.unique_name
