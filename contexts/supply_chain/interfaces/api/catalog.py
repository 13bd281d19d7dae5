"""Reference data: register, list and read warehouses, SKUs and suppliers."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from contexts.supply_chain.application.queries.handlers import (
    get_sku,
    get_supplier,
    get_warehouse,
)
from contexts.supply_chain.application.queries.messages import (
    GetSku,
    GetSupplier,
    GetWarehouse,
    ListSkus,
    ListSuppliers,
    ListWarehouses,
)
from contexts.supply_chain.interfaces.api.conventions import API_PREFIX, created, problems, tag
from contexts.supply_chain.interfaces.api.dependencies import Bus, Catalog
from contexts.supply_chain.interfaces.api.dto.catalog import (
    RegisterSkuIn,
    RegisterSupplierIn,
    RegisterWarehouseIn,
    SkuOut,
    SupplierOut,
    WarehouseOut,
)
from contexts.supply_chain.interfaces.api.dto.common import PageOut
from contexts.supply_chain.interfaces.api.idempotency import IdempotentRoute
from contexts.supply_chain.interfaces.api.paging import Limit, Offset

router = APIRouter(prefix=API_PREFIX, route_class=IdempotentRoute, responses=problems(422))


@router.post(
    "/warehouses",
    tags=["warehouses"],
    status_code=201,
    summary="Register a warehouse",
    responses=problems(409, 422),
)
async def register_warehouse(
    body: RegisterWarehouseIn, bus: Bus, catalog: Catalog, request: Request, response: Response
) -> WarehouseOut:
    """A stocking location with its capacity; a code is registered once (409 after)."""
    ref = await bus.handle(body.to_command())
    view = await get_warehouse(GetWarehouse(code=ref.id), catalog)
    created(response, request, "read_warehouse", view.version, code=view.code)
    return WarehouseOut.of(view)


@router.get("/warehouses", tags=["warehouses"], summary="List warehouses, by code")
async def list_warehouses(
    catalog: Catalog, limit: Limit = 50, offset: Offset = 0
) -> PageOut[WarehouseOut]:
    page = await catalog.list_warehouses(ListWarehouses(limit=limit, offset=offset))
    return PageOut.of(page, [WarehouseOut.of(view) for view in page.items])


@router.get(
    "/warehouses/{code}", tags=["warehouses"], summary="Read a warehouse", responses=problems(404)
)
async def read_warehouse(code: str, catalog: Catalog, response: Response) -> WarehouseOut:
    view = await get_warehouse(GetWarehouse(code=code), catalog)
    tag(response, view.version)
    return WarehouseOut.of(view)


@router.post(
    "/skus",
    tags=["skus"],
    status_code=201,
    summary="Register a SKU",
    responses=problems(404, 409, 422),
)
async def register_sku(
    body: RegisterSkuIn, bus: Bus, catalog: Catalog, request: Request, response: Response
) -> SkuOut:
    """A product as the warehouse counts it, with its replenishment policy. The
    preferred supplier, when given, must exist (404 otherwise)."""
    ref = await bus.handle(body.to_command())
    view = await get_sku(GetSku(code=ref.id), catalog)
    created(response, request, "read_sku", view.version, code=view.code)
    return SkuOut.of(view)


@router.get("/skus", tags=["skus"], summary="List SKUs, by code")
async def list_skus(catalog: Catalog, limit: Limit = 50, offset: Offset = 0) -> PageOut[SkuOut]:
    page = await catalog.list_skus(ListSkus(limit=limit, offset=offset))
    return PageOut.of(page, [SkuOut.of(view) for view in page.items])


@router.get("/skus/{code}", tags=["skus"], summary="Read a SKU", responses=problems(404))
async def read_sku(code: str, catalog: Catalog, response: Response) -> SkuOut:
    view = await get_sku(GetSku(code=code), catalog)
    tag(response, view.version)
    return SkuOut.of(view)


@router.post(
    "/suppliers",
    tags=["suppliers"],
    status_code=201,
    summary="Register a supplier",
    responses=problems(409, 422),
)
async def register_supplier(
    body: RegisterSupplierIn, bus: Bus, catalog: Catalog, request: Request, response: Response
) -> SupplierOut:
    ref = await bus.handle(body.to_command())
    view = await get_supplier(GetSupplier(id=ref.id), catalog)
    created(response, request, "read_supplier", view.version, supplier_id=view.id)
    return SupplierOut.of(view)


@router.get("/suppliers", tags=["suppliers"], summary="List suppliers, by id")
async def list_suppliers(
    catalog: Catalog, limit: Limit = 50, offset: Offset = 0
) -> PageOut[SupplierOut]:
    page = await catalog.list_suppliers(ListSuppliers(limit=limit, offset=offset))
    return PageOut.of(page, [SupplierOut.of(view) for view in page.items])


@router.get(
    "/suppliers/{supplier_id}",
    tags=["suppliers"],
    summary="Read a supplier",
    responses=problems(404),
)
async def read_supplier(supplier_id: str, catalog: Catalog, response: Response) -> SupplierOut:
    view = await get_supplier(GetSupplier(id=supplier_id), catalog)
    tag(response, view.version)
    return SupplierOut.of(view)
