"""Alembic migrations of a context's operational database, configured in code.

There is no ``alembic.ini`` to keep beside each context: :class:`Migrations` builds the
configuration from the context's migrations folder (``env.py``, ``script.py.mako``,
``versions/``), so a copied context carries its migrations with it. It serves the
API's start-up and ``dpmesh migrate <context>``; it accepts a URL or an existing
engine and works on SQLite (``render_as_batch``, since SQLite alters tables by copying
them) and PostgreSQL alike.

A context's ``env.py`` is one call::

    run_environment(metadata, default_url=lambda: MySettings().database_url)

A new revision, from a database at head::

    from alembic import command
    command.revision(MIGRATIONS.config(), message="...", rev_id="0002")

then write its ``upgrade``/``downgrade`` by hand (autogenerate is a draft at best).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from shared_kernel.infrastructure.database import create_engine

__all__ = ["CONNECTION", "Migrations", "run_environment"]

#: Key of ``Config.attributes`` under which ``env.py`` finds the connection to use.
CONNECTION = "connection"


class Migrations:
    """The revisions in ``directory`` and the commands that apply them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()

    def config(self, connection: Connection | None = None) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.directory))
        config.set_main_option("version_locations", str(self.directory / "versions"))
        config.set_main_option("path_separator", "os")
        if connection is not None:
            config.attributes[CONNECTION] = connection
        return config

    def revisions(self) -> list[str]:
        """Every revision id, oldest first."""
        script = ScriptDirectory.from_config(self.config())
        return [revision.revision for revision in reversed(list(script.walk_revisions()))]

    async def upgrade(self, database: str | AsyncEngine, revision: str = "head") -> None:
        """Bring the database (a URL, or an engine the caller keeps) up to ``revision``."""

        def upgrade(connection: Connection) -> None:
            command.upgrade(self.config(connection), revision)

        await _run(database, upgrade)

    async def downgrade(self, database: str | AsyncEngine, revision: str) -> None:
        """Take the database down to ``revision`` (``"base"``: no table left)."""

        def downgrade(connection: Connection) -> None:
            command.downgrade(self.config(connection), revision)

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


def run_environment(metadata: MetaData, *, default_url: Callable[[], str]) -> None:
    """The body of a context's ``env.py``: run the revisions on the connection
    :class:`Migrations` passes, or, from Alembic's own command line, on
    ``sqlalchemy.url`` (default: the context's setting) with an async engine."""
    url = context.config.get_main_option("sqlalchemy.url") or default_url()

    def run_on(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    if context.is_offline_mode():
        context.configure(
            url=url,
            target_metadata=metadata,
            literal_binds=True,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get(CONNECTION)
    if connection is not None:
        run_on(connection)
        return

    async def with_own_engine() -> None:
        engine = create_engine(url)
        try:
            async with engine.connect() as own:
                await own.run_sync(run_on)
                await own.commit()
        finally:
            await engine.dispose()

    asyncio.run(with_own_engine())
