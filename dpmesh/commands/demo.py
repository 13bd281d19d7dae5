"""``dpmesh demo``: every registered context on one machine, no Docker.

Starts the embedded broker and the catalog, migrates each context's databases, then
runs each context's API, outbox relay and stream worker as separate processes (as they
would run in production), the external fakes it brings and its simulator lane, all
from the contexts' manifests. Every process it started is stopped on Ctrl-C, SIGTERM or
when ``--duration`` elapses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dpmesh.runtime.broker import BrokerUnavailable, EmbeddedBroker
from dpmesh.runtime.contexts import manifests
from dpmesh.runtime.supervisor import ServiceFailed, ServiceSpec, Supervisor, dpmesh_command
from shared_kernel.interfaces.keys import SigningKey
from shared_kernel.interfaces.manifest import ContextManifest, ExternalFake

_console = Console()


def demo(
    duration: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds and exit 0 (default: until Ctrl-C)."),
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(help="Where the demo keeps its databases and logs.")
    ] = Path("var/demo"),
    api_port: Annotated[
        int | None,
        typer.Option(
            help="Port of the first context's API; the others follow (default: each "
            "context's own, from its manifest)."
        ),
    ] = None,
    fake_port: Annotated[
        int | None,
        typer.Option(
            help="Port of the first external fake; the others follow (default: each "
            "fake's own, from its context's manifest)."
        ),
    ] = None,
    catalog_port: Annotated[int, typer.Option(help="Port of the data product catalog.")] = 8100,
    simulate: Annotated[bool, typer.Option(help="Run the contexts' simulators.")] = True,
) -> None:
    """Run the demo: the broker, the catalog and every registered context's processes.

    Each context's API, outbox relay, stream worker, the external fakes it brings and
    its simulator lane, from its manifest.

    Examples:

      dpmesh demo

      dpmesh demo --duration 60 --api-port 9101
    """
    contexts = manifests()
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
        catalog_url = f"http://127.0.0.1:{catalog_port}"
        plans = _plans(contexts, api_port, fake_port)
        key = SigningKey.generate()  # this run's: tokens of an earlier run are worthless
        env = _kafka_environment(broker.bootstrap_servers) | _access_environment(catalog_url)
        for plan in plans:
            env |= _context_environment(plan, state_dir, catalog_url)
        for plan in plans:
            with _console.status(f"Migrating the {plan.manifest.name} database..."):
                subprocess.run(
                    dpmesh_command("migrate", plan.manifest.name),
                    env={**os.environ, **env},
                    check=True,
                    capture_output=True,
                )
            _console.print(f"[green]✓[/] {plan.manifest.name:<13} database migrated")
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
                # Only the token endpoint holds the private key; the APIs get the JWKS.
                env | _catalog_access_environment(key),
                health_url=f"{catalog_url}/healthz",
            ),
        ]
        for plan in plans:
            specs.extend(_context_services(plan, env))
        if simulate:
            specs.extend(
                ServiceSpec(
                    f"{plan.manifest.name}-simulator",
                    dpmesh_command(*plan.simulator()),
                    env,
                    settle_s=0.5,
                )
                for plan in plans
                if plan.manifest.simulator
            )
        for spec in specs:
            with _console.status(f"Starting {spec.name}..."):
                service = supervisor.start(spec)
                took = supervisor.wait_ready(service)
            _console.print(f"[green]✓[/] {spec.name:<13} ready in {took:.1f} s")
        _console.print(_urls(catalog_url, plans, broker.bootstrap_servers, state_dir))
        _console.print(_token_help(catalog_url, plans), soft_wrap=True)
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


@dataclass(frozen=True, slots=True)
class _Plan:
    """One context in the demo: its manifest, its API's port and its fakes' ports."""

    manifest: ContextManifest
    api_port: int
    fake_ports: tuple[int, ...]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def fakes(self) -> list[tuple[ExternalFake, int, str]]:
        """Each fake with its port and URL."""
        return [
            (fake, port, f"http://127.0.0.1:{port}")
            for fake, port in zip(self.manifest.fakes, self.fake_ports, strict=True)
        ]

    def simulator(self) -> list[str]:
        """The ``dpmesh simulate`` command line of the context's lane."""
        fakes = [f"--fake={fake.name}={url}" for fake, _, url in self.fakes()]
        return ["simulate", self.manifest.name, "--api", self.api_url, *fakes]


def _plans(
    contexts: list[ContextManifest], api_port: int | None, fake_port: int | None
) -> list[_Plan]:
    plans = []
    fake_index = 0
    for index, manifest in enumerate(contexts):
        ports = []
        for fake in manifest.fakes:
            ports.append(fake.port if fake_port is None else fake_port + fake_index)
            fake_index += 1
        port = manifest.demo_api_port if api_port is None else api_port + index
        plans.append(_Plan(manifest, port, tuple(ports)))
    return plans


#: The demo clients (environment ``demo``) each process uses; their secrets are public.
DEMO_DASHBOARD = ("demo-dashboard", "demo-dashboard-secret")
DEMO_OPERATOR = ("demo-operator", "demo-operator-secret")
DEMO_ANALYST = ("demo-analyst", "demo-analyst-secret")


def _access_environment(catalog_url: str) -> dict[str, str]:
    """Access control on for every process: the APIs verify the catalog's EdDSA tokens
    with its JWKS; the simulator gets tokens as the demo operator."""
    return {
        "DPMESH_ENVIRONMENT": "demo",
        "DPMESH_AUTH_TOKEN_URL": f"{catalog_url}/oauth/token",
        "DPMESH_AUTH_JWKS_URL": f"{catalog_url}/.well-known/jwks.json",
        "DPMESH_SIMULATOR_CLIENT_ID": DEMO_OPERATOR[0],
        "DPMESH_SIMULATOR_CLIENT_SECRET": DEMO_OPERATOR[1],
    }


def _catalog_access_environment(key: SigningKey) -> dict[str, str]:
    return {
        "DPMESH_AUTH_SIGNING_KEY": key.private_pem(),
        "DPMESH_DASHBOARD_CLIENT_ID": DEMO_DASHBOARD[0],
        "DPMESH_DASHBOARD_CLIENT_SECRET": DEMO_DASHBOARD[1],
    }


def _token_help(catalog_url: str, plans: list[_Plan]) -> str:
    product = next(
        (
            f"{plan.api_url}/api/v1/products/{plan.manifest.dashboard[0].product}"
            for plan in plans
            if plan.manifest.dashboard
        ),
        None,
    )
    client = f"{DEMO_ANALYST[0]}:{DEMO_ANALYST[1]}"
    extract = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
    lines = [
        "Access control is on (demo clients, docs/access-control.md). A token for curl:",
        f"  TOKEN=$(curl -s -u {client} -d grant_type=client_credentials "
        f"{catalog_url}/oauth/token | {extract})",
    ]
    if product:
        lines.append(f'  curl -H "Authorization: Bearer $TOKEN" {product}')
    return "\n".join(lines)


def _kafka_environment(bootstrap: str) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        # The embedded broker has no InitProducerId: no idempotence, no transactions.
        "KAFKA_IDEMPOTENT_PRODUCER": "false",
        "KAFKA_EXACTLY_ONCE": "false",
        # Group joins take about half the session timeout on the embedded broker.
        "KAFKA_SESSION_TIMEOUT_MS": "2000",
        "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        "KAFKA_REBALANCE_TIMEOUT_MS": "2000",
    }


def _context_environment(plan: _Plan, state_dir: Path, catalog_url: str) -> dict[str, str]:
    """The settings every context reads (see ``ContextManifest``), in ``state_dir``."""
    manifest = plan.manifest
    database = (state_dir / f"{manifest.name}.db").resolve()
    analytics = (state_dir / f"{manifest.name}_analytics.db").resolve()
    env = {
        manifest.setting("database_url"): f"sqlite+aiosqlite:///{database}",
        manifest.setting("analytics_database_url"): f"sqlite+aiosqlite:///{analytics}",
        manifest.setting("snapshot_dir"): str((state_dir / "snapshots" / manifest.name).resolve()),
        manifest.setting("catalog_url"): catalog_url,
        manifest.setting("public_api_url"): plan.api_url,
    }
    env |= {manifest.setting(name): value for name, value in manifest.demo_settings.items()}
    env |= {manifest.setting(fake.url_setting): url for fake, _, url in plan.fakes()}
    # The context registers its products and heartbeats with the demo operator's client.
    env |= {
        manifest.setting("catalog_client_id"): DEMO_OPERATOR[0],
        manifest.setting("catalog_client_secret"): DEMO_OPERATOR[1],
    }
    return env


def _context_services(plan: _Plan, env: dict[str, str]) -> list[ServiceSpec]:
    name = plan.manifest.name
    fakes = [
        ServiceSpec(
            fake.name,
            dpmesh_command("fake", name, fake.name, "--port", str(port)),
            env,
            health_url=f"{url}{fake.health_path}",
        )
        for fake, port, url in plan.fakes()
    ]
    return [
        *fakes,
        ServiceSpec(
            f"{name}-api",
            dpmesh_command("run", name, "api", "--port", str(plan.api_port), "--no-migrate"),
            env,
            health_url=f"{plan.api_url}/readyz",
        ),
        ServiceSpec(f"{name}-relay", dpmesh_command("run", name, "relay", "--no-migrate"), env),
        ServiceSpec(
            f"{name}-worker",
            dpmesh_command("run", name, "worker", "--no-migrate"),
            env,
            settle_s=2.0,
        ),
    ]


def _urls(catalog_url: str, plans: list[_Plan], bootstrap: str, state_dir: Path) -> Table:
    table = Table(title="dpmesh demo", show_header=False, expand=False)
    table.add_row("Dashboard", f"{catalog_url}/dashboard")
    table.add_row("Data product catalog", catalog_url)
    for plan in plans:
        table.add_row(f"{plan.manifest.name} API", f"{plan.api_url}/docs")
        for panel in plan.manifest.dashboard:
            table.add_row(f"  {panel.product}", f"{plan.api_url}/api/v1/products/{panel.product}")
        for fake, _, url in plan.fakes():
            table.add_row(f"  fake {fake.name}", url)
    table.add_row("Kafka bootstrap", bootstrap)
    table.add_row("Logs", str(state_dir / "logs"))
    return table


def _setter(stop: threading.Event) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    return handler
