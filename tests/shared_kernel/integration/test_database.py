"""Engines, sessions and the database readiness check on real databases."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from shared_kernel.infrastructure.database import create_engine, create_session_factory
from shared_kernel.interfaces.app import create_api
from shared_kernel.interfaces.health import database_check

pytestmark = pytest.mark.integration


async def test_the_engine_answers_and_sessions_work(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await database_check(engine)()
        async with create_session_factory(engine)() as session:
            assert (await session.execute(text("SELECT 1 + 1"))).scalar_one() == 2
    finally:
        await engine.dispose()


async def test_a_sqlite_file_gets_its_folder_and_its_settings(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as connection:
            journal = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
            foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one()
            busy = (await connection.execute(text("PRAGMA busy_timeout"))).scalar_one()
    finally:
        await engine.dispose()

    assert path.exists()
    assert journal == "wal"
    assert foreign_keys == 1
    assert busy == 30000


async def test_readiness_names_an_unreachable_database() -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    unreachable = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app = create_api(
        title="t",
        description="d",
        readiness_checks={"database": database_check(unreachable)},
        readiness_timeout_s=10,
    )
    try:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    finally:
        await unreachable.dispose()

    assert response.status_code == 503
    assert response.json()["checks"]["database"] != "ok"
