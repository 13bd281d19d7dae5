"""``dpmesh catalog``: run the data product catalog service."""

from __future__ import annotations

from typing import Annotated

import typer


def catalog(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8100,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="The catalog's own database (default: DPMESH_CATALOG_DATABASE_URL, else "
            "sqlite+aiosqlite:///./var/catalog.db).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the data product catalog: registration, search, URN resolution, lineage.

    Examples:

      dpmesh catalog

      dpmesh catalog --port 9100 --database-url sqlite+aiosqlite:///./var/other-catalog.db
    """
    from dpmesh.catalog import create_catalog_app
    from dpmesh.runtime.http import serve
    from shared_kernel.infrastructure.logging import configure_logging

    configure_logging("INFO", json=False)
    serve(create_catalog_app(database_url), host=host, port=port)
