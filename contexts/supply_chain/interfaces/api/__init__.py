"""The supply chain's operational REST API under ``/api/v1`` (FastAPI routers)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from contexts.supply_chain.interfaces.api import (
    catalog,
    inventory,
    purchasing,
    replenishment,
    shipping,
)

TAGS: list[dict[str, Any]] = [
    {"name": "warehouses", "description": "Where stock lives, and how much of it fits."},
    {
        "name": "skus",
        "description": "Products as the warehouses count them, with their replenishment policy.",
    },
    {"name": "suppliers", "description": "Who purchase orders go to."},
    {
        "name": "inventory",
        "description": "Stock per warehouse and SKU (on hand, reserved, available) and its moves.",
    },
    {
        "name": "purchase-orders",
        "description": "Buying from suppliers: draft, place, confirm, receive goods, cancel.",
    },
    {"name": "shipments", "description": "Deliveries to customers, tracked leg by leg."},
    {
        "name": "replenishment",
        "description": "Stock-out alerts turned into draft purchase orders.",
    },
]


def routers() -> list[APIRouter]:
    return [
        catalog.router,
        inventory.router,
        purchasing.router,
        shipping.router,
        replenishment.router,
    ]
