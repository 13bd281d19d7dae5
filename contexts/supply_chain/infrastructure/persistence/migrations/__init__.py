"""Alembic migrations of the supply chain's operational database, configured in code.

There is no ``alembic.ini``: the configuration is built here, so a copied context
carries its migrations with it. ``upgrade_database`` serves the API's start-up and
``dpmesh migrate supply_chain``; it accepts a URL or an existing engine and works on
SQLite (``render_as_batch``, since SQLite alters tables by copying them) and
PostgreSQL alike.

A new revision, from a database at head::

    from alembic import command
    command.revision(alembic_config(), message="...", rev_id="0002")

then write its ``upgrade``/``downgrade`` by hand (autogenerate is a draft at best);
the integration tests check the schema at head against ``orm.metadata``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from shared_kernel.infrastructure.database import create_engine

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "downgrade_database",
    "revisions",
    "upgrade_database",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent

#: Key of ``Config.attributes`` under which ``env.py`` finds the connection to use.
CONNECTION = "connection"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes[CONNECTION] = connection
    return config


def revisions() -> list[str]:
    """Every revision id, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


async def upgrade_database(database: str | AsyncEngine, revision: str = "head") -> None:
    """Bring the database (a URL, or an engine the caller keeps) up to ``revision``."""

    def upgrade(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    await _run(database, upgrade)


async def downgrade_database(database: str | AsyncEngine, revision: str) -> None:
    """Take the database down to ``revision`` (``"base"``: no table left)."""

    def downgrade(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), revision)

    await _run(database, downgrade)


async def _run(database: str | AsyncEngine, step: Callable[[Connection], None]) -> None:
    engine = create_engine(database) if isinstance(database, str) else database
    try:
        async with engine.connect() as connection:
            await connection.run_sync(step)
            await connection.commit()
    finally:
        if isinstance(database, str):
            await engine.dispose()
