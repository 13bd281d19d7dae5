"""Alembic environment of the supply chain (the kernel's ``run_environment``)."""

from contexts.supply_chain.infrastructure.persistence.orm import metadata
from contexts.supply_chain.infrastructure.settings import SupplyChainSettings
from shared_kernel.infrastructure.persistence.migrations import run_environment

run_environment(metadata, default_url=lambda: SupplyChainSettings().database_url)
