"""REST output port of a context's data products, derived from their row definitions.

For each :class:`~shared_kernel.application.products.ProductSpec`:

- ``GET /api/v1/products/<product>``: a page of rows in key order;
- ``GET /api/v1/products/<product>/<key>...``: one row by its key (404 as a problem).

The REST model is the row's fields, described as the row describes them, plus the
freshness every row carries: ``as_of`` (event time of the newest fact behind it),
``materialized_at`` (when the worker wrote it) and ``freshness_ms`` (``now - as_of``
when the request is served). A page also carries the newest ``as_of`` and
``materialized_at`` of its items.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, create_model

from shared_kernel.application.products import ProductSpec
from shared_kernel.domain import NotFound
from shared_kernel.interfaces.problems import PROBLEM_RESPONSES

__all__ = [
    "DEFAULT_PAGE",
    "MAX_OFFSET",
    "MAX_PAGE",
    "Freshness",
    "Limit",
    "Offset",
    "ProductReader",
    "page_model",
    "products_router",
    "row_model",
]

DEFAULT_PAGE = 500
MAX_PAGE = 5000
#: The largest offset a list accepts (a 32-bit count; SQL engines take no more).
MAX_OFFSET = 2**31 - 1

Clock = Callable[[], datetime]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many rows to skip.")]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Stored(Protocol):
    @property
    def row(self) -> Any: ...

    @property
    def materialized_at(self) -> datetime: ...


class ProductReader(Protocol):
    """The read store as the REST port needs it."""

    async def page(self, product: str, *, limit: int, offset: int) -> list[Any]: ...

    async def get(self, product: str, key: typing.Sequence[Any]) -> Any | None: ...


ReaderDependency = Callable[..., ProductReader | Awaitable[ProductReader]]


class Freshness(BaseModel):
    """The freshness every product row carries on the REST port."""

    as_of: datetime = Field(description="Event time of the newest fact applied to the row.")
    materialized_at: datetime = Field(description="When the stream worker wrote the row.")
    freshness_ms: int = Field(description="Milliseconds from `as_of` to this response.")


def _model_name(spec: ProductSpec[Any], suffix: str) -> str:
    return "".join(part.capitalize() for part in spec.name.split("-")) + suffix


def row_model(spec: ProductSpec[Any]) -> type[BaseModel]:
    """The REST model of one row of ``spec``: its fields and the freshness fields."""
    hints = typing.get_type_hints(spec.row)
    fields: dict[str, Any] = {
        field.name: (hints[field.name], Field(description=spec.describe(field.name)))
        for field in dataclasses.fields(spec.row)
        if field.name != "as_of"
    }
    model: type[BaseModel] = create_model(f"{spec.row.__name__}Out", __base__=Freshness, **fields)
    return model


def page_model(spec: ProductSpec[Any], item: type[BaseModel]) -> type[BaseModel]:
    """The REST model of a page of ``spec``'s rows."""
    model: type[BaseModel] = create_model(
        _model_name(spec, "Page"),
        product=(str, ...),
        count=(int, ...),
        items=(list[item], ...),  # type: ignore[valid-type]
        as_of=(datetime | None, Field(description="The newest as_of of the items.")),
        materialized_at=(datetime | None, Field(description="The newest materialized_at.")),
        freshness_ms=(int | None, Field(description="Milliseconds from the newest as_of.")),
    )
    return model


def products_router(
    specs: Iterable[ProductSpec[Any]],
    reader_dependency: ReaderDependency,
    *,
    clock: Clock = _utc_now,
) -> APIRouter:
    """The products' routes, reading through ``reader_dependency`` (a FastAPI
    dependency returning the read store, e.g. ``lambda: read_store``)."""
    router = APIRouter(prefix="/api/v1/products", tags=["data products"])
    for spec in specs:
        _add_routes(router, spec, Depends(reader_dependency), clock)
    return router


def _add_routes(router: APIRouter, spec: ProductSpec[Any], read: Any, clock: Clock) -> None:
    item = row_model(spec)
    page = page_model(spec, item)

    async def list_rows(
        reader: ProductReader = read, limit: Limit = DEFAULT_PAGE, offset: Offset = 0
    ) -> dict[str, Any]:
        rows = await reader.page(spec.name, limit=limit, offset=offset)
        now = clock()
        newest = max((m.row.as_of for m in rows), default=None)
        return {
            "product": spec.name,
            "count": len(rows),
            "items": [_render(m, now) for m in rows],
            "as_of": newest,
            "materialized_at": max((m.materialized_at for m in rows), default=None),
            "freshness_ms": None if newest is None else _ms(now, newest),
        }

    async def one_row(request_key: list[str], reader: ProductReader) -> dict[str, Any]:
        found = await reader.get(spec.name, request_key)
        if found is None:
            raise NotFound(spec.name, ":".join(request_key))
        return _render(found, clock())

    router.add_api_route(
        f"/{spec.name}",
        list_rows,
        methods=["GET"],
        response_model=page,
        summary=spec.description,
        name=f"{spec.name}-list",
    )
    # One path parameter per key field; FastAPI reads the endpoint's signature, so the
    # parameters are declared on a function built for this key.
    key = spec.key
    hints = typing.get_type_hints(spec.row)

    async def get_row(**params: Any) -> dict[str, Any]:
        reader = params.pop("reader")
        return await one_row([params[name] for name in key], reader)

    get_row.__signature__ = _signature(key, hints, read)  # type: ignore[attr-defined]
    router.add_api_route(
        f"/{spec.name}/" + "/".join(f"{{{name}}}" for name in key),
        get_row,
        methods=["GET"],
        response_model=item,
        responses=PROBLEM_RESPONSES,
        summary=f"One row of {spec.name}",
        name=f"{spec.name}-get",
    )


def _signature(key: tuple[str, ...], hints: dict[str, Any], read: Any) -> Any:

    parameters = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=hints[name])
        for name in key
    ]
    parameters.append(inspect.Parameter("reader", inspect.Parameter.KEYWORD_ONLY, default=read))
    return inspect.Signature(parameters)


def _render(stored: Stored, now: datetime) -> dict[str, Any]:
    row = stored.row
    return {
        **{f.name: getattr(row, f.name) for f in dataclasses.fields(row)},
        "materialized_at": stored.materialized_at,
        "freshness_ms": _ms(now, row.as_of),
    }


def _ms(now: datetime, then: datetime) -> int:
    return max(0, int((now - then).total_seconds() * 1000))
