"""``dpmesh simulate``: the supply-chain scenario, driven through the operational API."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["simulate"]

_console = Console(soft_wrap=True)


def simulate(
    api: Annotated[str, typer.Option(help="Root URL of the supply chain API.")] = (
        "http://127.0.0.1:8101"
    ),
    carrier: Annotated[
        str | None,
        typer.Option(
            help="Root URL of the fake carrier (dpmesh carrier): shipments are then tracked "
            "through it, by the supply chain's tracking poller, instead of directly."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same story.")] = 7,
    rate: Annotated[float, typer.Option(help="Steps per second.", min=0.01)] = 2.0,
    duration: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds and exit 0 (default: until Ctrl-C)."),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="Print only the final summary.")] = False,
    carrier_api_key: Annotated[
        str | None,
        typer.Option(
            help="API key of the fake carrier, if it wants one.",
            envvar="DPMESH_FAKE_CARRIER_API_KEY",
        ),
    ] = None,
) -> None:
    """Drive the supply chain through its REST API: reference data, demand pushing a SKU
    toward stock-out, purchase orders received on time and late, shipments tracked
    leg by leg, some delayed. A failed step is counted and the run goes on.

    Examples:

      dpmesh simulate

      dpmesh simulate --api http://127.0.0.1:9101 --rate 5 --duration 60

      dpmesh simulate --carrier http://127.0.0.1:8190 --seed 42
    """
    from dpmesh.demo.simulator import simulate as run_scenario

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            summary = await run_scenario(
                api,
                carrier_url=carrier,
                carrier_api_key=carrier_api_key,
                seed=seed,
                rate=rate,
                duration=duration,
                quiet=quiet,
                stop=stop,
                console=_console,
            )
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        _console.print(summary.table())

    _console.print(
        f"Simulating against [bold]{api}[/] (seed {seed}, {rate:g} steps/s"
        + (f", carrier {carrier}" if carrier else "")
        + (f", for {duration:g} s" if duration is not None else ", until Ctrl-C")
        + ")"
    )
    asyncio.run(main())
