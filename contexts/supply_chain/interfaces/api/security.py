"""The supply chain's scopes: the kernel's access rule (``shared_kernel.interfaces.access``)
with the context's name, and what each operational scope lets a caller do."""

from __future__ import annotations

from typing import Final

from contexts.supply_chain.domain.events import CONTEXT
from shared_kernel.interfaces.access import ContextScopes

__all__ = ["SCOPES"]

SCOPES: Final = ContextScopes(
    CONTEXT,
    operations_description="Read the supply chain's operational resources (warehouses, "
    "SKUs, suppliers, inventory, purchase orders, shipments).",
    commands_description="Send commands to the supply chain: register, move stock, order, ship.",
)
