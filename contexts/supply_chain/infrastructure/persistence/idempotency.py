"""Stored responses of requests sent with an ``Idempotency-Key``.

A key is *claimed* inside the command's own transaction (a unit-of-work
``before_commit`` hook inserts its row), so the key exists if and only if the
command's effect does: a crash after the commit cannot lose the key, and of two
concurrent requests with one key only one commits (the other's insert violates the
primary key, its transaction rolls back, and its caller finds the first one's key).
The response is only known once the command returned, so it is recorded right after,
in a short transaction of its own. Between the two, or if the process died in
between, the key is claimed without a response; a retry then learns that the
request was processed but cannot be replayed.

A command that commits nothing (a replenishment proposal that already existed) has
no claim: its response is recorded on its own, first writer wins.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from contexts.supply_chain.infrastructure.persistence.tables import idempotency_keys
from shared_kernel.infrastructure.persistence.unit_of_work import BeforeCommit


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What a key was used for; ``status_code`` is None while no response is recorded."""

    request_hash: str
    status_code: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


class SqlIdempotencyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def find(self, key: str) -> IdempotencyRecord | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(idempotency_keys).where(idempotency_keys.c.key == key)
                )
            ).first()
        if row is None:
            return None
        return IdempotencyRecord(
            request_hash=row.request_hash,
            status_code=row.status_code,
            headers=json.loads(row.response_headers or "{}"),
            body=(row.response_body or "").encode(),
        )

    def claim(self, key: str, request_hash: str) -> BeforeCommit:
        """A hook that inserts the key in the transaction it is run in, at most once
        (an event handler committing later on the same unit of work must not claim
        the key a second time)."""
        claimed = False

        async def insert_claim(session: AsyncSession) -> None:
            nonlocal claimed
            if claimed:
                return
            await session.execute(
                insert(idempotency_keys).values(
                    key=key, request_hash=request_hash, recorded_at=datetime.now(UTC)
                )
            )
            claimed = True

        return insert_claim

    async def save(
        self,
        key: str,
        request_hash: str,
        status_code: int,
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        """Record the response for ``key``: on its claim, or as a new row if the
        command claimed nothing. A response already recorded is kept."""
        now = datetime.now(UTC)
        response = {
            "status_code": status_code,
            "response_headers": json.dumps(dict(headers), sort_keys=True),
            "response_body": body.decode(),
            "completed_at": now,
        }
        async with self._engine.begin() as connection:
            updated = await connection.execute(
                update(idempotency_keys)
                .where(
                    idempotency_keys.c.key == key,
                    idempotency_keys.c.request_hash == request_hash,
                    idempotency_keys.c.status_code.is_(None),
                )
                .values(**response)
            )
            if updated.rowcount:
                return
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    insert(idempotency_keys).values(
                        key=key, request_hash=request_hash, recorded_at=now, **response
                    )
                )
        except IntegrityError:
            return  # another request recorded this key first; its response stands

    async def expire(self, before: datetime) -> int:
        """Forget keys recorded before ``before`` (the retention's horizon); the count.
        A retry with a forgotten key runs as a new request."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                delete(idempotency_keys).where(idempotency_keys.c.recorded_at < before)
            )
        return int(result.rowcount or 0)
