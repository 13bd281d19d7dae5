"""Building blocks of the DTOs: amounts, codes, money and pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from contexts.supply_chain.application.queries.views import Page
from shared_kernel.domain import Money

T = TypeVar("T")

#: An amount of stock in the SKU's unit: up to 6 decimals (the database keeps 6).
Amount = Annotated[Decimal, Field(max_digits=18, decimal_places=6, examples=["25"])]
#: A warehouse or SKU code, e.g. ``LYS-1``; its format is checked by the domain.
Code = Annotated[str, Field(min_length=1, max_length=40, examples=["LYS-1"])]
#: Any other identifier (supplier, order, shipment, reservation, account).
Identifier = Annotated[str, Field(min_length=1, max_length=128, examples=["ACME"])]
Text = Annotated[str, Field(max_length=200)]
Unit = Annotated[str, Field(min_length=1, max_length=16, examples=["each"])]


class Input(BaseModel):
    """Base of request bodies: a misspelt field is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class MoneyIn(Input):
    amount: Annotated[Decimal, Field(max_digits=18, decimal_places=4, examples=["18.50"])]
    currency: Annotated[str, Field(min_length=3, max_length=3, examples=["EUR"])]

    def to_money(self) -> Money:
        return Money(self.amount, self.currency)


class MoneyOut(BaseModel):
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, money: Money) -> MoneyOut:
        return cls(amount=money.amount, currency=money.currency)


class PageOut(BaseModel, Generic[T]):
    """One page of a list: ``total`` counts every match, not only this page."""

    items: list[T]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, page: Page[Any], items: list[T]) -> PageOut[T]:
        return cls(items=items, total=page.total, limit=page.limit, offset=page.offset)
