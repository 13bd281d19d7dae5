"""Use-case plumbing shared by contexts: unit of work port, handler types, message bus."""

from shared_kernel.application.messagebus import MessageBus
from shared_kernel.application.messages import Command, Query
from shared_kernel.application.unit_of_work import UnitOfWork

__all__ = ["Command", "MessageBus", "Query", "UnitOfWork"]
