"""``dpmesh contracts``: the JSON Schemas of published events, checked and generated.

``check`` is what CI runs (through the test suite); ``generate`` is what a developer
runs after changing an event class. Both work on the source tree the ``contexts``
package is imported from, unless ``--root`` names it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dpmesh.commands.product_contracts import app as products_app
from dpmesh.governance import event_contracts
from dpmesh.governance.event_contracts import (
    BreakingChangeError,
    ContractError,
    Problem,
    ProblemKind,
    SchemaUpdate,
    UpdateStatus,
)

__all__ = ["app"]

app = typer.Typer(
    name="contracts",
    help="Event contracts: the checked-in JSON Schema of every published event.",
    no_args_is_help=True,
)

app.add_typer(products_app, name="products")

_console = Console()
_error_console = Console(stderr=True)

RootOption = Annotated[
    Path | None,
    typer.Option(
        "--root",
        help="Project root holding contexts/ (default: the one the contexts package comes from).",
        exists=True,
        file_okay=False,
        resolve_path=True,
    ),
]


@app.command(epilog="Example:\n\n  dpmesh contracts check")
def check(root: RootOption = None) -> None:
    """Fail when a checked-in event schema is missing, stale, orphaned or broken by the code."""
    project = root or event_contracts.default_root()
    try:
        catalogue = event_contracts.discover(project)
        problems = event_contracts.check_catalogue(catalogue)
    except ContractError as exc:
        _error_console.print(f"[bold red]Cannot check the event contracts:[/] {escape(str(exc))}")
        raise typer.Exit(code=2) from exc
    if not problems:
        schemas = sum(len(published.events) for published in catalogue)
        _console.print(
            f"[green]Event contracts hold:[/] {schemas} schema(s) in {len(catalogue)} context(s)."
        )
        return
    _console.print(_problem_table(problems, project))
    _error_console.print(
        f"[bold red]{len(problems)} event contract problem(s).[/] Regenerate with "
        "[cyan]dpmesh contracts generate[/]; see docs/event-contracts.md."
    )
    raise typer.Exit(code=1)


@app.command(epilog="Example:\n\n  dpmesh contracts generate")
def generate(
    root: RootOption = None,
    allow_breaking: Annotated[
        bool,
        typer.Option(
            "--allow-breaking",
            help="Overwrite a schema even when its consumers would break. Only for an "
            "event nobody consumes yet; otherwise raise its schema_version.",
        ),
    ] = False,
) -> None:
    """Write the JSON Schema of every published event; refuse changes that break consumers."""
    project = root or event_contracts.default_root()
    try:
        catalogue = event_contracts.discover(project)
        updates = event_contracts.write_updates(catalogue, allow_breaking=allow_breaking)
    except BreakingChangeError as exc:
        _error_console.print(f"[bold red]Nothing written.[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(code=1) from exc
    except ContractError as exc:
        _error_console.print(
            f"[bold red]Cannot generate the event contracts:[/] {escape(str(exc))}"
        )
        raise typer.Exit(code=2) from exc
    _console.print(_update_table(updates, project))
    if any(update.breaking for update in updates):
        _error_console.print(
            "[bold yellow]Breaking changes written with --allow-breaking:[/] consumers of "
            "these topics must be told before this is released."
        )
    orphans = [
        problem
        for published in catalogue
        for problem in event_contracts.check_events(published)
        if problem.kind is ProblemKind.ORPHAN
    ]
    if orphans:
        _error_console.print("[yellow]Files no published event accounts for (left in place):[/]")
        for problem in orphans:
            _error_console.print(
                Text(f"  {_shown(problem.path, project)}: {problem.detail}"), highlight=False
            )


def _problem_table(problems: list[Problem], root: Path) -> Table:
    table = Table(title="Event contract problems", show_lines=True)
    table.add_column("Problem", style="bold red", no_wrap=True)
    table.add_column("Context", no_wrap=True)
    table.add_column("Schema")
    table.add_column("Where")
    table.add_column("Detail")
    for problem in problems:
        table.add_row(
            problem.kind.value,
            problem.context,
            Text(_shown(problem.path, root) if problem.path else problem.subject),
            Text(problem.location),
            Text(problem.detail),
        )
    return table


def _update_table(updates: list[SchemaUpdate], root: Path) -> Table:
    table = Table(title="Event schemas")
    table.add_column("Schema")
    table.add_column("Topic", no_wrap=True)
    table.add_column("Result", no_wrap=True)
    styles = {
        UpdateStatus.CREATED: "green",
        UpdateStatus.UPDATED: "cyan",
        UpdateStatus.REFORMATTED: "cyan",
        UpdateStatus.UNCHANGED: "dim",
    }
    for update in updates:
        result = "overwritten, BREAKING" if update.breaking else update.status.value
        style = "bold yellow" if update.breaking else styles[update.status]
        table.add_row(
            Text(_shown(update.path, root)),
            event_contracts.topic_of(update.event),
            Text(result, style=style),
        )
    return table


def _shown(path: Path | None, root: Path) -> str:
    if path is None:
        return ""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
