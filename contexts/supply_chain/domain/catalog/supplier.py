"""Suppliers: who purchase orders go to.

How well a supplier performs (on-time rate, quality score) is not stored here: it is
an analytical data product computed from ``GoodsReceived`` events.
"""

from __future__ import annotations

import re
from datetime import datetime

from contexts.supply_chain.domain.catalog.events import SupplierRegistered
from contexts.supply_chain.domain.ids import SupplierId
from contexts.supply_chain.domain.values import required_text
from shared_kernel.domain import AggregateRoot, InvalidValue

_COUNTRY = re.compile(r"^[A-Z]{2}$")


class Supplier(AggregateRoot[SupplierId]):
    name: str
    country: str

    def __init__(self, id: SupplierId, name: str, country: str, version: int = 0) -> None:
        super().__init__(id, version)
        self.name = required_text("name", name)
        if not isinstance(country, str) or not _COUNTRY.fullmatch(country):
            raise InvalidValue("country", f"{country!r} is not an ISO 3166-1 alpha-2 code")
        self.country = country

    @classmethod
    def register(cls, id: SupplierId, name: str, country: str, *, at: datetime) -> Supplier:
        supplier = cls(id, name, country)
        supplier._record(
            SupplierRegistered(
                occurred_at=at, supplier=str(id), name=supplier.name, country=country
            )
        )
        return supplier
