"""The supply chain's composition root: its container and its processes.

Processes (``dpmesh run supply_chain api|worker|relay``): ``create_app`` (the REST API,
operational and analytical), ``run_worker`` (the faust stream processors that keep the
data products current, plus the daily Parquet snapshots) and ``run_relay`` (the outbox
relay on its own). ``upgrade_database`` migrates both databases.

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

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dependency_injector import containers, providers
from fastapi import Depends, FastAPI

from contexts.supply_chain.application import SYSTEM_CLOCK
from contexts.supply_chain.application import command_handlers as build_command_handlers
from contexts.supply_chain.application.analytics import (
    ALERTS,
    PRODUCTS,
    Alert,
    AlertType,
    ReplenishmentRequest,
    Severity,
)
from contexts.supply_chain.application.tracking import run_tracking_poller, track_shipments
from contexts.supply_chain.domain.events import CONTEXT
from contexts.supply_chain.infrastructure.acl.carrier import CarrierTrackingGateway
from contexts.supply_chain.infrastructure.analytics.descriptors import (
    ProductDescriptor,
    load_product_descriptors,
    product_objectives,
    product_scopes,
    scope_descriptions,
)
from contexts.supply_chain.infrastructure.analytics.snapshots import (
    SCHEMAS as SNAPSHOT_SCHEMAS,
)
from contexts.supply_chain.infrastructure.analytics.snapshots import (
    snapshot_path,
    write_snapshots,
)
from contexts.supply_chain.infrastructure.analytics.store import AnalyticsReadStore
from contexts.supply_chain.infrastructure.external_services.carrier_client import (
    CarrierClient,
    CarrierSettings,
)
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
from contexts.supply_chain.interfaces.api.analytics import AlertOut, analytics_router
from contexts.supply_chain.interfaces.api.security import SCOPES
from contexts.supply_chain.interfaces.streams.analytics import (
    ALERT_CLEARED,
    ALERT_RAISED,
    AnalyticsTopics,
    alert_payload,
    build_analytics,
)
from shared_kernel.application import Command, MessageBus
from shared_kernel.infrastructure.database import create_engine, create_session_factory
from shared_kernel.infrastructure.logging import configure_logging
from shared_kernel.infrastructure.messaging.relay import OutboxRelay
from shared_kernel.infrastructure.metrics import new_registry
from shared_kernel.infrastructure.persistence.outbox import OutboxWriter, mark_for_replay
from shared_kernel.infrastructure.settings import KafkaSettings
from shared_kernel.infrastructure.sli_store import SliSettings, SliStore, write_slis_every
from shared_kernel.infrastructure.slo import ReadMeter, SliMonitor, export_slis
from shared_kernel.infrastructure.streams import create_stream_app, serve
from shared_kernel.interfaces.access import secured_routers
from shared_kernel.interfaces.app import create_api
from shared_kernel.interfaces.auth import Authenticator, AuthSettings
from shared_kernel.interfaces.dependencies import provided
from shared_kernel.interfaces.health import database_check
from shared_kernel.interfaces.processes import (
    cancel_all,
    every,
    register_products,
    send_heartbeats_every,
)
from shared_kernel.interfaces.served import ServedCode, StreamPayload, acl_modules, agent_sources
from shared_kernel.interfaces.slo import read_meter_dependency, slo_router

__all__ = [
    "SupplyChainContainer",
    "create_app",
    "run_relay",
    "run_worker",
    "upgrade_database",
    "write_daily_snapshot",
]

logger = logging.getLogger(__name__)

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
    # Topic names in one place: the outbox routes by them, the worker reads them.
    analytics_topics = providers.Object(AnalyticsTopics())
    stream_app_id = providers.Object(f"{CONTEXT}-analytics")
    outbox_writer = providers.Singleton(
        OutboxWriter, outbox_table, topic_for=analytics_topics.provided.topic_for
    )
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

    kafka = providers.Singleton(KafkaSettings)
    relay = providers.Singleton(
        OutboxRelay.from_settings,
        engine=engine,
        table=outbox_table,
        kafka=kafka,
        settings=settings,
        context=CONTEXT,
        registry=metrics,
    )
    analytics_store = providers.Singleton(
        AnalyticsReadStore, settings.provided.analytics_database_url
    )

    # Access control (DPMESH_AUTH_*) and the products' descriptors (scopes, objectives).
    auth_settings = providers.Singleton(AuthSettings)
    product_descriptors = providers.Singleton(load_product_descriptors)
    auth = providers.Singleton(
        lambda settings, descriptors: Authenticator(
            settings,
            scope_descriptions={**SCOPES.descriptions(), **scope_descriptions(descriptors)},
        ),
        auth_settings,
        product_descriptors,
    )
    # Live SLIs (SUPPLY_CHAIN_SLI_*): measured by the worker, read meter in the API.
    sli_settings = providers.Singleton(SliSettings.of, "SUPPLY_CHAIN_")
    sli_monitor = providers.Singleton(
        SliMonitor, window=sli_settings.provided.window, products=PRODUCTS
    )
    read_meter = providers.Singleton(ReadMeter, window=sli_settings.provided.window)
    sli_store = providers.Singleton(SliStore, analytics_store.provided.engine)
    # The worker's faust app, and the carrier it polls (SUPPLY_CHAIN_CARRIER_*; None
    # when no carrier URL is set).
    stream_app = providers.Singleton(
        create_stream_app, stream_app_id, kafka, datadir=settings.provided.stream_datadir
    )
    carrier_settings = providers.Singleton(CarrierSettings)
    carrier_client = providers.Singleton(
        lambda settings: CarrierClient.from_settings(settings) if settings.enabled else None,
        carrier_settings,
    )


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
    analytics_store: AnalyticsReadStore = container.analytics_store()
    relay: OutboxRelay | None = container.relay() if settings.relay_in_api else None
    if relay is not None:
        container.after_commit.add_args(providers.Object(relay.wake))
    auth: Authenticator = container.auth()
    auth.warn_if_disabled("the supply chain API")
    descriptors: dict[str, ProductDescriptor] = container.product_descriptors()
    sli_settings: SliSettings = container.sli_settings()
    read_meter: ReadMeter = container.read_meter()
    scopes = product_scopes(descriptors)
    objectives = product_objectives(descriptors)
    export_slis(container.metrics(), meter=read_meter, objectives=objectives)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_startup:
            await migrations.upgrade_database(engine)
        await analytics_store.create_all()
        if relay is not None:
            await relay.start()
        registration = asyncio.create_task(
            register_products(
                settings, container.kafka(), context=CONTEXT, dataproduct_dir=DATAPRODUCT_DIR
            ),
            name="catalog-registration",
        )
        expiry = asyncio.create_task(
            _expire_idempotency_keys_every(
                container.idempotency_store(), timedelta(hours=settings.idempotency_retention_hours)
            ),
            name="idempotency-expiry",
        )
        try:
            yield
        finally:
            await cancel_all([expiry, registration])
            if relay is not None:
                await relay.stop()
            await analytics_store.dispose()
            await engine.dispose()

    app = create_api(
        title="dpmesh supply chain",
        description=DESCRIPTION,
        routers=secured_routers(
            auth,
            SCOPES,
            operational=routers(),
            products=analytics_router(provided("analytics_store")),
            slo=slo_router(
                SCOPES,
                provided("sli_store"),
                objectives,
                objectives_source={p: d.objectives_source for p, d in descriptors.items()},
                product_scopes=scopes,
                read_meter=read_meter,
                stale_after=sli_settings.stale_after,
                window=sli_settings.window,
            ),
            product_scopes=scopes,
            per_product=lambda product: [Depends(read_meter_dependency(read_meter, product))],
        ),
        readiness_checks={"database": database_check(engine)},
        metrics=container.metrics(),
        tags=TAGS,
        lifespan=lifespan,
    )
    app.state.container = container
    return app


DATAPRODUCT_DIR = Path(__file__).parent / "dataproduct"


async def _expire_idempotency_keys_every(
    store: SqlIdempotencyStore, retention: timedelta, interval_s: float = 3600.0
) -> None:
    """Forget idempotency keys older than ``retention``, now and every ``interval_s``;
    a failed round is logged and tried again at the next."""
    while True:
        try:
            forgotten = await store.expire(datetime.now(UTC) - retention)
        except Exception:
            logger.exception("expiring idempotency keys failed; trying again later")
        else:
            if forgotten:
                logger.info("forgot %d idempotency keys older than %s", forgotten, retention)
        await asyncio.sleep(interval_s)


async def upgrade_database(container: SupplyChainContainer | None = None) -> None:
    """Migrate the operational database to the newest revision and create the read
    store's tables (``dpmesh migrate``)."""
    container = container or SupplyChainContainer()
    settings: SupplyChainSettings = container.settings()
    await migrations.upgrade_database(settings.database_url)
    store = AnalyticsReadStore(settings.analytics_database_url)
    try:
        await store.create_all()
    finally:
        await store.dispose()


def served_ports() -> ServedCode:
    """What the code serves, for the descriptor checks (the manifest's ``served_ports``):
    the products' router, snapshot schemas and the worker's topology, built but never
    started (no broker, no database is contacted)."""
    topics = AnalyticsTopics()
    streams = build_analytics(
        create_stream_app(f"{CONTEXT}-descriptor-check", KafkaSettings()),
        AnalyticsReadStore("sqlite+aiosqlite://"),
        _never_propose,
        topics=topics,
    )
    moment = datetime(2000, 1, 31)
    sample = Alert("a", AlertType.DELIVERY_DELAY, "s", Severity.WARNING, moment, None, {}, moment)
    return ServedCode(
        context=CONTEXT,
        router=analytics_router(lambda: AnalyticsReadStore("sqlite+aiosqlite://")),
        snapshots=SNAPSHOT_SCHEMAS,
        snapshot_path=snapshot_path,
        output_topics=tuple(streams.output_topics),
        payloads={
            topics.alerts: StreamPayload(
                product=ALERTS,
                model=AlertOut,
                fields=tuple(alert_payload(sample)),
                event_types=(ALERT_RAISED, ALERT_CLEARED),
                key="subject",
            )
        },
        input_topics=agent_sources(streams.app),
        acls=acl_modules("contexts.supply_chain.infrastructure.acl"),
    )


async def _never_propose(request: ReplenishmentRequest) -> object:
    raise RuntimeError("the descriptor check's worker is never started")


async def replay_outbox(
    since: datetime | None = None, container: SupplyChainContainer | None = None
) -> int:
    """Mark the kept outbox rows (recorded at or after ``since``) for publishing again;
    the relay republishes them (``dpmesh replay supply_chain``). The count."""
    container = container or SupplyChainContainer()
    try:
        return await mark_for_replay(container.engine(), container.outbox_table(), since=since)
    finally:
        await container.engine().dispose()


async def run_relay(stop: asyncio.Event, container: SupplyChainContainer | None = None) -> None:
    """Publish the outbox until ``stop`` is set (``dpmesh run supply_chain relay``)."""
    container = container or _process_container()
    relay: OutboxRelay = container.relay()
    await relay.start()
    try:
        await stop.wait()
    finally:
        await relay.stop()
        await container.engine().dispose()


async def run_worker(stop: asyncio.Event, container: SupplyChainContainer | None = None) -> None:
    """Keep the data products current until ``stop`` is set (``dpmesh run ... worker``).

    The faust app consumes the context's domain topics and upserts each product into
    the read store (ADR 0001); a stock-out alert proposes a replenishment purchase
    order through the context's own message bus, so the proposal leaves through the
    outbox like any other command's events.
    """
    container = container or _process_container()
    settings: SupplyChainSettings = container.settings()
    kafka: KafkaSettings = container.kafka()
    start_mappers()
    store: AnalyticsReadStore = container.analytics_store()
    await store.create_all()

    async def propose(request: ReplenishmentRequest) -> object:
        bus = container.message_bus()
        return await bus.handle(request.as_command())

    monitor: SliMonitor = container.sli_monitor()
    sli_settings: SliSettings = container.sli_settings()
    export_slis(
        container.metrics(),
        monitor=monitor,
        objectives=product_objectives(container.product_descriptors()),
    )
    app = container.stream_app()
    streams = build_analytics(app, store, propose, topics=container.analytics_topics(), sli=monitor)
    await streams.declare_output_topics(kafka)
    alert_after = timedelta(seconds=sli_settings.gap_alert_after_s)

    async def snapshot_today() -> object:
        return await write_snapshots(store, settings.snapshot_dir, datetime.now(UTC).date())

    background: list[asyncio.Task[object]] = [
        asyncio.create_task(
            every(settings.snapshot_interval_s, snapshot_today, "writing the daily snapshots"),
            name="snapshots",
        ),
        asyncio.create_task(
            write_slis_every(monitor, container.sli_store(), sli_settings), name="slis"
        ),
        asyncio.create_task(
            every(
                sli_settings.interval_s,
                lambda: streams.report_gaps(alert_after),
                "looking for gaps",
            ),
            name="gaps",
        ),
        asyncio.create_task(
            send_heartbeats_every(
                monitor, settings, context=CONTEXT, interval_s=sli_settings.interval_s
            ),
            name="catalog-heartbeats",
        ),
    ]
    carrier_settings: CarrierSettings = container.carrier_settings()
    carrier: CarrierClient | None = container.carrier_client()
    if carrier is not None:
        gateway = CarrierTrackingGateway(carrier)

        async def send(command: Command) -> object:
            return await container.message_bus().handle(command)

        async def track() -> object:
            return await track_shipments(container.shipping_reader(), gateway, send)

        background.append(
            asyncio.create_task(
                run_tracking_poller(track, carrier_settings.poll_interval_s, stop),
                name="carrier-tracking",
            )
        )
    try:
        await serve(app, kafka, stop=stop)
    finally:
        await cancel_all(background)
        if carrier is not None:
            await carrier.aclose()
        await store.dispose()
        await container.engine().dispose()


async def write_daily_snapshot(
    day: date | None = None, container: SupplyChainContainer | None = None
) -> dict[str, Path]:
    """Write ``day``'s (default today's) Parquet snapshot of every product now
    (``dpmesh snapshot supply_chain``); the files written, by product."""
    container = container or SupplyChainContainer()
    settings: SupplyChainSettings = container.settings()
    store: AnalyticsReadStore = container.analytics_store()
    try:
        await store.create_all()
        return await write_snapshots(store, settings.snapshot_dir, day or datetime.now(UTC).date())
    finally:
        await store.dispose()


def _process_container() -> SupplyChainContainer:
    """The container of a process started from the CLI: environment settings, logs."""
    container = SupplyChainContainer()
    settings: SupplyChainSettings = container.settings()
    configure_logging(settings.log_level, json=settings.log_json)
    return container
