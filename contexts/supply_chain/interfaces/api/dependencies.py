"""What routes receive, as ``Annotated`` aliases resolved from ``app.state.container``.

The interfaces layer never imports the composition root: it asks the app's container
for providers by name (``shared_kernel.interfaces.dependencies.provided``), the one
style of every router of every context.
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
from shared_kernel.interfaces.dependencies import provided


@runtime_checkable
class AcceptsBeforeCommit(Protocol):
    def add_before_commit(self, hook: Callable[[Any], Awaitable[None]]) -> None: ...


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
Catalog = Annotated[CatalogReader, Depends(provided("catalog_reader"))]
Inventory = Annotated[InventoryReader, Depends(provided("inventory_reader"))]
Purchasing = Annotated[PurchasingReader, Depends(provided("purchasing_reader"))]
Shipping = Annotated[ShippingReader, Depends(provided("shipping_reader"))]
IfMatch = Annotated[int | None, Depends(expected_version)]
