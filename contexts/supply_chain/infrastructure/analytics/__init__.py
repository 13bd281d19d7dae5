"""The read store of the supply chain's data products and its Parquet snapshots."""

from contexts.supply_chain.infrastructure.analytics.snapshots import (
    SCHEMAS,
    snapshot_path,
    write_snapshots,
)
from contexts.supply_chain.infrastructure.analytics.store import AnalyticsReadStore

__all__ = ["SCHEMAS", "AnalyticsReadStore", "snapshot_path", "write_snapshots"]
