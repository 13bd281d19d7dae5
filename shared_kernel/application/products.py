"""A data product's row, defined once: a frozen dataclass with described fields.

The row class is the one definition of a product's shape. The kernel derives from it
the read store's table and the snapshot's Arrow schema
(``shared_kernel.infrastructure.products``) and the REST model
(``shared_kernel.interfaces.products``); the product's ODCS contracts are generated
from those and compared in CI (``dpmesh contracts products check``). A field added
to the row therefore reaches every port, and a port cannot drift from the others.

Field types a row may use: ``str``, ``int``, ``float``, ``bool``, ``Decimal``,
``date``, ``datetime`` (aware, UTC), each optionally ``| None``. Every row has an
``as_of: datetime``, the event time of the newest fact behind it. A field may say
more about how it is stored: ``digits=(precision, scale)`` for a decimal (default
18 digits, 6 of them decimals), ``bits=32`` for a small integer (default 64), and
``index=True`` for a column readers filter on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["BITS", "DIGITS", "INDEX", "KEY", "ProductSpec", "described"]

R = TypeVar("R")

#: Metadata of a row field: part of the key; decimal digits; integer bits; indexed.
KEY, DIGITS, BITS, INDEX = "key", "digits", "bits", "index"


def described(
    description: str,
    *,
    key: bool = False,
    digits: tuple[int, int] | None = None,
    bits: int | None = None,
    index: bool = False,
) -> Any:
    """A row field with its description (in every port's schema); ``key`` marks the
    fields that identify a row (its upsert key and its REST path); the rest says how it
    is stored (module docstring)."""
    if bits not in (None, 32, 64):
        raise ValueError("bits is 32 or 64")
    return dataclasses.field(
        metadata={"description": description, KEY: key, DIGITS: digits, BITS: bits, INDEX: index}
    )


@dataclass(frozen=True, slots=True)
class ProductSpec(Generic[R]):
    """One data product: its name (the REST path segment and snapshot folder), its row
    class and what it answers."""

    name: str
    row: type[R]
    description: str

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.row):
            raise TypeError(f"{self.row.__name__} is not a dataclass")
        names = {f.name for f in dataclasses.fields(self.row)}
        if "as_of" not in names:
            raise TypeError(f"{self.row.__name__} has no as_of field")
        if not self.key:
            raise TypeError(f"{self.row.__name__} marks no field as its key")

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self.row) if f.metadata.get(KEY))  # type: ignore[arg-type]

    def describe(self, name: str) -> str:
        return str(self.option(name, "description") or "")

    def option(self, name: str, option: str) -> Any:
        """What field ``name`` says of ``option`` (:data:`DIGITS`, ...); None if nothing."""
        for found in dataclasses.fields(self.row):  # type: ignore[arg-type]
            if found.name == name:
                return found.metadata.get(option)
        raise KeyError(name)

    def key_of(self, row: R) -> tuple[Any, ...]:
        return tuple(getattr(row, name) for name in self.key)
