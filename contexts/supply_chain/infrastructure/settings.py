"""The supply chain's configuration, read from ``SUPPLY_CHAIN_*`` environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared_kernel.infrastructure.settings import ContextSettings


class SupplyChainSettings(ContextSettings):
    """``SUPPLY_CHAIN_DATABASE_URL`` holds the operational tables and the outbox;
    ``SUPPLY_CHAIN_ANALYTICS_DATABASE_URL`` the read store of the data products, which
    only the stream worker writes (ADR 0001).

    ``migrate_on_startup`` makes the API bring the operational schema to the newest
    revision as it starts (handy for ``uvicorn --factory`` on one instance). It is off
    by default: ``dpmesh run`` and ``dpmesh migrate`` migrate before starting, and with
    several replicas the migration belongs to the deployment, run once.

    The worker rewrites today's Parquet snapshot of every product each
    ``snapshot_interval_s`` under ``snapshot_dir`` (one folder per product and day), so
    the last write of a day is that day's snapshot.
    """

    model_config = SettingsConfigDict(env_prefix="SUPPLY_CHAIN_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/supply_chain.db"
    analytics_database_url: str = "sqlite+aiosqlite:///./var/supply_chain_analytics.db"
    migrate_on_startup: bool = False
    relay_in_api: bool = Field(
        default=False,
        description="Run the outbox relay inside the API process (woken on each commit) "
        "instead of as its own process.",
    )
    snapshot_dir: str = "./var/snapshots/supply_chain"
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
    #: The context's client for the catalog (scope ``catalog:supply_chain:write``), used
    #: to register its products and send their heartbeats when access control is on.
    catalog_client_id: str | None = None
    catalog_client_secret: SecretStr | None = None
    #: How long an ``Idempotency-Key`` is remembered; the API forgets older ones hourly.
    idempotency_retention_hours: float = Field(default=24.0, gt=0)
