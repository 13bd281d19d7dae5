"""Domain errors: what went wrong in the language of the business.

The interfaces layer maps each class to one HTTP status (see
``shared_kernel.interfaces.problems``), so a handler raises the meaning, never a code.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    title: str = "Domain error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """The addressed aggregate does not exist."""

    title = "Not found"

    def __init__(self, kind: str, identifier: object) -> None:
        super().__init__(f"{kind} {identifier!s} does not exist")
        self.kind = kind
        self.identifier = str(identifier)


class Conflict(DomainError):
    """The request contradicts the current state (e.g. a duplicate natural key)."""

    title = "Conflict"


class ConcurrencyConflict(Conflict):
    """Someone else changed the aggregate since the caller read it.

    Raised on optimistic-concurrency failures: an ``If-Match`` version that is no
    longer current, or a stale write detected at commit.
    """

    title = "Concurrent modification"

    def __init__(
        self, kind: str, identifier: object, expected: int | None, actual: int | None
    ) -> None:
        detail = f"{kind} {identifier!s} was modified concurrently"
        if expected is not None and actual is not None:
            detail += f" (expected version {expected}, current version {actual})"
        super().__init__(detail)
        self.kind = kind
        self.identifier = str(identifier)
        self.expected = expected
        self.actual = actual


class BusinessRuleViolation(DomainError):
    """A command is well-formed but a business rule forbids it in the current state.

    ``rule`` is a stable machine-readable name (e.g. ``"insufficient_stock"``) so that
    clients can react without parsing ``detail``.
    """

    title = "Business rule violated"

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule


class InvalidValue(DomainError, ValueError):
    """A value object refused its input; ``field`` names the offending attribute."""

    title = "Invalid value"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.reason = detail
