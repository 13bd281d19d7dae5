"""Errors of the analytics computations."""


class UnusableFact(ValueError):
    """An event that can never be applied as it is (the worker dead-letters it)."""
