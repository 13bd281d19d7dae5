"""The supply chain's manifest: how the platform runs, demonstrates and catalogues it.

The only module of the context that the platform imports by name (an import-linter
contract holds it); registered in ``pyproject.toml`` under ``[tool.dpmesh.contexts]``
and as a ``dpmesh.contexts`` entry point.
"""

from __future__ import annotations

from pathlib import Path

from shared_kernel.interfaces.manifest import ContextManifest, DashboardPanel, ExternalFake

MANIFEST = ContextManifest(
    name="supply_chain",
    settings_prefix="SUPPLY_CHAIN_",
    composition_root="contexts.supply_chain.bootstrap",
    dataproduct_dir=Path(__file__).parent / "dataproduct",
    operations_scopes=("supply_chain:operations:read", "supply_chain:operations:write"),
    demo_api_port=8101,
    demo_settings={
        # The relay and the API are separate processes on SQLite: a short poll
        # replaces PostgreSQL's NOTIFY.
        "relay_poll_interval_s": "0.05",
        "snapshot_interval_s": "30",
        "carrier_poll_interval_s": "5",
    },
    fakes=(
        ExternalFake(
            name="carrier",
            app="contexts.supply_chain.demo:carrier_app",
            port=8190,
            url_setting="carrier_api_url",
        ),
    ),
    simulator="contexts.supply_chain.demo:simulator_lane",
    served_ports="contexts.supply_chain.bootstrap:served_ports",
    dashboard=(
        DashboardPanel(
            "inventory",
            "inventory-levels",
            title="Inventory per warehouse",
            kind="inventory",
            wide=True,
        ),
        DashboardPanel(
            "suppliers", "supplier-performance", title="Supplier on-time rate", kind="suppliers"
        ),
        DashboardPanel("alerts", "alerts", "limit=50", title="Alerts", kind="alerts"),
        DashboardPanel(
            "timelines",
            "delivery-timelines",
            title="Delivery timelines: planned and actual, per leg",
            kind="timelines",
            wide=True,
        ),
    ),
)
