"""``dpmesh contracts products``: data product descriptors, checked, generated and linted.

``check`` is what CI runs (through the test suite); ``generate`` rewrites the schema
section of each contract after a change to the code serving its port; ``lint`` runs
the standards' own linters from their tool environment (``make lint-descriptors``).
The governance modules are imported by each command, so ``dpmesh --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dpmesh.governance import lint_descriptors

__all__ = ["app"]

app = typer.Typer(
    name="products",
    help="Data product descriptors: ODPS products and ODCS contracts in contexts/*/dataproduct.",
    no_args_is_help=True,
)

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


@app.command(epilog="Example:\n\n  dpmesh contracts products check")
def check(root: RootOption = None) -> None:
    """Fail when a descriptor is stale, missing, orphaned, or declares a port the code lacks."""
    from dpmesh.governance import product_contracts
    from dpmesh.governance.product_contracts import ContractError

    project = root or product_contracts.default_root()
    try:
        catalogue = product_contracts.discover(project)
        problems = [p for products in catalogue for p in product_contracts.check_context(products)]
    except ContractError as exc:
        _error_console.print(f"[bold red]Cannot check the descriptors:[/] {escape(str(exc))}")
        raise typer.Exit(code=2) from exc
    if not problems:
        contracts = sum(len(products.descriptors.contracts) for products in catalogue)
        items = sum(len(products.descriptors.products) for products in catalogue)
        _console.print(
            f"[green]Data product descriptors hold:[/] {items} product(s), "
            f"{contracts} contract(s) in {len(catalogue)} context(s)."
        )
        return
    table = Table(title="Data product descriptor problems", show_lines=True)
    for column in ("Problem", "Context", "Descriptor", "Detail"):
        table.add_column(column, no_wrap=column in ("Problem", "Context"))
    for problem in problems:
        table.add_row(
            problem.kind.value, problem.context, Text(problem.subject), Text(problem.detail)
        )
    _console.print(table)
    _error_console.print(
        f"[bold red]{len(problems)} descriptor problem(s).[/] Regenerate schemas with "
        "[cyan]dpmesh contracts products generate[/]; see docs/data-products.md."
    )
    raise typer.Exit(code=1)


@app.command(epilog="Example:\n\n  dpmesh contracts products generate")
def generate(root: RootOption = None) -> None:
    """Rewrite the schema section of every contract from the code serving its port."""
    from dpmesh.governance import product_contracts
    from dpmesh.governance.product_contracts import ContractError, UpdateStatus

    project = root or product_contracts.default_root()
    try:
        updates = product_contracts.write(project)
    except ContractError as exc:
        _error_console.print(f"[bold red]Cannot generate:[/] {escape(str(exc))}")
        raise typer.Exit(code=2) from exc
    table = Table(title="Contract schemas")
    table.add_column("Contract")
    table.add_column("Result", no_wrap=True)
    for update in updates:
        style = "dim" if update.status is UpdateStatus.UNCHANGED else "cyan"
        shown = (
            update.path.relative_to(project) if update.path.is_relative_to(project) else update.path
        )
        table.add_row(Text(str(shown)), Text(update.status.value, style=style))
    _console.print(table)


@app.command(epilog="Example:\n\n  dpmesh contracts products lint --tools .tools/venv/bin")
def lint(
    root: RootOption = None,
    tools: Annotated[
        Path,
        typer.Option(help="Directory holding the datacontract and dataproduct executables."),
    ] = lint_descriptors.DEFAULT_TOOLS,
) -> None:
    """Lint every descriptor with datacontract-cli and dataproduct-cli."""
    from dpmesh.governance import product_contracts

    project = root or product_contracts.default_root()
    code = lint_descriptors.main(["--root", str(project), "--tools", str(tools)])
    if code:
        raise typer.Exit(code=code)
