"""``dpmesh fake CONTEXT NAME``: an external system's stand-in that a context brings."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from dpmesh.runtime.contexts import UnknownContext, context, context_names
from shared_kernel.interfaces.manifest import load_reference

__all__ = ["fake"]

_console = Console(stderr=True)


def fake(
    name: Annotated[
        str,
        typer.Argument(help=f"Bounded context: {', '.join(context_names())}.", show_default=False),
    ],
    system: Annotated[str, typer.Argument(help="Which of its fakes.", show_default=False)],
    port: Annotated[
        int | None,
        typer.Option(help="Port to listen on (default: the manifest's).", min=1, max=65535),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Run one of a context's external fakes (in memory) until Ctrl-C.

    The demo runs each of them; point the context at one through the setting its
    manifest names.

    Examples:

      dpmesh fake supply_chain carrier --port 8190
    """
    try:
        manifest = context(name).manifest
    except UnknownContext as exc:
        _console.print(f"[bold red]{exc}[/]")
        raise typer.Exit(code=2) from None
    chosen = next((item for item in manifest.fakes if item.name == system), None)
    if chosen is None:
        known = ", ".join(item.name for item in manifest.fakes) or "none"
        _console.print(f"[bold red]{name} has no fake {system!r}[/]; its fakes: {known}")
        raise typer.Exit(code=2)
    import uvicorn

    listen = port or chosen.port
    _console.print(
        f"Fake {system} on [bold]http://{host}:{listen}[/]; tell {name}: "
        f"[cyan]{manifest.setting(chosen.url_setting)}=http://{host}:{listen}[/]"
    )
    uvicorn.run(load_reference(chosen.app)(), host=host, port=listen)
