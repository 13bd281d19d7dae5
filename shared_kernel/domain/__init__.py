"""Building blocks every bounded context's domain model is made of.

Standard library only: the domain must stay readable and testable without any
framework, which import-linter enforces.
"""

from shared_kernel.domain.entity import AggregateRoot, Entity
from shared_kernel.domain.errors import (
    BusinessRuleViolation,
    ConcurrencyConflict,
    Conflict,
    DomainError,
    InvalidValue,
    NotFound,
)
from shared_kernel.domain.events import DomainEvent
from shared_kernel.domain.ids import EntityId, Urn
from shared_kernel.domain.values import DateRange, Money, Percentage, Quantity, ValueObject

__all__ = [
    "AggregateRoot",
    "BusinessRuleViolation",
    "ConcurrencyConflict",
    "Conflict",
    "DateRange",
    "DomainError",
    "DomainEvent",
    "Entity",
    "EntityId",
    "InvalidValue",
    "Money",
    "NotFound",
    "Percentage",
    "Quantity",
    "Urn",
    "ValueObject",
]
