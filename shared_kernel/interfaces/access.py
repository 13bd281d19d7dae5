"""Who may call what on a context's API: the scope each route needs.

Every context follows the same rule, with its name in the scopes (``<context>`` is
e.g. ``supply_chain``):

- ``GET /api/v1/products/<product>[/...]``: the product's read scope, the
  ``accessScope`` of its output ports in ``dataproduct/<product>.odps.yaml``
  (``<context>:<product>:read``); ``<context>:products:read`` for a product
  without a descriptor.
- ``GET /slo``: any one of the product read scopes; it lists only the products the
  caller may read.
- ``GET`` on the operational resources under ``/api/v1``:
  ``<context>:operations:read``.
- ``POST``, ``PUT``, ``PATCH``, ``DELETE`` on them: ``<context>:operations:write``.
- ``/healthz``, ``/readyz``, ``/metrics``, ``/docs``, ``/openapi.json``: open.

The rule is applied per router, never per path string: :func:`router_dependencies`
gives each part of the API the dependencies that guard it, and :func:`secured_routers`
wraps each part in a router that includes it with them, ready for ``create_api``. A
route that fits no rule (a products route outside ``/api/v1/products/<product>``, an
operational method not listed) stops the app from being built: nothing is left open
by omission.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from fastapi import APIRouter, Depends
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from shared_kernel.interfaces.auth import AUTH_RESPONSES, Authenticator

__all__ = [
    "PRODUCTS_PATH",
    "READ_METHODS",
    "WRITE_METHODS",
    "ContextScopes",
    "product_of_path",
    "router_dependencies",
    "secured_routers",
]

PRODUCTS_PATH: Final = "/api/v1/products"

READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class ContextScopes:
    """The scopes of one context's API; ``descriptions`` document them in the OpenAPI
    document (what a token with the scope lets its holder do)."""

    context: str
    operations_description: str = "Read the context's operational resources."
    commands_description: str = "Send commands to the context."

    @property
    def operations_read(self) -> str:
        return f"{self.context}:operations:read"

    @property
    def operations_write(self) -> str:
        return f"{self.context}:operations:write"

    @property
    def products_read(self) -> str:
        """The read scope of a product whose ODPS file names none."""
        return f"{self.context}:products:read"

    def product_scope(self, product: str, product_scopes: Mapping[str, str]) -> str:
        return product_scopes.get(product, self.products_read)

    def descriptions(self) -> dict[str, str]:
        return {
            self.operations_read: self.operations_description,
            self.operations_write: self.commands_description,
            self.products_read: f"Read the {self.context} data products that declare no "
            "scope of their own.",
        }


Guarded = list[tuple[APIRouter, list[DependsParam]]]
PerProduct = Callable[[str], Sequence[DependsParam]]


def _nothing(product: str) -> Sequence[DependsParam]:
    return ()


def product_of_path(path: str) -> str | None:
    """``inventory-levels`` for ``/api/v1/products/inventory-levels/{warehouse}/{sku}``."""
    prefix = PRODUCTS_PATH + "/"
    if not path.startswith(prefix):
        return None
    return path[len(prefix) :].split("/", 1)[0] or None


def router_dependencies(
    auth: Authenticator,
    scopes_of: ContextScopes,
    *,
    operational: Sequence[APIRouter],
    products: APIRouter,
    slo: APIRouter | None = None,
    product_scopes: Mapping[str, str] | None = None,
    per_product: PerProduct = _nothing,
) -> Guarded:
    """Each part of the API with the dependencies to include it with.

    ``product_scopes`` maps a product to its read scope (``load_product_scopes`` reads
    them from the descriptors). ``per_product`` adds dependencies to a product's routes
    after the access check (the read meter of the product's SLIs), so only authorized
    reads are counted.
    """
    scopes = dict(product_scopes or {})
    guarded: Guarded = []
    for router in operational:
        reads, writes = _split_by_method(router)
        if reads:
            guarded.append(
                (_router(reads), [Depends(auth.require_scopes(scopes_of.operations_read))])
            )
        if writes:
            guarded.append(
                (_router(writes), [Depends(auth.require_scopes(scopes_of.operations_write))])
            )
    by_product: dict[str, list[BaseRoute]] = {}
    for route in products.routes:
        product = product_of_path(_path(route))
        if product is None or _methods(route) - READ_METHODS:
            raise ValueError(
                f"{_describe(route)} is not a read of {PRODUCTS_PATH}/<product>: "
                "give it an access rule"
            )
        by_product.setdefault(product, []).append(route)
    for product, routes in by_product.items():
        scope = scopes_of.product_scope(product, scopes)
        guarded.append(
            (_router(routes), [Depends(auth.require_scopes(scope)), *per_product(product)])
        )
    if slo is not None:
        readable = sorted(
            {scopes_of.product_scope(product, scopes) for product in by_product}
            or {scopes_of.products_read}
        )
        guarded.append((slo, [Depends(auth.require_any_scope(*readable))]))
    return guarded


def secured_routers(
    auth: Authenticator,
    scopes_of: ContextScopes,
    *,
    operational: Sequence[APIRouter],
    products: APIRouter,
    slo: APIRouter | None = None,
    product_scopes: Mapping[str, str] | None = None,
    per_product: PerProduct = _nothing,
) -> list[APIRouter]:
    """:func:`router_dependencies`, each part wrapped in a router that includes it with
    its dependencies (and documents 401 and 403), for ``create_api(routers=...)``."""
    wrapped = []
    for router, dependencies in router_dependencies(
        auth,
        scopes_of,
        operational=operational,
        products=products,
        slo=slo,
        product_scopes=product_scopes,
        per_product=per_product,
    ):
        wrapper = APIRouter()
        wrapper.include_router(
            router,
            dependencies=dependencies,
            responses=AUTH_RESPONSES if auth.enabled else None,
        )
        wrapped.append(wrapper)
    return wrapped


def _split_by_method(router: APIRouter) -> tuple[list[BaseRoute], list[BaseRoute]]:
    reads: list[BaseRoute] = []
    writes: list[BaseRoute] = []
    for route in router.routes:
        methods = _methods(route)
        if methods and methods <= READ_METHODS:
            reads.append(route)
        elif methods and methods <= READ_METHODS | WRITE_METHODS:
            writes.append(route)
        else:
            raise ValueError(f"{_describe(route)}: no access rule for its methods")
    return reads, writes


def _router(routes: list[BaseRoute]) -> APIRouter:
    return APIRouter(routes=list(routes))


def _methods(route: BaseRoute) -> frozenset[str]:
    if not isinstance(route, APIRoute):
        raise ValueError(f"{_describe(route)} is not an API route: give it an access rule")
    return frozenset(route.methods or ())


def _path(route: BaseRoute) -> str:
    return str(getattr(route, "path", ""))


def _describe(route: BaseRoute) -> str:
    methods = ",".join(sorted(getattr(route, "methods", None) or ()))
    return f"{methods or type(route).__name__} {_path(route)}".strip()
