"""CloudEvents for faust agents: decode each message, dead-letter what cannot be used.

faust hands an agent raw bytes (topics from ``event_topic`` use the ``raw``
serializer); the envelope is in the ``ce_*`` headers. These helpers decode every
message with :func:`~shared_kernel.infrastructure.messaging.cloudevents.decode`,
send the ones that fail to ``<topic>.dlq`` and go on with the next message. Dead
letters have the same shape as those of ``EventConsumer`` (see
``shared_kernel.infrastructure.messaging.dead_letter``): the original key, value and
headers, plus ``dlq_reason``, ``dlq_origin_*``, ``dlq_consumer`` (the app id) and
``dlq_failed_at``. A dead letter is acknowledged by the broker before the agent
moves on, so its offset is never committed before the copy exists.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from asyncio import Future
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from faust.types import AppT, EventT, StreamT

from shared_kernel.infrastructure.logging import bind_correlation_id
from shared_kernel.infrastructure.messaging.cloudevents import (
    EventEnvelope,
    MalformedEvent,
    decode,
)
from shared_kernel.infrastructure.messaging.consumer import PERMANENT_ERRORS
from shared_kernel.infrastructure.messaging.dead_letter import (
    DeadLetter,
    dead_letter_headers,
    dead_letter_topic,
)
from shared_kernel.infrastructure.settings import KafkaSettings
from shared_kernel.infrastructure.streams.idempotency import IdempotencyGuard
from shared_kernel.infrastructure.streams.offsets import first_offset_from
from shared_kernel.infrastructure.streams.progress import OffsetProgress, RecordsSkipped, Verdict

__all__ = [
    "DeadLetterHook",
    "EventHandler",
    "GiveUp",
    "WorkerStalled",
    "cloud_events",
    "dead_letter",
    "process_events",
]

#: Handles one event. It may return a future for an effect still on its way (a send's
#: delivery): the record's offset is then committed only once that future succeeds.
EventHandler = Callable[[EventEnvelope], Awaitable[Any] | None]
#: Told of each dead letter written: the event (None for a message that is not one)
#: and the reason. For measurements (the dead-letter rate of a data product).
DeadLetterHook = Callable[[EventEnvelope | None, str], Awaitable[None] | None]

#: What ``process_events`` does with an event whose transient failures outlast the retries.
GiveUp = Literal["dead_letter", "crash"]

DEAD_LETTER_BACKOFF_S = 0.1
DEAD_LETTER_BACKOFF_MAX_S = 5.0

logger = logging.getLogger(__name__)


async def cloud_events(
    stream: StreamT[Any], *, guard: IdempotencyGuard | None = None
) -> AsyncIterator[EventEnvelope]:
    """Iterate the decoded events of ``stream``; malformed messages go to the dead letters.

    With a ``guard``, duplicates are skipped, and an event is recorded as applied
    when the loop asks for the next one, that is after the loop body finished
    without raising (a ``break`` leaves the last event unrecorded). An exception in
    the body ends the loop: faust logs it, acks the message and restarts the agent,
    without a dead letter. Use :func:`process_events` to have failures retried and
    dead-lettered.
    """
    async for event in stream.events():
        envelope = await _decode_or_dead_letter(stream.app, event)
        if envelope is None or _is_duplicate(guard, envelope):
            continue
        bind_correlation_id(envelope.extensions.get("correlationid") or envelope.id)
        yield envelope
        # Resumed: the loop body finished and asks for the next event. Recorded now,
        # while this event is still current, so the entry lands in its partition.
        if guard is not None:
            guard.record(envelope)


async def process_events(
    stream: StreamT[Any],
    handle: EventHandler,
    *,
    guard: IdempotencyGuard | None = None,
    max_attempts: int = 5,
    retry_backoff_s: float = 0.1,
    retry_backoff_max_s: float = 2.0,
    on_dead_letter: DeadLetterHook | None = None,
    give_up: GiveUp = "dead_letter",
) -> None:
    """Call ``handle`` for each new event of ``stream``, in order; never stop on a bad one.

    ``handle`` may be sync or async. The failure policy is ``EventConsumer``'s:

    - ``MalformedEvent``, ``PermanentEventError`` or ``pydantic.ValidationError``:
      dead-lettered at once;
    - any other exception is taken as transient and retried with capped exponential
      backoff, ``max_attempts`` calls in all. The partition waits meanwhile, so the
      order of each key holds. Then, with ``give_up="dead_letter"``, the event is
      dead-lettered with the last error; with ``give_up="crash"`` the worker crashes
      (its process exits non-zero, the offset stays uncommitted and a restarted worker
      tries the event again): for handlers whose transient failures are the
      infrastructure's (read store or broker away), where a dead letter would make
      the product wrong instead of late.

    A failed event is not recorded by the guard. A handler must validate before it
    changes a table: a retry runs it again from the start.

    ``on_dead_letter`` is called after each dead letter is written; its own failures
    are logged and never stop the stream.

    On a :class:`~shared_kernel.infrastructure.streams.app.StreamApp`, each record is
    reported done to the app's :class:`OffsetProgress` once ``handle`` returned (or its
    dead letter was acknowledged), and records the consumer skipped are fetched again
    (see :mod:`shared_kernel.infrastructure.streams.progress`).
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    app = stream.app
    progress: OffsetProgress | None = getattr(app, "progress", None)
    async for event in stream.events():
        message = event.message
        if progress is not None and not await _in_order(app, progress, message):
            continue
        envelope = await _decode_or_dead_letter(app, event, on_dead_letter)
        if envelope is not None and not _is_duplicate(guard, envelope):
            bind_correlation_id(envelope.extensions.get("correlationid") or envelope.id)
            failure, effect = await _handle_with_retries(
                handle, envelope, max_attempts, retry_backoff_s, retry_backoff_max_s
            )
            if failure is not None and failure.gave_up and give_up == "crash":
                error = WorkerStalled(
                    f"event {envelope.id} ({envelope.type}) of {message.topic}"
                    f"[{message.partition}]@{message.offset} {failure.reason}; stopping the worker "
                    "so that a restart retries it from the last durable offset"
                )
                await app.crash(error)
                raise error
            if failure is not None:
                await dead_letter(app, event, failure.reason)
                await _tell(on_dead_letter, envelope, failure.reason)
            elif guard is not None:
                guard.record(envelope)
            if progress is not None and effect is not None:
                # The handler's effect is on its way (a send not yet acknowledged): the
                # next record may go, the offset is committed once it arrives.
                progress.handled(message.tp, message.offset)
                effect.add_done_callback(_settle(app, progress, message))
                continue
        if progress is not None:
            progress.done(message.tp, message.offset)


def _settle(app: AppT, progress: OffsetProgress, message: Any) -> Callable[[Future[Any]], None]:
    def settled(effect: Future[Any]) -> None:
        if effect.cancelled() or effect.exception() is not None:
            error = WorkerStalled(
                f"the effect of {message.topic}[{message.partition}]@{message.offset} failed "
                f"({'cancelled' if effect.cancelled() else effect.exception()!r}); stopping "
                "the worker so that a restart handles the record again"
            )
            logger.error("%s", error)
            _background.add(task := asyncio.ensure_future(app.crash(error)))
            task.add_done_callback(_background.discard)
            return
        progress.settled(message.tp, message.offset)

    return settled


#: Tasks started from callbacks, kept alive until they end.
_background: set[asyncio.Future[Any]] = set()


class WorkerStalled(RuntimeError):
    """An event could not be processed after every retry; the worker stops."""


async def _in_order(app: AppT, progress: OffsetProgress, message: Any) -> bool:
    """Whether ``message`` is the next record of its partition to process."""
    try:
        verdict = progress.check(message.tp, message.offset)
    except RecordsSkipped as exc:
        await app.crash(exc)
        raise
    if verdict is Verdict.REWIND:
        expected = progress.expected(message.tp)
        kafka: KafkaSettings | None = getattr(app, "kafka", None)
        first = None
        if expected is not None and kafka is not None:
            first = await first_offset_from(
                kafka.bootstrap_servers,
                (message.topic, message.partition),
                expected,
                client_id=f"{kafka.client_id}-offset-probe",
                request_timeout_ms=kafka.request_timeout_ms,
            )
        if first is not None and first >= message.offset:
            progress.hole(message.tp, message.offset)
            return True
        # Records were skipped (or the broker did not answer: the safe side). Rewind.
        target = first if first is not None else expected
        if target is not None:
            progress.rewind_to(message.tp, target)
            await app.consumer.seek(message.tp, target)
        return False
    if verdict is Verdict.DONE_BEFORE:
        logger.info(
            "skipped %s[%s]@%s: done before", message.topic, message.partition, message.offset
        )
    return verdict is Verdict.PROCESS


async def _tell(hook: DeadLetterHook | None, envelope: EventEnvelope | None, reason: str) -> None:
    if hook is None:
        return
    try:
        outcome = hook(envelope, reason)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception:
        logger.exception("the dead-letter hook failed; the stream goes on")


async def dead_letter(app: AppT, event: EventT[Any], reason: str) -> None:
    """Copy ``event``'s message to ``<topic>.dlq`` with where it came from and why.

    Sent with the app's producer and awaited until the broker acknowledges it,
    retried with capped backoff while it fails (the broker away): an exception out
    of an agent makes faust acknowledge the message and move on, so giving up here
    would drop it. Only a stopping app ends the retries, with the error.
    """
    message = event.message
    letter = DeadLetter(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=_header_pairs(message.headers),
        reason=reason,
        consumer=str(app.conf.id),
    )
    topic = dead_letter_topic(letter.topic)
    # Kafka needs a key or a value; an empty record is kept as an empty value.
    value = letter.value if letter.value is not None or letter.key is not None else b""
    delay = DEAD_LETTER_BACKOFF_S
    while True:
        try:
            await app.producer.send_and_wait(
                topic,
                letter.key,
                value,
                partition=None,
                timestamp=None,
                headers=dead_letter_headers(letter, datetime.now(UTC)),
            )
            break
        except Exception as exc:
            if app.should_stop:
                raise
            logger.warning(
                "dead letter for %s[%s]@%s not written, retrying in %.1f s: %s",
                letter.topic,
                letter.partition,
                letter.offset,
                delay,
                _describe(exc),
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, DEAD_LETTER_BACKOFF_MAX_S)
    logger.warning(
        "dead-lettered %s[%s]@%s: %s",
        letter.topic,
        letter.partition,
        letter.offset,
        reason[:200],
    )


@dataclass(frozen=True, slots=True)
class _Failure:
    """Why an event failed; ``gave_up`` when transient failures outlasted the retries
    (not an event that can never be applied: those are dead-lettered in any case)."""

    reason: str
    gave_up: bool


async def _handle_with_retries(
    handle: EventHandler,
    envelope: EventEnvelope,
    max_attempts: int,
    backoff_s: float,
    backoff_max_s: float,
) -> tuple[_Failure | None, Future[Any] | None]:
    """``(None, effect)`` once ``handle`` succeeded, else ``(the failure, None)``.
    ``effect`` is the future a handler may return for an effect still on its way (e.g.
    a send's delivery), else None."""
    delay = backoff_s
    attempt = 1
    while True:
        try:
            outcome = handle(envelope)
            if inspect.isawaitable(outcome):
                outcome = await outcome
            return None, outcome if isinstance(outcome, Future) else None
        except PERMANENT_ERRORS as exc:
            return _Failure(f"{_kind(exc)}: {_describe(exc)}", gave_up=False), None
        except Exception as exc:
            if attempt >= max_attempts:
                logger.exception("event %s failed %d times", envelope.id, attempt)
                reason = f"gave up after {attempt} attempts: {_describe(exc)}"
                return _Failure(reason, gave_up=True), None
            logger.warning(
                "event %s failed (attempt %d of %d), retrying in %.2f s: %s",
                envelope.id,
                attempt,
                max_attempts,
                delay,
                _describe(exc),
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, backoff_max_s)
        attempt += 1


async def _decode_or_dead_letter(
    app: AppT, event: EventT[Any], on_dead_letter: DeadLetterHook | None = None
) -> EventEnvelope | None:
    message = event.message
    try:
        return decode(_header_pairs(message.headers), message.key, message.value)
    except MalformedEvent as exc:
        reason = f"malformed: {exc.reason}"
        await dead_letter(app, event, reason)
        await _tell(on_dead_letter, None, reason)
        return None


def _is_duplicate(guard: IdempotencyGuard | None, envelope: EventEnvelope) -> bool:
    if guard is None or not guard.is_duplicate(envelope):
        return False
    logger.info("skipped duplicate event %s (%s) key=%s", envelope.id, envelope.type, envelope.key)
    return True


def _kind(exc: BaseException) -> str:
    return "malformed" if isinstance(exc, MalformedEvent) else "permanent"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MalformedEvent):
        return exc.reason
    return f"{type(exc).__name__}: {exc}"


def _header_pairs(
    headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None,
) -> list[tuple[str, bytes]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return [(str(name), bytes(value)) for name, value in headers.items()]
    return [(str(name), bytes(value)) for name, value in headers]
