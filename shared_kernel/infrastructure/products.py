"""The read store of a context's data products, derived from their row definitions.

From each :class:`~shared_kernel.application.products.ProductSpec`: a table
``product_<name>`` (the row's fields, its key as primary key, plus
``materialized_at``), the Arrow schema of its daily Parquet snapshot, and the writes
and reads the stream worker and the REST port need. The store also holds the worker's
durable state (``streams.state``) and the SLI table, so that an event's state change
and its product rows commit in one transaction (ADR 0001).

Writes are idempotent upserts that never replace a row by one with an older
``as_of``. Every table is a projection the worker can rebuild from the event log, so
the schema is created (``create_all``), never migrated in place.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.types import TypeEngine

from shared_kernel.application.products import BITS, DIGITS, INDEX, ProductSpec
from shared_kernel.infrastructure import sli_store
from shared_kernel.infrastructure.database import create_engine, upsert_insert
from shared_kernel.infrastructure.persistence.types import ExactDecimal, UtcDateTime
from shared_kernel.infrastructure.streams.state import StreamState, stream_state_tables

__all__ = [
    "SNAPSHOT_FILE",
    "Materialized",
    "ProductReadStore",
    "arrow_schema",
    "product_table",
    "snapshot_path",
    "upsert_newer",
    "write_parquet",
]

R = TypeVar("R")
Clock = Callable[[], datetime]

SNAPSHOT_FILE = "part-00000.parquet"
#: Decimals in product rows: 12 integer digits, 6 decimals.
DECIMAL_PRECISION, DECIMAL_SCALE = 18, 6
_KEY_LENGTH = 128
_TEXT_LENGTH = 1000
_PAGE = 5000


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Materialized(Generic[R]):
    """A product row as stored: the row and when the worker wrote it."""

    row: R
    materialized_at: datetime


def _field_types(spec: ProductSpec[Any]) -> dict[str, tuple[type, bool]]:
    """``{field: (python type, nullable)}`` of the row, in declaration order."""
    hints = typing.get_type_hints(spec.row)
    found: dict[str, tuple[type, bool]] = {}
    for field in dataclasses.fields(spec.row):
        hint = hints[field.name]
        nullable = False
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
            if len(members) != 1:
                raise TypeError(f"{spec.row.__name__}.{field.name}: one type or None, please")
            hint, nullable = members[0], True
        if hint not in _SQL_TYPES:
            raise TypeError(
                f"{spec.row.__name__}.{field.name} is a {hint!r}; a product row field is one of "
                + ", ".join(sorted(t.__name__ for t in _SQL_TYPES))
            )
        found[field.name] = (hint, nullable)
    return found


_SQL_TYPES: frozenset[type] = frozenset({str, int, float, bool, Decimal, date, datetime})


def _digits(spec: ProductSpec[Any], name: str) -> tuple[int, int]:
    digits = spec.option(name, DIGITS)
    if digits is None:
        return DECIMAL_PRECISION, DECIMAL_SCALE
    precision, scale = digits
    return int(precision), int(scale)


def _sql_type(spec: ProductSpec[Any], name: str, kind: type, key: bool) -> TypeEngine[Any]:
    if kind is str:
        return String(_KEY_LENGTH if key else _TEXT_LENGTH)
    if kind is int:
        return Integer() if spec.option(name, BITS) == 32 else BigInteger()
    if kind is Decimal:
        return ExactDecimal(*_digits(spec, name))
    simple: dict[type, TypeEngine[Any]] = {
        float: Float(),
        bool: Boolean(),
        date: Date(),
        datetime: UtcDateTime(),
    }
    return simple[kind]


def _arrow_type(spec: ProductSpec[Any], name: str, kind: type) -> pa.DataType:
    if kind is int:
        return pa.int32() if spec.option(name, BITS) == 32 else pa.int64()
    if kind is Decimal:
        return pa.decimal128(*_digits(spec, name))
    simple: dict[type, pa.DataType] = {
        str: pa.string(),
        float: pa.float64(),
        bool: pa.bool_(),
        date: pa.date32(),
        datetime: _TIMESTAMP,
    }
    return simple[kind]


_TIMESTAMP = pa.timestamp("us", tz="UTC")


def product_table(spec: ProductSpec[Any], metadata: MetaData) -> Table:
    """The product's table on ``metadata``: its fields, keyed by the row's key, with an
    index on each field marked ``index``."""
    key = set(spec.key)
    name = f"product_{spec.name.replace('-', '_')}"
    columns: list[Any] = [
        Column(
            field,
            _sql_type(spec, field, kind, field in key),
            primary_key=field in key,
            nullable=nullable,
        )
        for field, (kind, nullable) in _field_types(spec).items()
    ]
    columns.append(Column("materialized_at", UtcDateTime(), nullable=False))
    columns += [
        Index(f"ix_{name}_{field}", field)
        for field in _field_types(spec)
        if spec.option(field, INDEX)
    ]
    return Table(name, metadata, *columns)


def arrow_schema(spec: ProductSpec[Any]) -> pa.Schema:
    """The schema of the product's Parquet snapshot: its fields and ``materialized_at``."""
    fields = [
        pa.field(
            name,
            _arrow_type(spec, name, kind),
            nullable=nullable,
            metadata={"description": spec.describe(name)},
        )
        for name, (kind, nullable) in _field_types(spec).items()
    ]
    fields.append(
        pa.field(
            "materialized_at",
            _TIMESTAMP,
            nullable=False,
            metadata={"description": "When the stream worker wrote the row."},
        )
    )
    return pa.schema(fields)


def snapshot_path(root: str | Path, product: str, day: date) -> Path:
    """The file of ``product``'s snapshot of ``day`` (Hive-style partition folders)."""
    return Path(root) / product / f"date={day.isoformat()}" / SNAPSHOT_FILE


class ProductReadStore:
    """The products of ``specs`` over ``url_or_engine`` (SQLite or PostgreSQL).

    An engine built here is disposed by :meth:`dispose`; one passed in belongs to the
    caller.
    """

    def __init__(
        self,
        url_or_engine: str | AsyncEngine,
        specs: Iterable[ProductSpec[Any]],
        *,
        clock: Clock = _utc_now,
    ) -> None:
        if isinstance(url_or_engine, str):
            self.engine = create_engine(url_or_engine)
            self._owns_engine = True
        else:
            self.engine = url_or_engine
            self._owns_engine = False
        self._clock = clock
        self.metadata = MetaData()
        self._state_tables = stream_state_tables(self.metadata)
        self.specs = {spec.name: spec for spec in specs}
        self._tables = {
            name: product_table(spec, self.metadata) for name, spec in self.specs.items()
        }
        self._by_row = {spec.row: spec for spec in self.specs.values()}

    async def create_all(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(self.metadata.create_all)
            await conn.run_sync(sli_store.metadata.create_all)

    async def drop_all(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(self.metadata.drop_all)
            await conn.run_sync(sli_store.metadata.drop_all)

    async def dispose(self) -> None:
        if self._owns_engine:
            await self.engine.dispose()

    def stream_state(self, consumer: str) -> StreamState:
        """The worker's durable state in this database (``streams.state``)."""
        return StreamState(self.engine, self._state_tables, consumer)

    def product_of(self, row: object) -> str:
        return self._by_row[type(row)].name

    async def write_in(self, conn: AsyncConnection, rows: Sequence[object]) -> None:
        """Upsert ``rows`` (of any of the products) inside the caller's transaction; a
        row older (``as_of``) than the stored one leaves the stored one."""
        now = self._clock()
        by_product: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
        for row in rows:
            spec = self._by_row[type(row)]
            values = {f.name: getattr(row, f.name) for f in dataclasses.fields(spec.row)}
            values["materialized_at"] = now
            by_product.setdefault(spec.name, {})[spec.key_of(row)] = values
        for name, keyed in by_product.items():
            await upsert_newer(conn, self._tables[name], list(keyed.values()))

    async def page(
        self, product: str, *, limit: int = 500, offset: int = 0
    ) -> list[Materialized[Any]]:
        """Rows of ``product`` in key order."""
        table = self._tables[product]
        query = select(table).order_by(*table.primary_key.columns).limit(limit).offset(offset)
        async with self.engine.connect() as conn:
            found = (await conn.execute(query)).mappings().all()
        return [self._materialized(product, row) for row in found]

    async def get(self, product: str, key: Sequence[Any]) -> Materialized[Any] | None:
        table = self._tables[product]
        names = self.specs[product].key
        query = select(table).where(*(table.c[n] == v for n, v in zip(names, key, strict=True)))
        async with self.engine.connect() as conn:
            found = (await conn.execute(query)).mappings().first()
        return None if found is None else self._materialized(product, found)

    async def count(self, product: str) -> int:
        table = self._tables[product]
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())

    def _materialized(self, product: str, found: RowMapping) -> Materialized[Any]:
        spec = self.specs[product]
        names = [f.name for f in dataclasses.fields(spec.row)]
        return Materialized(spec.row(**{n: found[n] for n in names}), found["materialized_at"])

    async def write_snapshots(self, root: str | Path, day: date) -> dict[str, Path]:
        """Every product's current rows as its snapshot of ``day``; the files written."""
        written: dict[str, Path] = {}
        for name, spec in self.specs.items():
            records: list[dict[str, Any]] = []
            while True:
                batch = await self.page(name, limit=_PAGE, offset=len(records))
                records.extend(
                    {**dataclasses.asdict(m.row), "materialized_at": m.materialized_at}
                    for m in batch
                )
                if len(batch) < _PAGE:
                    break
            path = snapshot_path(root, name, day)
            table = pa.Table.from_pylist(records, schema=arrow_schema(spec))
            await asyncio.to_thread(write_parquet, path, table)
            written[name] = path
        return written


def write_parquet(path: Path, table: pa.Table) -> None:
    """Write beside, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, temporary)
    os.replace(temporary, path)


async def upsert_newer(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """``INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE stored.as_of <= new.as_of``: a
    row is never replaced by one computed from older facts."""
    key = [column.name for column in table.primary_key]
    insert = upsert_insert(conn.dialect.name, table)
    statement = insert.on_conflict_do_update(
        index_elements=key,
        set_={c.name: insert.excluded[c.name] for c in table.columns if c.name not in key},
        where=table.c.as_of <= insert.excluded.as_of,
    )
    await conn.execute(statement, rows)
