"""Declare topics with the partition counts the code relies on, before anything uses them.

Partitioning is part of a topic's contract: keys are hashed over the partition count,
so per-key ordering and the owner of a key's state change when it changes. Brokers
that auto-create topics pick their own count (the embedded broker uses 4, Apache
Kafka ``num.partitions``), so every process declares its topics first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

__all__ = ["TopicConfigurationError", "ensure_topics"]


class TopicConfigurationError(RuntimeError):
    """A topic exists with other partitions than declared, or the broker refused it.

    Not repaired automatically: adding partitions remaps keys, and removing them
    is impossible, so a person decides.
    """


async def ensure_topics(
    bootstrap: str,
    topics: Mapping[str, int],
    replication: int = 1,
    *,
    client_id: str = "dpmesh-topics",
    request_timeout_ms: int = 10_000,
) -> None:
    """Create each topic with exactly its declared number of partitions.

    Idempotent: a topic that already exists with the declared count is left alone;
    one with another count raises :class:`TopicConfigurationError`. Existing topics
    are described only after the create attempt, because a metadata request for an
    unknown topic makes an auto-creating broker create it with its default count.
    """
    for name, partitions in topics.items():
        if partitions < 1:
            raise ValueError(f"topic {name!r}: partitions must be >= 1, got {partitions}")
    if not topics:
        return
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        request_timeout_ms=request_timeout_ms,
    )
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, partitions, replication) for name, partitions in topics.items()]
        )
        existing = _existing_or_raise(response.topic_errors)
        if existing:
            actual = _partition_counts(await admin.describe_topics(existing))
            _check_partitions({name: topics[name] for name in existing}, actual)
    finally:
        await admin.close()


def _existing_or_raise(topic_errors: list[tuple[Any, ...]]) -> list[str]:
    """Names that already existed; raise for any other refusal.

    Each entry is ``(topic, error_code[, error_message])`` depending on the version.
    """
    existing: list[str] = []
    refused: list[str] = []
    for entry in topic_errors:
        name, code = str(entry[0]), int(entry[1])
        if code == 0:
            continue
        if code == TopicAlreadyExistsError.errno:
            existing.append(name)
            continue
        message = entry[2] if len(entry) > 2 and entry[2] else for_code(code).__name__
        refused.append(f"{name}: {message} (error {code})")
    if refused:
        raise TopicConfigurationError("the broker refused to create " + "; ".join(refused))
    return existing


def _partition_counts(descriptions: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for description in descriptions:
        name = str(description["topic"])
        code = int(description["error_code"])
        if code != 0:
            raise TopicConfigurationError(
                f"cannot describe topic {name!r}: {for_code(code).__name__} (error {code})"
            )
        counts[name] = len(description["partitions"])
    return counts


def _check_partitions(declared: Mapping[str, int], actual: Mapping[str, int]) -> None:
    mismatched = [
        f"{name!r} has {actual.get(name)} partitions, declared {expected}"
        for name, expected in declared.items()
        if actual.get(name) != expected
    ]
    if mismatched:
        raise TopicConfigurationError(
            "existing topics differ from their declaration: " + "; ".join(mismatched)
        )
