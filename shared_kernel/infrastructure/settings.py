"""Configuration from the environment (pydantic-settings).

Each context subclasses ``ContextSettings`` with its own prefix
(``SUPPLY_CHAIN_DATABASE_URL``); the broker is platform-wide (``KAFKA_*``). The code
never branches on "test mode": tests and the demo pass different values.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """Broker connection. Defaults suit the embedded broker on loopback.

    ``idempotent_producer`` and ``exactly_once`` must be on for Apache Kafka in
    production; the embedded broker does not implement ``InitProducerId``, so they
    default to off and deploy/docker-compose.yml turns them on.
    """

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "dpmesh"
    idempotent_producer: bool = False
    exactly_once: bool = False
    request_timeout_ms: int = Field(default=10_000, ge=1_000)
    session_timeout_ms: int = Field(default=6_000, ge=1_000)
    heartbeat_interval_ms: int = Field(default=500, ge=100)
    rebalance_timeout_ms: int = Field(default=3_000, ge=1_000)
    #: How long a fetch may wait for data. The embedded broker holds a fetch for the
    #: whole wait even when records arrive meanwhile, so this bounds consumer latency.
    fetch_max_wait_ms: int = Field(default=20, ge=0)
    topic_partitions: int = Field(default=4, ge=1)
    topic_replication: int = Field(default=1, ge=1)


class ContextSettings(BaseSettings):
    """Settings of one bounded context's processes. Subclass and set ``env_prefix``."""

    model_config = SettingsConfigDict(env_prefix="DPMESH_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/dpmesh.db"
    database_echo: bool = False
    log_level: str = "INFO"
    log_json: bool = True
    relay_poll_interval_s: float = Field(default=0.5, gt=0)
    relay_batch_size: int = Field(default=500, ge=1)
    #: Published outbox rows are kept this long so that ``dpmesh replay`` can rebuild a
    #: broker, an environment or a consumer from them; the relay deletes older ones.
    outbox_retention_days: float = Field(default=30.0, gt=0)
    #: Replay the whole outbox by itself when the broker lost the topics it published to
    #: (a restarted embedded broker); otherwise the relay logs what to do.
    relay_replay_on_broker_loss: bool = False
