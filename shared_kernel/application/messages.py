"""Commands and queries are plain frozen dataclasses; these bases only name the intent."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Command:
    """A request to change state; handled by exactly one handler."""


@dataclass(frozen=True, slots=True)
class Query:
    """A request to read state; never changes it."""
