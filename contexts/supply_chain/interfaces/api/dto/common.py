"""Building blocks of the DTOs: amounts, codes, money and pages."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

import pycountry
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from contexts.supply_chain.application.queries.views import Page
from shared_kernel.domain import Money

T = TypeVar("T")

#: An amount of stock in the SKU's unit: up to 6 decimals (the database keeps 6).
Amount = Annotated[Decimal, Field(max_digits=18, decimal_places=6, examples=["25"])]
#: A warehouse or SKU code, e.g. ``LYS-1``; its format is checked by the domain.
Code = Annotated[str, Field(min_length=1, max_length=40, examples=["LYS-1"])]
#: Any other identifier (supplier, order, shipment, reservation, account).
Identifier = Annotated[str, Field(min_length=1, max_length=128, examples=["ACME"])]


def _iso_text(value: Any) -> Any:
    """Days and instants arrive as ISO 8601 text: pydantic would otherwise read the
    number 0 as 1970-01-01, accepting what the document declares a string."""
    if isinstance(value, int | float):
        raise ValueError("must be an ISO 8601 string, not a number")
    return value


Day = Annotated[date, BeforeValidator(_iso_text)]
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_text)]
#: Free text the domain wants non-blank: at least one character that is not a space.
Text = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
Unit = Annotated[str, Field(min_length=1, max_length=16, examples=["each"])]


def _iso_currency(code: str) -> str:
    """A code of ISO 4217's list (pycountry's data), not only three letters."""
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return code


def _iso_country(code: str) -> str:
    """A code of ISO 3166-1's list (pycountry's data), not only two letters."""
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


Currency = Annotated[
    str,
    Field(min_length=3, max_length=3, description="ISO 4217 code.", examples=["EUR"]),
    AfterValidator(_iso_currency),
]
Country = Annotated[
    str,
    Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2 code.", examples=["DE"]),
    AfterValidator(_iso_country),
]


class Input(BaseModel):
    """Base of request bodies: a misspelt field is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class MoneyIn(Input):
    amount: Annotated[Decimal, Field(max_digits=18, decimal_places=4, examples=["18.50"])]
    currency: Currency

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
