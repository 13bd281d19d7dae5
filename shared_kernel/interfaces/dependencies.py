"""Route dependencies resolved from the app's container, by provider name.

Every router of a context takes what it needs this way (one style): the interfaces
layer never imports the composition root, and the app carries its container
(``app.state.container``), so several apps (tests, one per database) live in one
process. ``provided("message_bus")`` is a FastAPI dependency returning
``container.message_bus()`` for the app serving the request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request

__all__ = ["provided"]


def provided(name: str) -> Callable[[Request], Any]:
    """A dependency calling provider ``name`` of the request's app container."""

    def provide(request: Request) -> Any:
        container = getattr(request.app.state, "container", None)
        if container is None:
            raise RuntimeError("the app has no container: set app.state.container")
        return getattr(container, name)()

    provide.__name__ = f"provide_{name}"
    return provide
