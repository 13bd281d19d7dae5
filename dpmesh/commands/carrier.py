"""``dpmesh carrier``: the fake carrier tracking API of the demo, in the foreground."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

__all__ = ["carrier"]

_console = Console(stderr=True)


def carrier(
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8190,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    api_key: Annotated[
        str | None,
        typer.Option(
            help="Require this key in X-Api-Key (default: no key).",
            envvar="DPMESH_FAKE_CARRIER_API_KEY",
        ),
    ] = None,
) -> None:
    """Run a fake carrier tracking API (in memory) until Ctrl-C.

    Point the supply chain at it, and let the simulator script it:

      dpmesh carrier --port 8190

      SUPPLY_CHAIN_CARRIER_API_URL=http://127.0.0.1:8190 dpmesh run supply_chain worker

      dpmesh simulate --carrier http://127.0.0.1:8190
    """
    import uvicorn

    from dpmesh.demo.fake_carrier import create_app

    _console.print(
        f"Fake carrier on [bold]http://{host}:{port}[/] "
        f"({'API key required' if api_key else 'no API key'}); "
        f"tell the supply chain: [cyan]SUPPLY_CHAIN_CARRIER_API_URL=http://{host}:{port}[/]"
    )
    uvicorn.run(create_app(api_key=api_key), host=host, port=port)
