"""``dpmesh status``: what the catalog knows, product by product, with its SLOs."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

_console = Console()
_errors = Console(stderr=True)


def slo_status(product: dict[str, Any]) -> str:
    """``met``, ``breached`` or ``unknown`` from the catalog's SLO entries."""
    verdicts = [slo.get("met") for slo in product.get("slos", [])]
    if not verdicts or all(v is None for v in verdicts):
        return "unknown"
    return "breached" if any(v is False for v in verdicts) else "met"


def status(
    catalog: Annotated[str, typer.Option(help="The catalog's base URL.")] = "http://127.0.0.1:8100",
) -> None:
    """Show every registered data product, its last heartbeat and its SLO status.

    Examples:

      dpmesh status

      dpmesh status --catalog http://catalog:8100
    """
    try:
        response = httpx.get(f"{catalog}/api/v1/products", params={"limit": 200}, timeout=5.0)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        _errors.print(f"[bold red]The catalog at {catalog} does not answer:[/] {exc}")
        raise typer.Exit(code=1) from None
    products = response.json().get("items", [])
    table = Table("product", "owner", "status", "last heartbeat", "SLOs", title=catalog)
    for product in products:
        heartbeat = product.get("heartbeat") or {}
        table.add_row(
            product["urn"],
            product.get("owner") or "",
            product.get("status", ""),
            str(heartbeat.get("received_at") or "never"),
            slo_status(product),
        )
    _console.print(table)
    if not products:
        _console.print(
            "No product registered yet: start a context with its <PREFIX>_CATALOG_URL set "
            "(the demo does)."
        )
