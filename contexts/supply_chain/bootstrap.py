"""The supply chain's composition root: its container, its API and its migrations.

``SupplyChainContainer`` is the one place where the context's parts meet. Override a
provider to change a part, e.g. in a test::

    container = SupplyChainContainer(
        settings=providers.Object(SupplyChainSettings(database_url=url)),
        clock=providers.Object(FixedClock()),
    )
    app = create_app(container)

Hooks for the platform:

- ``after_commit``: callbacks every unit of work runs once a transaction is durable.
  The outbox relay's ``wake`` belongs here, so a commit publishes at once::

      container.after_commit.add_args(providers.Object(relay.wake))

- ``outbox_table``, ``engine`` and ``metrics`` are what ``OutboxRelay`` needs.

The interfaces layer never imports this module: routes resolve providers by name from
``app.state.container`` (``message_bus``, ``catalog_reader``, ``inventory_reader``,
``purchasing_reader``, ``shipping_reader``, ``idempotency_store``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dependency_injector import containers, providers
from fastapi import FastAPI

from contexts.supply_chain.application import SYSTEM_CLOCK
from contexts.supply_chain.application import command_handlers as build_command_handlers
from contexts.supply_chain.infrastructure.persistence import migrations
from contexts.supply_chain.infrastructure.persistence.idempotency import SqlIdempotencyStore
from contexts.supply_chain.infrastructure.persistence.orm import outbox, start_mappers
from contexts.supply_chain.infrastructure.persistence.readers import (
    SqlCatalogReader,
    SqlInventoryReader,
    SqlPurchasingReader,
    SqlShippingReader,
)
from contexts.supply_chain.infrastructure.persistence.unit_of_work import (
    SqlAlchemySupplyChainUnitOfWork,
)
from contexts.supply_chain.infrastructure.settings import SupplyChainSettings
from contexts.supply_chain.interfaces.api import TAGS, routers
from shared_kernel.application import MessageBus
from shared_kernel.infrastructure.database import create_engine, create_session_factory
from shared_kernel.infrastructure.logging import configure_logging
from shared_kernel.infrastructure.metrics import new_registry
from shared_kernel.infrastructure.persistence.outbox import OutboxWriter
from shared_kernel.interfaces.app import create_api
from shared_kernel.interfaces.health import database_check

__all__ = ["SupplyChainContainer", "create_app", "upgrade_database"]

DESCRIPTION = """\
The operational API of Kestrel Devices' supply chain: warehouses, SKUs, suppliers,
stock movements, purchase orders and shipments.

Conventions: single resources carry `ETag: "<version>"`; commands on existing
resources honour `If-Match` (412 when stale); command POSTs honour `Idempotency-Key`;
lists answer `{items, total, limit, offset}`; every error is
`application/problem+json` (RFC 9457).
"""


class SupplyChainContainer(containers.DeclarativeContainer):
    """Every part of the supply chain's processes, built on first use."""

    settings = providers.Singleton(SupplyChainSettings)
    clock = providers.Object(SYSTEM_CLOCK)
    metrics = providers.Singleton(new_registry)

    engine = providers.Singleton(
        create_engine, settings.provided.database_url, echo=settings.provided.database_echo
    )
    session_factory = providers.Singleton(create_session_factory, engine)

    outbox_table = providers.Object(outbox)
    outbox_writer = providers.Singleton(OutboxWriter, outbox_table)
    after_commit = providers.List()

    unit_of_work = providers.Factory(
        SqlAlchemySupplyChainUnitOfWork,
        session_factory=session_factory,
        outbox_writer=outbox_writer,
        after_commit=after_commit,
    )
    command_handlers = providers.Singleton(build_command_handlers, clock)
    message_bus = providers.Factory(MessageBus, uow=unit_of_work, command_handlers=command_handlers)

    catalog_reader = providers.Singleton(SqlCatalogReader, engine)
    inventory_reader = providers.Singleton(SqlInventoryReader, engine)
    purchasing_reader = providers.Singleton(SqlPurchasingReader, engine)
    shipping_reader = providers.Singleton(SqlShippingReader, engine)
    idempotency_store = providers.Singleton(SqlIdempotencyStore, engine)


def create_app(container: SupplyChainContainer | None = None) -> FastAPI:
    """The supply chain's API (also a uvicorn ``--factory``).

    Without a container, this is the process's entry point: settings come from the
    environment and logging is configured here. A caller that passes a container
    owns the process, logging included. The lifespan migrates the database first when
    ``migrate_on_startup`` is set, and disposes of the engine at shutdown.
    """
    owns_process = container is None
    container = container or SupplyChainContainer()
    settings: SupplyChainSettings = container.settings()
    if owns_process:
        configure_logging(settings.log_level, json=settings.log_json)
    start_mappers()
    engine = container.engine()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_startup:
            await migrations.upgrade_database(engine)
        try:
            yield
        finally:
            await engine.dispose()

    app = create_api(
        title="dpmesh supply chain",
        description=DESCRIPTION,
        routers=routers(),
        readiness_checks={"database": database_check(engine)},
        metrics=container.metrics(),
        tags=TAGS,
        lifespan=lifespan,
    )
    app.state.container = container
    return app


async def upgrade_database(container: SupplyChainContainer | None = None) -> None:
    """Migrate the context's database to the newest revision (``dpmesh migrate``)."""
    settings: SupplyChainSettings = (container or SupplyChainContainer()).settings()
    await migrations.upgrade_database(settings.database_url)
