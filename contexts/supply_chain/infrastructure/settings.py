"""The supply chain's configuration, read from ``SUPPLY_CHAIN_*`` environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared_kernel.infrastructure.settings import ContextSettings


class SupplyChainSettings(ContextSettings):
    """The kernel's context settings (``ContextSettings`` says what each means), with
    the supply chain's prefix and local defaults."""

    model_config = SettingsConfigDict(env_prefix="SUPPLY_CHAIN_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/supply_chain.db"
    analytics_database_url: str = "sqlite+aiosqlite:///./var/supply_chain_analytics.db"
    snapshot_dir: str = "./var/snapshots/supply_chain"
