"""A faust worker process for ``test_faust_recovery``: amounts summed per key.

Run as ``python faust_worker_app.py --app-id ID --topic TOPIC --partitions N
--datadir DIR``; the broker and timings come from the ``KAFKA_*`` environment, as in
any deployment. It is the shape of a context's stream worker: an event topic, two
tables (count and total per key), an idempotency guard, one agent, run in the
foreground until SIGTERM.

The test reads what happens from standard output, one JSON object per line:

- ``{"restored": {key: [count, total]}}`` once the tables are rebuilt from their
  changelogs, before the worker takes any new event into account;
- ``{"applied": event_id, "key": key, "count": n, "total": t}`` per event applied.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

import faust

from shared_kernel.infrastructure.messaging.cloudevents import EventEnvelope
from shared_kernel.infrastructure.settings import KafkaSettings
from shared_kernel.infrastructure.streams import (
    IdempotencyGuard,
    PermanentEventError,
    create_stream_app,
    event_topic,
    process_events,
    run_worker,
    stream_agent,
)

COUNT_TABLE = "deposit-count"
TOTAL_TABLE = "deposit-total"
GUARD_TABLE = "deposit-applied"


def build_app(
    app_id: str, topic_name: str, partitions: int, datadir: str, settings: KafkaSettings
) -> faust.App:
    app = create_stream_app(app_id, settings, datadir=datadir)
    topic = event_topic(app, topic_name, partitions=partitions)
    counts = app.Table(
        COUNT_TABLE, default=int, partitions=partitions, key_type=str, value_type=int
    )
    totals = app.Table(
        TOTAL_TABLE, default=int, partitions=partitions, key_type=str, value_type=int
    )
    guard = IdempotencyGuard(app, GUARD_TABLE, partitions=partitions)

    def apply(envelope: EventEnvelope) -> None:
        amount = envelope.data.get("amount")
        if envelope.key is None or not isinstance(amount, int) or isinstance(amount, bool):
            raise PermanentEventError(f"a deposit needs a key and an integer amount: {amount!r}")
        counts[envelope.key] += 1
        totals[envelope.key] += amount
        emit(
            applied=envelope.id,
            key=envelope.key,
            count=counts[envelope.key],
            total=totals[envelope.key],
        )

    @stream_agent(app, topic, name="deposits")
    async def deposits(stream: faust.StreamT[Any]) -> None:
        await process_events(stream, apply, guard=guard)

    async def report_restored() -> None:
        emit(restored={key: [counts[key], totals[key]] for key in counts})

    app.task(report_restored)  # app tasks start once the tables are restored

    return app


def emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--datadir", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    settings = KafkaSettings()
    run_worker(
        build_app(args.app_id, args.topic, args.partitions, args.datadir, settings), settings
    )


if __name__ == "__main__":
    main()
