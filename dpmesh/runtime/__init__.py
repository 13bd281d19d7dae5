"""The embedded runtime: what the one-command demo and the tests run without Docker."""

from dpmesh.runtime.broker import BrokerUnavailable, EmbeddedBroker, broker_supports_idempotence

__all__ = ["BrokerUnavailable", "EmbeddedBroker", "broker_supports_idempotence"]
