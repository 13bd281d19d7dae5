"""Alembic environment: run the revisions on the connection ``upgrade_database`` gives.

Run through Alembic's own command line instead (``alembic -c <an ini naming this
folder>``), it connects to ``SUPPLY_CHAIN_DATABASE_URL`` with an async engine.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from contexts.supply_chain.infrastructure.persistence.migrations import CONNECTION
from contexts.supply_chain.infrastructure.persistence.orm import metadata
from contexts.supply_chain.infrastructure.settings import SupplyChainSettings
from shared_kernel.infrastructure.database import create_engine


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_with_own_engine(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on)
            await connection.commit()
    finally:
        await engine.dispose()


def run_offline(url: str) -> None:
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or SupplyChainSettings().database_url
    if context.is_offline_mode():
        run_offline(url)
        return
    connection = context.config.attributes.get(CONNECTION)
    if connection is not None:
        run_on(connection)
    else:
        asyncio.run(run_with_own_engine(url))


main()
