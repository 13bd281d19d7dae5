"""``dpmesh broker``: the embedded Kafka-protocol broker in the foreground.

For running contexts by hand against a broker without Docker. Data lives in memory
only and is gone when the command ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel

from dpmesh.runtime.broker import BrokerUnavailable, EmbeddedBroker

__all__ = ["broker"]

_console = Console()
_error_console = Console(stderr=True)


def broker(
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 9092,
    host: Annotated[str, typer.Option(help="Address to listen on and advertise.")] = "127.0.0.1",
    log_file: Annotated[
        Path | None,
        typer.Option(help="Keep the broker log in this file (default: a temporary file)."),
    ] = None,
) -> None:
    """Run the embedded Kafka-protocol broker (Tansu) until Ctrl-C or SIGTERM."""
    embedded = EmbeddedBroker(port=port, host=host, log_path=log_file)
    try:
        with _console.status(f"Starting the embedded broker on {host}:{port}..."):
            embedded.start()
    except BrokerUnavailable as exc:
        _error_console.print(f"[bold red]Cannot start the broker:[/] {exc}")
        raise typer.Exit(code=1) from exc

    stop_requested = threading.Event()
    previous = _on_signals(stop_requested.set)
    try:
        _console.print(_ready_panel(embedded))
        while not stop_requested.wait(0.2):
            if not embedded.running:
                _error_console.print(
                    "[bold red]The broker stopped unexpectedly.[/] Its log ends with:\n"
                    + embedded.log_tail()
                )
                raise typer.Exit(code=1)
        _console.print("Stopping the broker...")
    finally:
        embedded.stop()
        _restore_signals(previous)
    _console.print("[green]Broker stopped.[/]")


def _ready_panel(embedded: EmbeddedBroker) -> Panel:
    address = embedded.bootstrap_servers
    lines = [
        f"[bold green]Kafka-protocol broker ready[/] on [bold]{address}[/] "
        f"(pid {embedded.pid}, in memory: data is lost when it stops)",
        "",
        "Point the contexts and tools at it with:",
        f"  [cyan]export KAFKA_BOOTSTRAP_SERVERS={address}[/]",
        "",
        "No idempotent or transactional producers: keep KAFKA_IDEMPOTENT_PRODUCER and "
        "KAFKA_EXACTLY_ONCE off.",
        f"Log: {embedded.log_path}"
        if embedded.log_path
        else "Log: kept only while running (use --log-file to keep it).",
        "Press Ctrl-C to stop.",
    ]
    return Panel("\n".join(lines), title="dpmesh broker", expand=False)


_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def _on_signals(callback: Callable[[], None]) -> dict[int, _Handler]:
    """Route SIGINT and SIGTERM to ``callback``.

    The broker runs in its own process group, so Ctrl-C in the terminal reaches
    only this process, which then stops the broker in order.
    """

    def handle(signum: int, frame: FrameType | None) -> None:
        callback()

    previous: dict[int, _Handler] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handle)
    return previous


def _restore_signals(previous: dict[int, _Handler]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
