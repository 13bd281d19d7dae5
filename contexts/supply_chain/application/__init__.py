"""Use cases of the supply chain: commands, their handlers, queries and ports."""

from contexts.supply_chain.application.handlers import COMMAND_HANDLERS, command_handlers
from contexts.supply_chain.application.ports import (
    SYSTEM_CLOCK,
    Clock,
    SupplyChainUnitOfWork,
    SystemClock,
)
from contexts.supply_chain.application.results import AggregateRef, ReplenishmentOutcome

__all__ = [
    "COMMAND_HANDLERS",
    "SYSTEM_CLOCK",
    "AggregateRef",
    "Clock",
    "ReplenishmentOutcome",
    "SupplyChainUnitOfWork",
    "SystemClock",
    "command_handlers",
]
