"""``dpmesh new-context NAME``: generate a bounded context from the template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["new_context"]

_console = Console()
_error_console = Console(stderr=True)


def new_context(
    name: Annotated[str, typer.Argument(help="The context's name, a Python identifier.")],
    root: Annotated[
        Path,
        typer.Option(
            "--root",
            help="The project to add it to (holding contexts/ and pyproject.toml).",
            file_okay=False,
            resolve_path=True,
        ),
    ] = Path("."),
    allow_dirty: Annotated[
        bool, typer.Option(help="Generate even when the project has uncommitted changes.")
    ] = False,
) -> None:
    """Generate a new bounded context: domain, commands, events through the outbox, a
    stream-processed data product with its contracts and SLOs, tests, and its manifest.

    Example: dpmesh new-context warranty
    """
    from dpmesh.scaffold import NewContextError, generate, plan

    try:
        chosen = plan(name, root, allow_dirty=allow_dirty)
        _console.print(f"Generating [bold]{name}[/] in {chosen.target} ...")
        written = generate(chosen, progress=lambda step: _console.print(f"  [green]✓[/] {step}"))
    except NewContextError as exc:
        _error_console.print(f"[bold red]Cannot generate {escape(name)}:[/] {escape(str(exc))}")
        raise typer.Exit(code=2) from exc
    _console.print(
        f"[green]Generated {len(written)} files.[/] Next:\n"
        f"  pip install -e .             # registers the new entry point\n"
        f"  pytest contexts/{name}        # its unit, API and end-to-end tests\n"
        f"  dpmesh demo                   # runs it beside the other contexts\n"
        "Read docs/copy-a-context.md for what to change first."
    )
