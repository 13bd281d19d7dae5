"""The topics a faust app needs, with their partition counts, created before it starts.

faust would declare missing topics itself, but never checks the partition count of
one that exists, and an auto-creating broker picks its own count the moment any
client asks for metadata. A table is only correct when its changelog has as many
partitions as the topic it is fed from: faust writes a key's change to the
changelog partition of the event being processed, and at a restart restores each
source partition's state from the changelog partition with the same number.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.types import TopicT

from shared_kernel.infrastructure.messaging.dead_letter import dead_letter_topic
from shared_kernel.infrastructure.messaging.topics import TopicConfigurationError, ensure_topics
from shared_kernel.infrastructure.settings import KafkaSettings

__all__ = [
    "DEAD_LETTER_PARTITIONS",
    "TopologyError",
    "dead_letter_topics",
    "declare_topics",
    "required_topics",
]

#: As ``EventConsumer``'s: dead letters need no particular partitioning.
DEAD_LETTER_PARTITIONS = 1

logger = logging.getLogger(__name__)


class TopologyError(ValueError):
    """The app's topics cannot be declared as they are defined."""


def required_topics(app: faust.App) -> dict[str, int]:
    """``{topic: partitions}`` of the agents' source topics and the tables' changelogs.

    A changelog is ``<app id>-<table>-changelog``. Raises :class:`TopologyError` for
    an agent on a topic pattern (its topics cannot be known in advance), for one
    name declared with two counts, and for a table whose partition count matches
    none of the app's source topics: no agent could update it from the partition
    that owns a key.
    """
    default = int(app.conf.topic_partitions)
    topics: dict[str, int] = {}
    sources: set[int] = set()
    for name, partitions in _sources(app):
        sources.add(partitions)
        _add(topics, name, partitions)
    for table in app.tables.values():
        partitions = int(table.partitions or default)
        if sources and partitions not in sources:
            raise TopologyError(
                f"table {table.name!r} has {partitions} partitions, but the app's source "
                f"topics have {sorted(sources)}: a table needs the partition count of "
                "the topic that feeds it"
            )
        _add(topics, table.changelog_topic.get_topic_name(), partitions)
    return topics


def dead_letter_topics(app: faust.App) -> dict[str, int]:
    """``{<source>.dlq: 1}`` for every agent's source topic."""
    return {dead_letter_topic(name): DEAD_LETTER_PARTITIONS for name, _ in _sources(app)}


async def declare_topics(app: faust.App, settings: KafkaSettings) -> dict[str, int]:
    """Create the :func:`required_topics` and :func:`dead_letter_topics` on the broker.

    Raises ``TopicConfigurationError`` when a source or changelog topic exists with
    another partition count. An existing dead-letter topic of any count will do.
    Returns the source and changelog topics.
    """
    topics = required_topics(app)
    options: dict[str, Any] = {
        "client_id": f"{settings.client_id}-topics",
        "request_timeout_ms": settings.request_timeout_ms,
    }
    await ensure_topics(settings.bootstrap_servers, topics, settings.topic_replication, **options)
    try:
        await ensure_topics(
            settings.bootstrap_servers,
            dead_letter_topics(app),
            settings.topic_replication,
            **options,
        )
    except TopicConfigurationError as exc:
        logger.warning("dead-letter topic exists with another partition count: %s", exc)
    return topics


def _sources(app: faust.App) -> list[tuple[str, int]]:
    default = int(app.conf.topic_partitions)
    found: list[tuple[str, int]] = []
    for agent in app.agents.values():
        channel = agent.channel
        if not isinstance(channel, TopicT):
            continue  # an in-memory channel needs no topic
        if channel.pattern is not None or not channel.topics:
            raise TopologyError(
                f"agent {agent.name!r} reads a topic pattern; declare its topics explicitly"
            )
        partitions = int(channel.partitions or default)
        found.extend((name, partitions) for name in channel.topics)
    return found


def _add(topics: dict[str, int], name: str, partitions: int) -> None:
    known = topics.setdefault(name, partitions)
    if known != partitions:
        raise TopologyError(f"topic {name!r} is declared with {known} and {partitions} partitions")
