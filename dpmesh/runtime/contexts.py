"""The bounded contexts the platform can run, and what each composition root offers.

The platform composes contexts; it never reaches inside them. A context's
``bootstrap`` module is its only entry point and exposes:

- ``create_app() -> FastAPI``: the operational and analytical API (a uvicorn factory);
- ``async run_worker(stop: asyncio.Event) -> None``: the stream processors;
- ``async run_relay(stop: asyncio.Event) -> None``: the outbox relay on its own;
- ``async upgrade_database() -> None``: Alembic migrations to head.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

CONTEXTS: dict[str, str] = {
    "supply_chain": "contexts.supply_chain.bootstrap",
}

ROLES = ("api", "worker", "relay")


class UnknownContext(LookupError):
    def __init__(self, name: str) -> None:
        known = ", ".join(sorted(CONTEXTS))
        super().__init__(f"unknown context {name!r}; known contexts: {known}")


@dataclass(frozen=True, slots=True)
class ContextEntry:
    name: str
    bootstrap: str

    def load(self) -> ModuleType:
        return importlib.import_module(self.bootstrap)

    @property
    def app_factory(self) -> str:
        """``module:function`` for uvicorn's ``--factory`` mode."""
        return f"{self.bootstrap}:create_app"


def context(name: str) -> ContextEntry:
    try:
        return ContextEntry(name, CONTEXTS[name])
    except KeyError:
        raise UnknownContext(name) from None
