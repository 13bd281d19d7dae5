"""Clients of external services (httpx). They fetch; ``infrastructure.acl`` translates."""

from contexts.supply_chain.infrastructure.external_services.carrier_client import (
    CarrierClient,
    CarrierRequestRejected,
    CarrierSettings,
    CarrierUnavailable,
    MalformedTrackingPayload,
    RetryPolicy,
)

__all__ = [
    "CarrierClient",
    "CarrierRequestRejected",
    "CarrierSettings",
    "CarrierUnavailable",
    "MalformedTrackingPayload",
    "RetryPolicy",
]
