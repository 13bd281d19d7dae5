"""The migrations build exactly the schema the ORM maps, and can go down and up again."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Connection, Integer, MetaData, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from contexts.supply_chain.bootstrap import SupplyChainContainer
from contexts.supply_chain.infrastructure.persistence.migrations import (
    downgrade_database,
    revisions,
    upgrade_database,
)
from contexts.supply_chain.infrastructure.persistence.orm import metadata

pytestmark = pytest.mark.integration

VERSION_TABLE = "alembic_version"


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {VERSION_TABLE}


async def differences(engine: AsyncEngine, target: MetaData) -> list[Any]:
    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, target))

    async with engine.connect() as connection:
        return await connection.run_sync(compare)


async def test_head_creates_exactly_the_mapped_schema(container: SupplyChainContainer) -> None:
    engine = container.engine()
    assert await table_names(engine) == set()

    await upgrade_database(engine)

    assert await table_names(engine) == set(metadata.tables)
    assert await differences(engine, metadata) == []


async def test_the_comparison_notices_a_schema_that_differs(
    container: SupplyChainContainer,
) -> None:
    """Guards the test above: a column the migrations lack is reported."""
    engine = container.engine()
    await upgrade_database(engine)
    changed = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["warehouses"].append_column(Column("floor_space", Integer, nullable=True))

    found = await differences(engine, changed)

    assert [(kind, column.name) for kind, _, _, column in found] == [("add_column", "floor_space")]


async def test_every_revision_goes_up_down_and_up_again(container: SupplyChainContainer) -> None:
    engine = container.engine()
    previous = "base"
    for revision in revisions():
        await upgrade_database(engine, revision)
        await downgrade_database(engine, previous)
        await upgrade_database(engine, revision)
        previous = revision
    assert await differences(engine, metadata) == []
    await downgrade_database(engine, "base")
    assert await table_names(engine) == set()


async def test_upgrading_a_database_at_head_changes_nothing(
    container: SupplyChainContainer,
) -> None:
    engine = container.engine()
    await upgrade_database(engine)
    await upgrade_database(engine)
    assert await differences(engine, metadata) == []


async def test_a_url_is_enough_to_upgrade(database_url: str) -> None:
    """What ``dpmesh migrate supply_chain`` calls: the function makes its own engine."""
    from shared_kernel.infrastructure.database import create_engine

    await upgrade_database(database_url)
    engine = create_engine(database_url)
    try:
        assert await table_names(engine) == set(metadata.tables)
    finally:
        await engine.dispose()
