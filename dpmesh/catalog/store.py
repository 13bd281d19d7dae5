"""The catalog's own small database: registered products, their tags and last heartbeat.

SQLAlchemy Core over any async engine (SQLite by default, PostgreSQL in production).
The tables are created at start-up (:meth:`CatalogStore.create_all`): the catalog
holds only what products re-register each time they start, so a schema change is
handled by dropping the database, not by migrations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from dpmesh.catalog.models import Heartbeat, Registration

metadata = MetaData()

products = Table(
    "catalog_products",
    metadata,
    Column("urn", String(255), primary_key=True),
    Column("context", String(100), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("domain", String(100), nullable=False, index=True),
    Column("owner", String(200), nullable=True, index=True),
    Column("search_text", Text, nullable=False),
    Column("document", JSON, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

tags = Table(
    "catalog_tags",
    metadata,
    Column("urn", ForeignKey(products.c.urn, ondelete="CASCADE"), primary_key=True),
    Column("tag", String(100), primary_key=True, index=True),
)

heartbeats = Table(
    "catalog_heartbeats",
    metadata,
    Column("urn", ForeignKey(products.c.urn, ondelete="CASCADE"), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("slis", JSON, nullable=False),
    Column("observed_at", DateTime(timezone=True), nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


class Upsert(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class StoredHeartbeat:
    heartbeat: Heartbeat
    received_at: datetime


@dataclass(frozen=True, slots=True)
class StoredProduct:
    registration: Registration
    revision: int
    registered_at: datetime
    updated_at: datetime
    heartbeat: StoredHeartbeat | None


def owner_of(descriptor: dict[str, Any]) -> str | None:
    """The owning team's name; else the member whose role is owner."""
    team = descriptor.get("team")
    if isinstance(team, dict):
        if team.get("name"):
            return str(team["name"])
        team = team.get("members")
    for member in team if isinstance(team, list) else []:
        if isinstance(member, dict) and member.get("role") == "owner" and member.get("username"):
            return str(member["username"])
    return None


def tags_of(descriptor: dict[str, Any]) -> list[str]:
    found = descriptor.get("tags") or []
    return sorted({str(tag) for tag in found if tag})


def _search_text(registration: Registration) -> str:
    """What ``q`` matches: names, owner, description, tags, ports and schema elements."""
    descriptor = registration.descriptor
    words = [
        registration.urn,
        registration.name,
        registration.domain,
        owner_of(descriptor) or "",
        *tags_of(descriptor),
        *(str(text) for text in (descriptor.get("description") or {}).values()),
        *(port.topic or port.url for port in registration.ports),
        *(str(port.get("name", "")) for port in descriptor.get("inputPorts") or []),
    ]
    for contract in registration.contracts:
        for obj in contract.get("schema") or []:
            words.append(str(obj.get("name", "")))
            words.extend(str(prop.get("name", "")) for prop in obj.get("properties") or [])
    return " ".join(words).lower()


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back: they were written in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class CatalogStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_all(self) -> None:
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def upsert(self, registration: Registration, now: datetime) -> Upsert:
        """Register or re-register; the same document again changes nothing."""
        document = registration.model_dump(mode="json")
        values = {
            "context": registration.context,
            "name": registration.name,
            "domain": registration.domain,
            "owner": owner_of(registration.descriptor),
            "search_text": _search_text(registration),
            "document": document,
        }
        async with self.engine.begin() as connection:
            current = (
                await connection.execute(
                    select(products.c.document, products.c.revision).where(
                        products.c.urn == registration.urn
                    )
                )
            ).first()
            if current is None:
                await connection.execute(
                    insert(products).values(
                        urn=registration.urn,
                        revision=1,
                        registered_at=now,
                        updated_at=now,
                        **values,
                    )
                )
                outcome = Upsert.CREATED
            elif current.document == document:
                return Upsert.UNCHANGED
            else:
                await connection.execute(
                    update(products)
                    .where(products.c.urn == registration.urn)
                    .values(revision=current.revision + 1, updated_at=now, **values)
                )
                await connection.execute(delete(tags).where(tags.c.urn == registration.urn))
                outcome = Upsert.UPDATED
            product_tags = tags_of(registration.descriptor)
            if product_tags:
                await connection.execute(
                    insert(tags), [{"urn": registration.urn, "tag": tag} for tag in product_tags]
                )
            return outcome

    async def record_heartbeat(self, urn: str, heartbeat: Heartbeat, now: datetime) -> bool:
        """Keep the newest heartbeat of a registered product; False if it is unknown."""
        values = {
            "status": heartbeat.status,
            "slis": heartbeat.slis,
            "observed_at": heartbeat.observed_at,
            "received_at": now,
        }
        async with self.engine.begin() as connection:
            known = await connection.scalar(select(func.count()).where(products.c.urn == urn))
            if not known:
                return False
            changed = await connection.execute(
                update(heartbeats).where(heartbeats.c.urn == urn).values(**values)
            )
            if changed.rowcount == 0:
                await connection.execute(insert(heartbeats).values(urn=urn, **values))
            return True

    async def remove(self, urn: str) -> bool:
        """Forget a product and its heartbeat; False if it was not registered."""
        async with self.engine.begin() as connection:
            await connection.execute(delete(heartbeats).where(heartbeats.c.urn == urn))
            removed = await connection.execute(delete(products).where(products.c.urn == urn))
        return bool(removed.rowcount)

    async def get(self, urn: str) -> StoredProduct | None:
        async with self.engine.connect() as connection:
            found = await self._load(connection, products.c.urn == urn)
        return found[0] if found else None

    async def search(
        self,
        *,
        text: str | None = None,
        domain: str | None = None,
        owner: str | None = None,
        tag: str | None = None,
    ) -> list[StoredProduct]:
        """Products matching every criterion given; ``text`` is a case-insensitive substring."""
        criteria: list[ColumnElement[bool]] = []
        if text:
            escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            criteria.append(products.c.search_text.like(f"%{escaped}%", escape="\\"))
        if domain:
            criteria.append(products.c.domain == domain)
        if owner:
            criteria.append(func.lower(products.c.owner) == owner.lower())
        if tag:
            criteria.append(products.c.urn.in_(select(tags.c.urn).where(tags.c.tag == tag)))
        async with self.engine.connect() as connection:
            return await self._load(connection, *criteria)

    async def all(self) -> list[StoredProduct]:
        async with self.engine.connect() as connection:
            return await self._load(connection)

    async def _load(self, connection: AsyncConnection, *criteria: Any) -> list[StoredProduct]:
        query = (
            select(products, heartbeats)
            .select_from(products.outerjoin(heartbeats, heartbeats.c.urn == products.c.urn))
            .where(*criteria)
            .order_by(products.c.urn)
        )
        rows: Sequence[Any] = (await connection.execute(query)).all()
        found = []
        for row in rows:
            beat = None
            if row.received_at is not None:
                beat = StoredHeartbeat(
                    Heartbeat(
                        status=row.status, slis=row.slis, observed_at=_aware(row.observed_at)
                    ),
                    _aware(row.received_at) or row.received_at,
                )
            found.append(
                StoredProduct(
                    Registration.model_validate(row.document),
                    row.revision,
                    _aware(row.registered_at) or row.registered_at,
                    _aware(row.updated_at) or row.updated_at,
                    beat,
                )
            )
        return found
