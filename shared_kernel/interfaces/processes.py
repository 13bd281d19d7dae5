"""The chores every context's processes share, written once.

A context's composition root starts these beside its API or its stream worker:

- :func:`register_products`: announce the context's data products to the catalog at
  start-up (in the background, so a catalog that is down never delays the API);
- :func:`send_heartbeats_every`: report each product's live SLIs to the catalog, which
  judges them against the objectives of the product's contract;
- :func:`every`: run a chore periodically (snapshots, SLI writes, gap reports), a
  failed round logged and tried again at the next;
- :func:`catalog_auth`: the context's client credentials for the catalog.

Each loop runs until cancelled; :func:`cancel_all` stops a set of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from shared_kernel.infrastructure.catalog_registration import (
    CatalogError,
    build_registrations,
    send_heartbeat,
)
from shared_kernel.infrastructure.catalog_registration import (
    register_products as send_registrations,
)
from shared_kernel.infrastructure.oauth import ClientCredentials
from shared_kernel.infrastructure.settings import ContextSettings, KafkaSettings
from shared_kernel.infrastructure.slo import SliMonitor
from shared_kernel.interfaces.auth import AuthSettings

__all__ = [
    "cancel_all",
    "catalog_auth",
    "every",
    "register_products",
    "send_heartbeats_every",
]

logger = logging.getLogger(__name__)


def catalog_auth(settings: ContextSettings) -> ClientCredentials | None:
    """The context's client credentials for the catalog, when configured (the catalog
    then wants ``catalog:<context>:write``); the token URL is the platform's."""
    if not settings.catalog_client_id or settings.catalog_client_secret is None:
        return None
    return ClientCredentials(
        AuthSettings().token_url,
        settings.catalog_client_id,
        settings.catalog_client_secret.get_secret_value(),
    )


async def register_products(
    settings: ContextSettings, kafka: KafkaSettings, *, context: str, dataproduct_dir: Path
) -> None:
    """Register the context's products (``dataproduct_dir``) with the catalog at
    ``settings.catalog_url``, saying where this deployment serves each port; a failure
    is logged, never raised: registering again later is harmless."""
    if not settings.catalog_url:
        return
    registrations = build_registrations(
        dataproduct_dir,
        context=context,
        api_base_url=settings.public_api_url,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        snapshot_root=settings.snapshot_dir,
    )
    try:
        urns = await send_registrations(
            settings.catalog_url, registrations, auth=catalog_auth(settings)
        )
    except CatalogError:
        logger.exception("registering the data products in the catalog failed")
        return
    logger.info("registered %d data products in the catalog", len(urns))


async def send_heartbeats_every(
    monitor: SliMonitor, settings: ContextSettings, *, context: str, interval_s: float
) -> None:
    """Every ``interval_s``, each measured product's SLIs to the catalog; a catalog
    that is down is tried again next round."""
    if not settings.catalog_url:
        return
    auth = catalog_auth(settings)
    while True:
        await asyncio.sleep(interval_s)
        for snapshot in monitor.snapshots():
            await send_heartbeat(
                settings.catalog_url,
                f"urn:dpmesh:{context}:{snapshot.product}",
                slis=snapshot.slis(),
                auth=auth,
            )


async def every(interval_s: float, chore: Callable[[], Awaitable[object]], what: str) -> None:
    """``chore()`` every ``interval_s`` until cancelled; a failed round is logged (as
    ``what``) and the next one tries again."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await chore()
        except Exception:
            logger.exception("%s failed; trying again in %.0f s", what, interval_s)


async def cancel_all(tasks: Iterable[asyncio.Task[object]]) -> None:
    """Cancel ``tasks`` and wait until each has stopped."""
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
