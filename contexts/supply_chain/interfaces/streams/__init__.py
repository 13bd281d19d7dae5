"""The supply chain's stream processors (faust): its analytical data products."""

from contexts.supply_chain.interfaces.streams.analytics import (
    ALERT_CLEARED,
    ALERT_RAISED,
    AnalyticsStreams,
    AnalyticsTopics,
    alert_payload,
    build_analytics,
)

__all__ = [
    "ALERT_CLEARED",
    "ALERT_RAISED",
    "AnalyticsStreams",
    "AnalyticsTopics",
    "alert_payload",
    "build_analytics",
]
