"""A bounded context's manifest: everything the platform may know about it, in one object.

The platform (``dpmesh``) runs, migrates, demonstrates and catalogues contexts without
naming any of them: it reads the manifests registered in ``pyproject.toml``
(``[tool.dpmesh] contexts``) and iterates over them. A context's manifest module is
the only module of the context the platform imports by name; everything else it
reaches through the strings here ("module:attribute"), loaded when needed, so that
listing the contexts imports no framework.

Settings every context reads (names without its prefix), which the demo sets:
``database_url``, ``analytics_database_url``, ``snapshot_dir``, ``catalog_url`` and
``public_api_url``.

The composition root named by ``composition_root`` offers, by convention:

- ``create_app() -> FastAPI`` (``dpmesh run NAME api``, a uvicorn factory);
- ``async run_worker(stop)`` and ``async run_relay(stop)``;
- ``async upgrade_database()`` (``dpmesh migrate``);
- ``async write_daily_snapshot(day)`` (``dpmesh snapshot``);
- ``async replay_outbox(since)`` (``dpmesh replay``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["ContextManifest", "DashboardPanel", "ExternalFake", "load_reference"]


@dataclass(frozen=True, slots=True)
class ExternalFake:
    """A stand-in for an external system the context talks to, run by the demo.

    ``app`` is the ``module:function`` of its ASGI app factory (``() -> FastAPI``), run
    by ``dpmesh fake CONTEXT NAME``; the context's processes find the fake through
    ``url_setting`` (a setting name without the context's prefix).
    """

    name: str
    app: str
    port: int
    url_setting: str
    health_path: str = "/healthz"


@dataclass(frozen=True, slots=True)
class DashboardPanel:
    """One chart or table of the live dashboard: the product and the query it reads.

    ``kind`` names how the dashboard draws it: ``table`` (the default: the rows'
    fields, for any product) or one of the charts the dashboard knows (see
    docs/dashboard.md); ``element`` is the panel's id in the page.
    """

    element: str
    product: str
    query: str = ""
    title: str = ""
    kind: str = "table"
    wide: bool = False


@dataclass(frozen=True, slots=True)
class ContextManifest:
    """What the platform knows of one bounded context (module docstring)."""

    name: str
    #: Prefix of the context's settings in the environment, e.g. ``SUPPLY_CHAIN_``.
    settings_prefix: str
    #: The module of the context's composition root.
    composition_root: str
    #: Folder of the context's ODPS product files and ODCS contracts.
    dataproduct_dir: Path
    #: Scopes of the operational API: (read, write).
    operations_scopes: tuple[str, str]
    #: Port of the context's API in the demo.
    demo_api_port: int
    #: Settings the demo sets for the context's processes (names without the prefix).
    demo_settings: Mapping[str, str] = field(default_factory=dict)
    #: External fakes the context brings to the demo.
    fakes: tuple[ExternalFake, ...] = ()
    #: ``module:function`` of the context's simulator lane, run by ``dpmesh simulate
    #: CONTEXT``: ``async (api_url, *, fakes, seed, rate, duration, quiet, stop,
    #: console, auth)`` returning a summary with a ``table()``; None for none.
    simulator: str | None = None
    #: The dashboard's panels for the context's products.
    dashboard: tuple[DashboardPanel, ...] = ()
    #: ``module:function`` returning what the code serves, checked against the ODCS files.
    served_ports: str | None = None

    def setting(self, name: str) -> str:
        """The environment variable of setting ``name`` (``database_url`` ->
        ``SUPPLY_CHAIN_DATABASE_URL``)."""
        return f"{self.settings_prefix}{name.upper()}"

    def urn(self, product: str) -> str:
        return f"urn:dpmesh:{self.name}:{product}"

    def composition(self) -> ModuleType:
        """The composition root, imported now."""
        return importlib.import_module(self.composition_root)

    @property
    def api_factory(self) -> str:
        """``module:function`` for uvicorn's ``--factory`` mode."""
        return f"{self.composition_root}:create_app"


def load_reference(reference: str) -> Any:
    """The object ``module:attribute`` names."""
    module, _, attribute = reference.partition(":")
    if not module or not attribute:
        raise ValueError(f"{reference!r} is not 'module:attribute'")
    return getattr(importlib.import_module(module), attribute)
