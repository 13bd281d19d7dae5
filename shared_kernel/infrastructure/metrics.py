"""Prometheus metrics, one registry per composition root.

A registry per container (instead of the library's global one) lets tests and the
embedded runtime build several apps in one process without "duplicated timeseries".
"""

from __future__ import annotations

import weakref
from typing import ClassVar, Self

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


def new_registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in Prometheus text format, with its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


class MetricSet:
    """A group of series created once per registry and shared by whoever asks.

    Prometheus refuses a second series of one name in a registry, and several
    components (two relays, a relay and a test) may share one: ``for_registry`` hands
    every caller the same instance. Subclasses create their series in ``__init__``.
    """

    _instances: ClassVar[weakref.WeakKeyDictionary[CollectorRegistry, MetricSet]]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._instances = weakref.WeakKeyDictionary()

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    @classmethod
    def for_registry(cls, registry: CollectorRegistry) -> Self:
        metrics = cls._instances.get(registry)
        if metrics is None:
            metrics = cls._instances[registry] = cls(registry)
        assert isinstance(metrics, cls)
        return metrics
