"""Configuration from the environment (pydantic-settings).

Each context subclasses ``ContextSettings`` with its own prefix
(``SUPPLY_CHAIN_DATABASE_URL``); the broker is platform-wide (``KAFKA_*``). The code
never branches on "test mode": tests and the demo pass different values.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
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
    """Settings of one bounded context's processes. Subclass, set ``env_prefix`` and
    the defaults of the database URLs and the snapshot folder.

    ``<PREFIX>DATABASE_URL`` holds the operational tables and the outbox;
    ``<PREFIX>ANALYTICS_DATABASE_URL`` the read store of the data products, which only
    the stream worker writes (ADR 0001).

    ``migrate_on_startup`` makes the API bring the operational schema to the newest
    revision as it starts (handy for ``uvicorn --factory`` on one instance). It is off
    by default: ``dpmesh run`` and ``dpmesh migrate`` migrate before starting, and with
    several replicas the migration belongs to the deployment, run once.

    The worker rewrites today's Parquet snapshot of every product each
    ``snapshot_interval_s`` under ``snapshot_dir`` (one folder per product and day), so
    the last write of a day is that day's snapshot.
    """

    model_config = SettingsConfigDict(env_prefix="DPMESH_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/dpmesh.db"
    analytics_database_url: str = "sqlite+aiosqlite:///./var/dpmesh_analytics.db"
    snapshot_dir: str = "./var/snapshots/dpmesh"
    migrate_on_startup: bool = False
    relay_in_api: bool = Field(
        default=False,
        description="Run the outbox relay inside the API process (woken on each commit) "
        "instead of as its own process.",
    )
    stream_datadir: str | None = Field(
        default=None, description="The faust worker's data folder (default ./var/faust/<app id>)."
    )
    catalog_url: str | None = Field(
        default=None,
        description="Where the API registers the context's data products at start-up; "
        "unset: no registration.",
    )
    public_api_url: str = Field(
        default="http://127.0.0.1:8000",
        description="This API's address as consumers reach it (registered in the catalog).",
    )
    snapshot_interval_s: float = Field(default=60.0, gt=0)
    #: The context's client for the catalog (scope ``catalog:<context>:write``), used
    #: to register its products and send their heartbeats when access control is on.
    catalog_client_id: str | None = None
    catalog_client_secret: SecretStr | None = None
    #: How long an ``Idempotency-Key`` is remembered; the API forgets older ones hourly.
    idempotency_retention_hours: float = Field(default=24.0, gt=0)
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
