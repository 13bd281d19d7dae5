"""The gate: this repository's checked-in event schemas match its event classes.

Fails when a published event has no schema, when a schema is stale, when an event
changed in a way that breaks its consumers without a new major version, when a schema
file belongs to no event, or when a context leaves a domain event out of
``PUBLISHED_EVENTS``. Fix with ``dpmesh contracts generate`` (docs/event-contracts.md).
"""

from pathlib import Path

from dpmesh.governance.event_contracts import check_catalogue, discover

ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_event_schemas_match_the_event_classes() -> None:
    catalogue = discover(ROOT)
    assert isinstance(catalogue, list)
    assert all(published.schema_dir.is_relative_to(ROOT / "contexts") for published in catalogue)

    problems = check_catalogue(catalogue)

    assert not problems, "\n".join(
        [
            f"{len(problems)} event contract problem(s):",
            *(f"  - {problem}" for problem in problems),
            "Run `dpmesh contracts generate` and commit the schemas; for a breaking change, "
            "raise the event's schema_version instead (docs/event-contracts.md).",
        ]
    )
