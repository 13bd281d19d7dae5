"""What the supply chain's product descriptors say about access and service levels.

The ODPS files in ``contexts/supply_chain/dataproduct/`` are the source of truth for
each product's read scope (the ``accessScope`` of its output ports) and its service
level objectives (``customProperties: serviceLevelObjectives``); the contracts they
point at describe the scope (their ``roles``). The API reads them at start-up through
the kernel's one reader (``shared_kernel.infrastructure.bitol``), so granting access
and judging SLIs follow the descriptors without a second copy in code. A product
without a descriptor file gets no scope of its own (the API then asks for
``supply_chain:products:read``) and the kernel's default objectives.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final

from contexts.supply_chain.application.analytics import PRODUCTS
from contexts.supply_chain.domain.events import CONTEXT
from shared_kernel.infrastructure import bitol
from shared_kernel.infrastructure.bitol import (
    DEFAULT_OBJECTIVES,
    ProductDescriptor,
    product_objectives,
    product_scopes,
    scope_descriptions,
)

__all__ = [
    "DATAPRODUCT_DIR",
    "DEFAULT_OBJECTIVES",
    "ProductDescriptor",
    "load_product_descriptors",
    "product_objectives",
    "product_scopes",
    "scope_descriptions",
]

DATAPRODUCT_DIR: Final = Path(__file__).resolve().parents[2] / "dataproduct"


def load_product_descriptors(
    directory: Path = DATAPRODUCT_DIR, products: Iterable[str] = PRODUCTS
) -> dict[str, ProductDescriptor]:
    """Each supply chain product's scope and objectives (defaults where missing)."""
    return bitol.load_product_descriptors(directory, CONTEXT, products)
