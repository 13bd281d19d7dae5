"""Stream processing with faust: the app factory, CloudEvents agents, idempotency, workers.

A context builds its app in its composition root with :func:`create_stream_app`,
declares topics with :func:`event_topic`, agents with :func:`stream_agent` and
tables with ``app.Table``, and runs it with :func:`stream_worker` (tests, demo) or
:func:`run_worker` (the ``dpmesh run <context> worker`` command). See
docs/stream-processing.md.
"""

from shared_kernel.infrastructure.messaging.consumer import PermanentEventError
from shared_kernel.infrastructure.streams.app import (
    StreamApp,
    create_stream_app,
    event_topic,
    stream_agent,
)
from shared_kernel.infrastructure.streams.events import (
    DeadLetterHook,
    EventHandler,
    cloud_events,
    dead_letter,
    process_events,
)
from shared_kernel.infrastructure.streams.idempotency import (
    IdempotencyGuard,
    aggregate_version_of,
)
from shared_kernel.infrastructure.streams.topology import (
    TopologyError,
    dead_letter_topics,
    declare_topics,
    required_topics,
)
from shared_kernel.infrastructure.streams.worker import (
    WorkerCrashed,
    run_worker,
    serve,
    stream_worker,
)

__all__ = [
    "DeadLetterHook",
    "EventHandler",
    "IdempotencyGuard",
    "PermanentEventError",
    "StreamApp",
    "TopologyError",
    "WorkerCrashed",
    "aggregate_version_of",
    "cloud_events",
    "create_stream_app",
    "dead_letter",
    "dead_letter_topics",
    "declare_topics",
    "event_topic",
    "process_events",
    "required_topics",
    "run_worker",
    "serve",
    "stream_agent",
    "stream_worker",
]
