"""``dpmesh run <context> api|worker|relay`` and ``dpmesh migrate <context>``."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from dpmesh.runtime.contexts import UnknownContext, context, context_names

_console = Console(stderr=True)


class Role(StrEnum):
    api = "api"
    worker = "worker"
    relay = "relay"


ContextArg = Annotated[
    str, typer.Argument(help=f"Bounded context: {', '.join(context_names())}.", show_default=False)
]


def run(
    name: ContextArg,
    role: Annotated[Role, typer.Argument(help="Which process of the context to run.")],
    host: Annotated[str, typer.Option(help="API: address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="API: port to listen on.", min=1, max=65535)] = 8000,
    migrate: Annotated[
        bool, typer.Option(help="Upgrade the context's database before starting.")
    ] = True,
) -> None:
    """Run one process of a bounded context, configured from the environment.

    Examples:

      dpmesh run supply_chain api --port 8001

      KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 dpmesh run supply_chain worker

      SUPPLY_CHAIN_DATABASE_URL=postgresql+asyncpg://app@db/supply dpmesh run supply_chain relay
    """
    entry = _entry(name)
    # aiosqlite and faust hand work between threads; the interpreter's default 5 ms
    # switch interval adds that much to each handoff, which dominates freshness p99
    # (docs/event-backbone.md, "Measured").
    sys.setswitchinterval(0.001)
    bootstrap = entry.load()
    if migrate:
        _run_async(bootstrap.upgrade_database())
    if role is Role.api:
        from dpmesh.runtime.http import serve

        serve(entry.app_factory, factory=True, host=host, port=port)
        return
    runner: Callable[[asyncio.Event], Awaitable[None]] = (
        bootstrap.run_worker if role is Role.worker else bootstrap.run_relay
    )
    _run_until_signalled(runner)


def migrate(name: ContextArg) -> None:
    """Upgrade a context's databases to the newest schema (Alembic, to head).

    Example:

      SUPPLY_CHAIN_DATABASE_URL=sqlite+aiosqlite:///./var/sc.db dpmesh migrate supply_chain
    """
    bootstrap = _entry(name).load()
    _run_async(bootstrap.upgrade_database())
    _console.print(f"[green]{name}: database is at the newest schema.[/]")


def snapshot(
    name: ContextArg,
    day: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Snapshot day (default today).")
    ] = None,
) -> None:
    """Write a day's Parquet snapshot of every data product of a context, now.

    Examples:

      dpmesh snapshot supply_chain

      SUPPLY_CHAIN_SNAPSHOT_DIR=var/demo/snapshots dpmesh snapshot supply_chain --day 2026-11-27
    """
    bootstrap = _entry(name).load()

    async def main() -> dict[str, Path]:
        written: dict[str, Path] = await bootstrap.write_daily_snapshot(day.date() if day else None)
        return written

    written = asyncio.run(main())
    for product, path in written.items():
        _console.print(f"[green]✓[/] {product:<22} {path}")


def replay(
    name: ContextArg,
    since: Annotated[
        datetime | None,
        typer.Option(
            help="Only rows recorded at or after this time (ISO 8601, UTC if no zone). "
            "Default: every row the outbox keeps.",
        ),
    ] = None,
) -> None:
    """Publish a context's kept outbox rows again, to rebuild a broker, an environment or
    a product from the database, the source of truth.

    The rows are marked unpublished; the context's relay (``dpmesh run NAME relay``, or
    its API with the relay inside) republishes them in their original order. Consumers
    apply each aggregate version once, so products stay exact.

    Examples:

      dpmesh replay supply_chain

      dpmesh replay supply_chain --since 2026-11-27T08:00:00
    """
    bootstrap = _entry(name).load()
    moment = since if since is None or since.tzinfo is not None else since.replace(tzinfo=UTC)
    count: int = asyncio.run(bootstrap.replay_outbox(moment))
    scope = "every kept row" if moment is None else f"rows recorded since {moment.isoformat()}"
    _console.print(
        f"[green]{name}:[/] {count} outbox rows marked for replay ({scope}); "
        "the relay publishes them again."
    )


def _entry(name: str) -> Any:
    try:
        return context(name)
    except UnknownContext as exc:
        _console.print(f"[bold red]{exc}[/]")
        raise typer.Exit(code=2) from None


def _run_async(awaitable: Awaitable[None]) -> None:
    async def main() -> None:
        await awaitable

    asyncio.run(main())


def _run_until_signalled(runner: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``runner`` until SIGINT/SIGTERM, then let it finish its work in flight."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await runner(stop)

    asyncio.run(main())
