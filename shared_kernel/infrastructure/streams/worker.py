"""Run a faust app as a worker: in a running event loop, or in the foreground.

faust's own ``Worker`` (``app.main()``, ``faust worker``) owns the process: it
configures the root logger, installs signal handlers, prints to stdout and closes
the event loop when done. Here the app is driven as the ``mode`` service it is,
``await app.start()`` and ``await app.stop()``, so tests, the demo supervisor and the
CLI share one code path and logging stays the application's.

Start-up, in order: declare the topics (:func:`declare_topics`), join the consumer
group (about half the session timeout), then restore the tables from their changelogs.
``app.start()`` returns when the restore is complete and the agents are consuming.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import faust

from shared_kernel.infrastructure.settings import KafkaSettings
from shared_kernel.infrastructure.streams.topology import declare_topics

__all__ = ["WorkerCrashed", "run_worker", "serve", "stream_worker"]

logger = logging.getLogger(__name__)


class WorkerCrashed(RuntimeError):
    """The faust app crashed (its consumer, producer or a table); the cause is chained."""


@contextlib.asynccontextmanager
async def stream_worker(
    app: faust.App, settings: KafkaSettings, *, declare: bool = True
) -> AsyncIterator[faust.App]:
    """Run ``app`` as a worker for the duration of the ``async with`` block.

    On entry the topics are declared and the tables restored; on exit the app
    commits what it processed and stops. One app object runs once: build a new one
    (same name, same consumer group) to run again, as a restarted process would.
    """
    await _prepare(app, settings, declare=declare)
    try:
        started = time.monotonic()
        await app.start()
        _raise_if_crashed(app)
        logger.info("stream worker %s ready in %.1f s", app.conf.id, time.monotonic() - started)
        yield app
    finally:
        await app.stop()


async def serve(
    app: faust.App,
    settings: KafkaSettings,
    *,
    stop: asyncio.Event | None = None,
    declare: bool = True,
) -> None:
    """Run ``app`` until ``stop`` is set or the app stops; raise if it crashed.

    ``stop`` may be set at any time, also while the worker is still joining its
    group or restoring tables.
    """
    stop = stop if stop is not None else asyncio.Event()
    await _prepare(app, settings, declare=declare)
    started = time.monotonic()
    starting = asyncio.ensure_future(app.start())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done() and not stopping.done():
            starting.result()
            _raise_if_crashed(app)
            logger.info("stream worker %s ready in %.1f s", app.conf.id, time.monotonic() - started)
            await app.wait_for_stopped(stop.wait())
    finally:
        stopping.cancel()
        await app.stop()
        if not starting.done():
            # stop() has set should_stop: start() leaves at its next check.
            await asyncio.wait({starting})
        if starting.done() and not starting.cancelled():
            starting.exception()  # retrieved; a start cut short by stop() is not an error
    _raise_if_crashed(app)


def run_worker(app: faust.App, settings: KafkaSettings) -> None:
    """Run ``app`` in the foreground until SIGINT or SIGTERM; for ``dpmesh run``.

    Blocks. Raises :class:`WorkerCrashed` when the app crashed, so the process
    exits non-zero and a supervisor restarts it.
    """
    asyncio.run(_serve_until_signalled(app, settings))


async def _serve_until_signalled(app: faust.App, settings: KafkaSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _request_stop, stop, signum)
    try:
        await serve(app, settings, stop=stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _request_stop(stop: asyncio.Event, signum: int) -> None:
    logger.info("received %s, stopping the stream worker", signal.Signals(signum).name)
    stop.set()


async def _prepare(app: faust.App, settings: KafkaSettings, *, declare: bool) -> None:
    if app.started:
        raise RuntimeError(
            f"faust app {app.conf.id!r} was started before; build a new app object to restart"
        )
    if declare:
        await declare_topics(app, settings)
    # faust creates the data directory without its parents.
    await asyncio.to_thread(Path(app.conf.datadir).mkdir, parents=True, exist_ok=True)
    # Set by faust's own Worker; exactly-once transactions are only used when it is.
    # ``in_transaction`` is cached from the first read, so read it again.
    app.in_worker = True
    del app.in_transaction


def _raise_if_crashed(app: faust.App) -> None:
    if app.crashed:
        raise WorkerCrashed(f"faust app {app.conf.id!r} crashed: {app.crash_reason!r}") from (
            app.crash_reason
        )
