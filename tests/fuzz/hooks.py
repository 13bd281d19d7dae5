"""Schemathesis hooks for the fuzzing runs (loaded by the tool through
``SCHEMATHESIS_HOOKS``, never by pytest).

Every request that carries an ``Idempotency-Key`` gets a fresh one: the server rightly
answers 422 when a key comes back with another body (the IETF draft's rule), and a
generator that reuses ``"0"`` across cases would report that as a schema-valid request
refused.
"""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
