"""Alert life cycle: raised when a condition starts to hold, cleared when it stops.

A subject (an inventory item, a shipment) keeps at most one active alert of a type.
Its computation state remembers that alert as an :class:`AlertState`;
:func:`track` turns "does the condition hold now, and how badly" into the next state
and, when something changed, the product row to write (and to publish, for a raise
or a clear).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from contexts.supply_chain.application.analytics._codec import moment, to_moment
from contexts.supply_chain.application.analytics.products import (
    Alert,
    AlertType,
    DetailValue,
    Severity,
)

#: Namespace of alert ids and of the ids of published alert events (UUID version 5).
ALERT_NAMESPACE = uuid.UUID("6f1d0c52-4f0e-5c7a-9a43-2b1c8d5e7a10")


def alert_id(type: AlertType, subject: str, raised_at: datetime) -> str:
    """Stable id of an alert occurrence: the same facts always give the same id."""
    return str(uuid.uuid5(ALERT_NAMESPACE, f"{type.value}|{subject}|{moment(raised_at)}"))


class Transition(StrEnum):
    RAISED = "raised"
    UPDATED = "updated"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class AlertChange:
    """What happened to an alert, and the alert row as it now stands."""

    transition: Transition
    alert: Alert

    @property
    def published(self) -> bool:
        """Raises and clears go to the alerts topic; updates only refresh the row."""
        return self.transition is not Transition.UPDATED

    def event_id(self) -> str:
        """CloudEvents id of the published change; stable, so redeliveries dedupe."""
        return str(uuid.uuid5(ALERT_NAMESPACE, f"{self.alert.alert_id}|{self.transition.value}"))


@dataclass(frozen=True, slots=True)
class AlertState:
    """The active alert a subject's state remembers."""

    alert_id: str
    severity: Severity
    raised_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "severity": self.severity.value,
            "raised_at": moment(self.raised_at),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> AlertState | None:
        if data is None:
            return None
        return cls(
            alert_id=str(data["alert_id"]),
            severity=Severity(data["severity"]),
            raised_at=to_moment(data["raised_at"]),
        )


def track(
    type: AlertType,
    subject: str,
    current: AlertState | None,
    severity: Severity | None,
    details: Mapping[str, DetailValue],
    at: datetime,
) -> tuple[AlertState | None, AlertChange | None]:
    """The next alert state of ``subject`` and the change to write, if any.

    ``severity`` is None when the condition does not hold at ``at``. A condition that
    keeps holding updates the active alert (severity and details), it never raises a
    second one; a condition that stops clears it at ``at``.
    """
    if severity is not None:
        if current is None:
            state = AlertState(alert_id(type, subject, at), severity, at)
            transition = Transition.RAISED
        else:
            state = AlertState(current.alert_id, severity, current.raised_at)
            transition = Transition.UPDATED
        alert = Alert(
            alert_id=state.alert_id,
            type=type,
            subject=subject,
            severity=severity,
            raised_at=state.raised_at,
            cleared_at=None,
            details=dict(details),
            as_of=at,
        )
        return state, AlertChange(transition, alert)
    if current is None:
        return None, None
    cleared = Alert(
        alert_id=current.alert_id,
        type=type,
        subject=subject,
        severity=current.severity,
        raised_at=current.raised_at,
        cleared_at=at,
        details=dict(details),
        as_of=at,
    )
    return None, AlertChange(Transition.CLEARED, cleared)
