"""``dpmesh simulate CONTEXT``: a context's scenario, driven through its operational API."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
from rich.console import Console

from dpmesh.runtime.contexts import UnknownContext, context, context_names
from shared_kernel.infrastructure.oauth import ClientCredentials
from shared_kernel.interfaces.auth import AuthSettings
from shared_kernel.interfaces.manifest import load_reference

__all__ = ["simulate"]

_console = Console(soft_wrap=True)


def simulate(
    name: Annotated[
        str,
        typer.Argument(help=f"Bounded context: {', '.join(context_names())}.", show_default=False),
    ],
    api: Annotated[
        str | None,
        typer.Option(help="Root URL of the context's API (default: its demo port)."),
    ] = None,
    fake: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME=URL of one of the context's external fakes the simulator may script "
            "(repeat the option for several)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same story.")] = 7,
    rate: Annotated[float, typer.Option(help="Steps per second.", min=0.01)] = 2.0,
    duration: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds and exit 0 (default: until Ctrl-C)."),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="Print only the final summary.")] = False,
    client_id: Annotated[
        str | None,
        typer.Option(
            help="OAuth client for the API, when it wants tokens (from DPMESH_AUTH_TOKEN_URL).",
            envvar="DPMESH_SIMULATOR_CLIENT_ID",
        ),
    ] = None,
    client_secret: Annotated[
        str | None,
        typer.Option(help="Its secret.", envvar="DPMESH_SIMULATOR_CLIENT_SECRET"),
    ] = None,
) -> None:
    """Drive a context through its REST API with its simulator lane.

    The lane is the one the context's manifest names; a failed step is counted and the
    run goes on.

    Examples:

      dpmesh simulate supply_chain

      dpmesh simulate supply_chain --api http://127.0.0.1:9101 --rate 5 --duration 60

      dpmesh simulate supply_chain --fake carrier=http://127.0.0.1:8190 --seed 42
    """
    try:
        manifest = context(name).manifest
    except UnknownContext as exc:
        _console.print(f"[bold red]{exc}[/]")
        raise typer.Exit(code=2) from None
    if manifest.simulator is None:
        _console.print(f"[bold red]{name} brings no simulator.[/]")
        raise typer.Exit(code=2)
    fakes: dict[str, str] = {}
    for item in fake or []:
        label, separator, url = item.partition("=")
        if not separator or not label or not url:
            _console.print(f"[bold red]--fake {item!r}: write NAME=URL[/]")
            raise typer.Exit(code=2)
        fakes[label] = url
    api_url = api or f"http://127.0.0.1:{manifest.demo_api_port}"
    lane = load_reference(manifest.simulator)
    auth = (
        ClientCredentials(AuthSettings().token_url, client_id, client_secret)
        if client_id and client_secret
        else None
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            summary = await lane(
                api_url,
                fakes=fakes,
                seed=seed,
                rate=rate,
                duration=duration,
                quiet=quiet,
                stop=stop,
                console=_console,
                auth=auth,
            )
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        _console.print(summary.table())

    _console.print(
        f"Simulating {name} against [bold]{api_url}[/] (seed {seed}, {rate:g} steps/s"
        + (f", {duration:g} s" if duration else "")
        + "). Ctrl-C to stop."
    )
    asyncio.run(main())
