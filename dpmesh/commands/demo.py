"""``dpmesh demo``: the supply-chain scenario on one machine, no Docker.

Starts the embedded broker, migrates the context's database, then runs the context's
API, outbox relay and stream worker as separate processes (as they would run in
production), and the scenario simulator that drives the operational API. Every
process it started is stopped on Ctrl-C, SIGTERM or when ``--duration`` elapses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dpmesh.runtime.broker import BrokerUnavailable, EmbeddedBroker
from dpmesh.runtime.supervisor import ServiceFailed, ServiceSpec, Supervisor, dpmesh_command

_console = Console()


def demo(
    duration: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds and exit 0 (default: until Ctrl-C)."),
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(help="Where the demo keeps its databases and logs.")
    ] = Path("var/demo"),
    api_port: Annotated[int, typer.Option(help="Port of the supply_chain API.")] = 8101,
    carrier_port: Annotated[int, typer.Option(help="Port of the fake carrier API.")] = 8190,
    catalog_port: Annotated[int, typer.Option(help="Port of the data product catalog.")] = 8100,
    simulate: Annotated[bool, typer.Option(help="Run the scenario simulator.")] = True,
) -> None:
    """Run the supply-chain demo: broker, catalog, API, relay, worker, carrier, simulator.

    Examples:

      dpmesh demo

      dpmesh demo --duration 60 --api-port 9101
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    broker = EmbeddedBroker(log_path=state_dir / "logs" / "broker.log")
    supervisor = Supervisor(state_dir / "logs")
    stop = threading.Event()
    previous = {s: signal.signal(s, _setter(stop)) for s in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    try:
        with _console.status("Starting the embedded Kafka-protocol broker..."):
            (state_dir / "logs").mkdir(parents=True, exist_ok=True)
            broker.start()
        _console.print(f"[green]✓[/] broker        {broker.bootstrap_servers}")
        carrier_url = f"http://127.0.0.1:{carrier_port}"
        catalog_url = f"http://127.0.0.1:{catalog_port}"
        api_url = f"http://127.0.0.1:{api_port}"
        env = _environment(state_dir, broker.bootstrap_servers, carrier_url)
        env |= {"SUPPLY_CHAIN_CATALOG_URL": catalog_url, "SUPPLY_CHAIN_PUBLIC_API_URL": api_url}
        with _console.status("Migrating the supply_chain database..."):
            subprocess.run(
                dpmesh_command("migrate", "supply_chain"),
                env={**os.environ, **env},
                check=True,
                capture_output=True,
            )
        _console.print("[green]✓[/] database      migrated")
        specs = [
            ServiceSpec(
                "catalog",
                dpmesh_command(
                    "catalog",
                    "--port",
                    str(catalog_port),
                    "--database-url",
                    f"sqlite+aiosqlite:///{(state_dir / 'catalog.db').resolve()}",
                ),
                env,
                health_url=f"{catalog_url}/healthz",
            ),
            ServiceSpec(
                "carrier",
                dpmesh_command("carrier", "--port", str(carrier_port)),
                env,
                health_url=f"{carrier_url}/healthz",
            ),
            ServiceSpec(
                "supply_chain-api",
                dpmesh_command(
                    "run", "supply_chain", "api", "--port", str(api_port), "--no-migrate"
                ),
                env,
                health_url=f"{api_url}/readyz",
            ),
            ServiceSpec(
                "supply_chain-relay",
                dpmesh_command("run", "supply_chain", "relay", "--no-migrate"),
                env,
            ),
            ServiceSpec(
                "supply_chain-worker",
                dpmesh_command("run", "supply_chain", "worker", "--no-migrate"),
                env,
                settle_s=2.0,
            ),
        ]
        if simulate:
            specs.append(
                ServiceSpec(
                    "simulator",
                    dpmesh_command("simulate", "--api", api_url, "--carrier", carrier_url),
                    env,
                    settle_s=0.5,
                )
            )
        for spec in specs:
            with _console.status(f"Starting {spec.name}..."):
                service = supervisor.start(spec)
                took = supervisor.wait_ready(service)
            _console.print(f"[green]✓[/] {spec.name:<13} ready in {took:.1f} s")
        _console.print(
            _urls(catalog_url, api_url, carrier_url, broker.bootstrap_servers, state_dir)
        )
        _console.print(
            f"Up in {time.monotonic() - started:.1f} s. "
            + ("Press Ctrl-C to stop." if duration is None else f"Running for {duration:.0f} s.")
        )
        deadline = None if duration is None else time.monotonic() + duration
        while not stop.wait(0.5):
            supervisor.check()
            if deadline is not None and time.monotonic() >= deadline:
                break
    except (BrokerUnavailable, ServiceFailed, subprocess.CalledProcessError) as exc:
        detail = (
            exc.stderr.decode(errors="replace")
            if isinstance(exc, subprocess.CalledProcessError)
            else ""
        )
        _console.print(f"[bold red]Demo failed:[/] {exc}\n{detail}")
        raise typer.Exit(code=1) from None
    finally:
        with _console.status("Stopping every process the demo started..."):
            supervisor.stop_all()
            broker.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _console.print("[green]Demo stopped; no process left behind.[/]")


def _environment(state_dir: Path, bootstrap: str, carrier_url: str) -> dict[str, str]:
    database = (state_dir / "supply_chain.db").resolve()
    analytics = (state_dir / "supply_chain_analytics.db").resolve()
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        # The embedded broker has no InitProducerId: no idempotence, no transactions.
        "KAFKA_IDEMPOTENT_PRODUCER": "false",
        "KAFKA_EXACTLY_ONCE": "false",
        # Group joins take about half the session timeout on the embedded broker.
        "KAFKA_SESSION_TIMEOUT_MS": "2000",
        "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        "KAFKA_REBALANCE_TIMEOUT_MS": "2000",
        # Relay and API are separate processes on SQLite: a short poll replaces NOTIFY.
        "SUPPLY_CHAIN_RELAY_POLL_INTERVAL_S": "0.05",
        "SUPPLY_CHAIN_SNAPSHOT_INTERVAL_S": "30",
        "SUPPLY_CHAIN_CARRIER_API_URL": carrier_url,
        "SUPPLY_CHAIN_CARRIER_POLL_INTERVAL_S": "5",
        "SUPPLY_CHAIN_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "SUPPLY_CHAIN_ANALYTICS_DATABASE_URL": f"sqlite+aiosqlite:///{analytics}",
        "SUPPLY_CHAIN_SNAPSHOT_DIR": str((state_dir / "snapshots").resolve()),
    }


def _urls(
    catalog_url: str, api_url: str, carrier_url: str, bootstrap: str, state_dir: Path
) -> Table:
    table = Table(title="dpmesh demo", show_header=False, expand=False)
    table.add_row("Dashboard", f"{catalog_url}/dashboard")
    table.add_row("Data product catalog", catalog_url)
    table.add_row("Supply chain API", f"{api_url}/docs")
    table.add_row("Inventory levels", f"{api_url}/api/v1/products/inventory-levels")
    table.add_row("Supplier performance", f"{api_url}/api/v1/products/supplier-performance")
    table.add_row("Alerts", f"{api_url}/api/v1/products/alerts")
    table.add_row("Fake carrier", carrier_url)
    table.add_row("Kafka bootstrap", bootstrap)
    table.add_row("Logs", str(state_dir / "logs"))
    return table


def _setter(stop: threading.Event) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    return handler
