"""What routes receive, as ``Annotated`` aliases resolved from ``app.state.container``.

The interfaces layer never imports the composition root: it asks the app's container
for providers by name (``message_bus``, ``catalog_reader``, ...). Resolving per app
rather than wiring module globals lets several apps (tests, one per database) live
in one process.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol, runtime_checkable

from fastapi import Depends, Request

from contexts.supply_chain.application.ports import SupplyChainUnitOfWork
from contexts.supply_chain.application.queries.ports import (
    CatalogReader,
    InventoryReader,
    PurchasingReader,
    ShippingReader,
)
from contexts.supply_chain.interfaces.api.conventions import expected_version
from contexts.supply_chain.interfaces.api.idempotency import CLAIM_STATE
from shared_kernel.application import MessageBus


@runtime_checkable
class AcceptsBeforeCommit(Protocol):
    def add_before_commit(self, hook: Callable[[Any], Awaitable[None]]) -> None: ...


def _provided(name: str) -> Callable[[Request], Any]:
    def provide(request: Request) -> Any:
        return getattr(request.app.state.container, name)()

    provide.__name__ = f"provide_{name}"
    return provide


def message_bus(request: Request) -> MessageBus[SupplyChainUnitOfWork]:
    """A bus with a fresh unit of work; carrying the request's idempotency claim, if any."""
    bus: MessageBus[SupplyChainUnitOfWork] = request.app.state.container.message_bus()
    claim = getattr(request.state, CLAIM_STATE, None)
    if claim is not None:
        if not isinstance(bus.uow, AcceptsBeforeCommit):
            raise RuntimeError("Idempotency-Key needs a unit of work with before-commit hooks")
        bus.uow.add_before_commit(claim)
    return bus


Bus = Annotated[MessageBus[SupplyChainUnitOfWork], Depends(message_bus)]
Catalog = Annotated[CatalogReader, Depends(_provided("catalog_reader"))]
Inventory = Annotated[InventoryReader, Depends(_provided("inventory_reader"))]
Purchasing = Annotated[PurchasingReader, Depends(_provided("purchasing_reader"))]
Shipping = Annotated[ShippingReader, Depends(_provided("shipping_reader"))]
IfMatch = Annotated[int | None, Depends(expected_version)]
