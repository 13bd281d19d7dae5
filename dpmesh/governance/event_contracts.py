"""Event contracts: the checked-in JSON Schema of every published event, and its gate.

The convention (docs/event-contracts.md):

- each context that publishes events has ``contexts/<ctx>/interfaces/events/__init__.py``
  exposing ``PUBLISHED_EVENTS``, a tuple of its event classes (and optionally
  ``INTERNAL_EVENTS``, domain events that never leave the context);
- the schema of each lives in ``contexts/<ctx>/interfaces/events/schemas/`` as
  ``<EventName>.v<major>.json``, generated from the class, pretty-printed with sorted
  keys and a final newline;
- the checked-in file is the compatibility baseline of its major version: a new
  schema may only change it compatibly (see :mod:`dpmesh.governance.compatibility`);
  anything else needs a new major, hence a new file and a new topic, while the old
  file stays for the consumers of the old topic.

The work happens on :class:`PublishedEvents` (event classes and a schema directory), so
it runs on any classes and any directory; :func:`discover` is the thin layer that
finds them in a source tree.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from pydantic import PydanticUserError

from dpmesh.governance.compatibility import (
    Incompatibility,
    UnreadableSchemaError,
    breaking_changes,
)
from shared_kernel.domain.events import DomainEvent
from shared_kernel.infrastructure.serialization import event_json_schema

__all__ = [
    "BreakingChangeError",
    "ContractError",
    "Problem",
    "ProblemKind",
    "PublishedEvents",
    "SchemaUpdate",
    "UpdateStatus",
    "check",
    "check_catalogue",
    "check_events",
    "default_root",
    "discover",
    "generate_schema",
    "plan_updates",
    "render",
    "schema_file_name",
    "topic_of",
    "unlisted_events",
    "write",
    "write_updates",
]

EVENTS_MODULE: Final = "contexts.{context}.interfaces.events"
_SCHEMA_FILE: Final = re.compile(
    r"^(?P<event>[A-Za-z_][A-Za-z0-9_]*)\.v(?P<major>[1-9][0-9]*)\.json$"
)
_GENERATE: Final = "run `dpmesh contracts generate` and commit the file"


class ContractError(Exception):
    """A context declares its published events wrongly, or a checked-in schema is unusable."""


class ProblemKind(StrEnum):
    MISSING = "missing"  # no checked-in schema for a published event
    STALE = "stale"  # the checked-in schema differs, compatibly, from the generated one
    BREAKING = "breaking"  # the generated schema breaks consumers of the checked-in one
    ORPHAN = "orphan"  # a schema file that no published event accounts for
    UNLISTED = "unlisted"  # a domain event of the context missing from PUBLISHED_EVENTS
    INVALID = "invalid"  # a schema that cannot be generated, read or compared


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the checked-in contracts do not match the code."""

    kind: ProblemKind
    context: str
    subject: str  # a schema file name, or an event class for UNLISTED
    detail: str
    location: str = ""  # inside the event, for BREAKING
    path: Path | None = None

    def __str__(self) -> str:
        where = f" at {self.location}" if self.location else ""
        return f"{self.kind}: {self.context}/{self.subject}{where}: {self.detail}"


@dataclass(frozen=True, slots=True)
class PublishedEvents:
    """The events one context publishes and the directory that holds their schemas.

    Refuses, on creation, a declaration that cannot be checked: something that is not a
    concrete event class, an event of another context (its topic would be wrong), a
    major version that is not a positive integer, two classes for one schema file.
    """

    context: str
    events: tuple[type[DomainEvent], ...]
    schema_dir: Path
    internal: tuple[type[DomainEvent], ...] = field(default=())

    def __post_init__(self) -> None:
        for name, declared in (
            ("PUBLISHED_EVENTS", self.events),
            ("INTERNAL_EVENTS", self.internal),
        ):
            if not isinstance(declared, tuple):
                raise ContractError(
                    f"{self.context}: {name} must be a tuple of event classes, "
                    f"got {type(declared).__name__}"
                )
        claimed: dict[str, type[DomainEvent]] = {}
        for event in self.events:
            _check_event_class(self.context, event)
            file_name = schema_file_name(event)
            if file_name in claimed:
                raise ContractError(
                    f"{self.context}: {_qualified(claimed[file_name])} and {_qualified(event)} "
                    f"both publish {file_name}"
                )
            claimed[file_name] = event
        for event in self.internal:
            if not (isinstance(event, type) and issubclass(event, DomainEvent)):
                raise ContractError(f"{self.context}: INTERNAL_EVENTS holds {event!r}")

    def schema_path(self, event: type[DomainEvent]) -> Path:
        return self.schema_dir / schema_file_name(event)


class UpdateStatus(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    REFORMATTED = "reformatted"  # same schema, the file's layout differed
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class SchemaUpdate:
    """What generating one event's schema would do to its checked-in file."""

    context: str
    event: type[DomainEvent]
    path: Path
    text: str
    status: UpdateStatus
    breaking: tuple[Incompatibility, ...] = ()


class BreakingChangeError(ContractError):
    """Generating would overwrite checked-in schemas with changes that break consumers."""

    def __init__(self, refused: Sequence[SchemaUpdate]) -> None:
        self.refused = tuple(refused)
        super().__init__(_refusal_message(self.refused))


def schema_file_name(event: type[DomainEvent]) -> str:
    return f"{event.__name__}.v{event.schema_version}.json"


def topic_of(event: type[DomainEvent]) -> str:
    """``<context>.<aggregate>.v<major>``, where the outbox relay publishes the event."""
    return f"{event.context}.{event.aggregate_type}.v{event.schema_version}"


def generate_schema(event: type[DomainEvent]) -> dict[str, Any]:
    """The event's JSON Schema as published; :class:`ContractError` if pydantic cannot."""
    try:
        return event_json_schema(event)
    except PydanticUserError as exc:
        raise ContractError(f"{_qualified(event)}: no JSON Schema can be generated: {exc}") from exc


def render(schema: Mapping[str, Any]) -> str:
    """The file layout: two-space indent, sorted keys, UTF-8 text, final newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def plan_updates(published: PublishedEvents) -> list[SchemaUpdate]:
    """Generate every schema of a context and compare it with its checked-in baseline.

    Raises :class:`ContractError` when a schema cannot be generated or a checked-in
    file cannot be read: a baseline is never guessed.
    """
    return [_assess(published, event) for event in published.events]


def check_events(published: PublishedEvents) -> list[Problem]:
    """Every way the checked-in schemas of one context disagree with its event classes."""
    problems: list[Problem] = []
    for event in published.events:
        path = published.schema_path(event)
        subject = path.name
        try:
            update = _assess(published, event)
        except ContractError as exc:
            problems.append(
                Problem(ProblemKind.INVALID, published.context, subject, str(exc), path=path)
            )
            continue
        if update.status is UpdateStatus.CREATED:
            problems.append(
                Problem(
                    ProblemKind.MISSING,
                    published.context,
                    subject,
                    f"no checked-in schema; {_GENERATE}",
                    path=path,
                )
            )
        elif update.breaking:
            next_major = event.schema_version + 1
            problems.extend(
                Problem(
                    ProblemKind.BREAKING,
                    published.context,
                    subject,
                    f"{change.reason} (breaks consumers of {topic_of(event)}: keep the change "
                    f"compatible or raise {event.__name__}.schema_version to {next_major})",
                    location=change.location,
                    path=path,
                )
                for change in update.breaking
            )
        elif update.status is UpdateStatus.UPDATED:
            problems.append(
                Problem(
                    ProblemKind.STALE,
                    published.context,
                    subject,
                    f"differs (compatibly) from the event class; {_GENERATE}",
                    path=path,
                )
            )
    problems.extend(_orphans(published))
    return problems


def unlisted_events(published: PublishedEvents) -> list[type[DomainEvent]]:
    """Domain events of the context that are neither published nor declared internal.

    Looks at the event classes defined in the context's modules already imported
    (:func:`discover` imports each context's domain layer), leaving out test modules
    and classes that other events extend (bases, not events).
    """
    prefix = f"contexts.{published.context}."
    candidates = {
        value
        for name, module in list(sys.modules.items())
        if name.startswith(prefix) and module is not None and not _is_test_module(name)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, DomainEvent) and value.__module__ == name
    }
    extended = {base for event in candidates for base in event.__mro__[1:]}
    declared = set(published.events) | set(published.internal)
    return sorted(candidates - extended - declared, key=_qualified)


def write_updates(
    catalogue: Iterable[PublishedEvents], *, allow_breaking: bool = False
) -> list[SchemaUpdate]:
    """Write every generated schema whose file is missing or differs; all or nothing.

    Refuses with :class:`BreakingChangeError`, before writing anything, when a schema
    would break the consumers of its checked-in version, unless ``allow_breaking``.
    Never deletes a file: older majors stay for their consumers.
    """
    updates = [update for published in catalogue for update in plan_updates(published)]
    refused = [update for update in updates if update.breaking]
    if refused and not allow_breaking:
        raise BreakingChangeError(refused)
    for update in updates:
        if update.status is not UpdateStatus.UNCHANGED:
            update.path.parent.mkdir(parents=True, exist_ok=True)
            update.path.write_text(update.text, encoding="utf-8", newline="\n")
    return updates


def default_root() -> Path:
    """The source tree the importable ``contexts`` package comes from."""
    return _contexts_dir().parent


def discover(root: Path) -> list[PublishedEvents]:
    """The contexts under ``root/contexts`` that publish events, with their declarations.

    A context takes part once it has ``interfaces/events/__init__.py`` (or, left over
    from an earlier release, an ``interfaces/events/schemas`` directory). Its events
    module and every module of its domain layer are imported, the latter so that
    :func:`unlisted_events` sees all its event classes. The ``contexts`` package must be
    imported from ``root``, or the classes checked would not be the files checked.
    """
    contexts_dir = (root / "contexts").resolve()
    if not contexts_dir.is_dir():
        raise ContractError(f"{root} has no contexts directory")
    imported_from = _contexts_dir()
    if imported_from != contexts_dir:
        raise ContractError(
            f"the importable contexts package is {imported_from}, not {contexts_dir}: "
            "check the project it is installed from"
        )
    catalogue: list[PublishedEvents] = []
    for context_dir in sorted(contexts_dir.iterdir()):
        name = context_dir.name
        events_dir = context_dir / "interfaces" / "events"
        schema_dir = events_dir / "schemas"
        if not name.isidentifier() or name.startswith("_"):
            continue
        if not ((events_dir / "__init__.py").is_file() or schema_dir.is_dir()):
            continue
        _import_domain(name, context_dir)
        published, internal = _declared_events(name, events_dir)
        catalogue.append(PublishedEvents(name, published, schema_dir, internal))
    return catalogue


def check(root: Path) -> list[Problem]:
    """Every contract problem of the source tree at ``root``; empty when all is well."""
    return check_catalogue(discover(root))


def check_catalogue(catalogue: Iterable[PublishedEvents]) -> list[Problem]:
    """:func:`check_events` and :func:`unlisted_events` over several contexts."""
    problems: list[Problem] = []
    for published in catalogue:
        problems.extend(check_events(published))
        problems.extend(
            Problem(
                ProblemKind.UNLISTED,
                published.context,
                event.__name__,
                f"{_qualified(event)} is a domain event of this context but is not in "
                "PUBLISHED_EVENTS (or INTERNAL_EVENTS, if it never leaves the context)",
            )
            for event in unlisted_events(published)
        )
    return problems


def write(root: Path, *, allow_breaking: bool = False) -> list[SchemaUpdate]:
    """Regenerate the schemas of the source tree at ``root``; see :func:`write_updates`."""
    return write_updates(discover(root), allow_breaking=allow_breaking)


def _assess(published: PublishedEvents, event: type[DomainEvent]) -> SchemaUpdate:
    path = published.schema_path(event)
    text = render(generate_schema(event))
    if not path.is_file():
        return SchemaUpdate(published.context, event, path, text, UpdateStatus.CREATED)
    current_text = _read_text(path)
    checked_in = _parse(path, current_text)
    if render(checked_in) != text:
        try:
            breaking = tuple(breaking_changes(checked_in, json.loads(text)))
        except UnreadableSchemaError as exc:
            raise ContractError(f"{path.name}: cannot compare: {exc}") from exc
        return SchemaUpdate(published.context, event, path, text, UpdateStatus.UPDATED, breaking)
    status = UpdateStatus.UNCHANGED if current_text == text else UpdateStatus.REFORMATTED
    return SchemaUpdate(published.context, event, path, text, status)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"{path.name}: cannot read the checked-in schema: {exc}") from exc


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise ContractError(
            f"{path.name}: the checked-in schema is not valid JSON ({exc}); "
            "restore it from version control, it is the baseline consumers rely on"
        ) from exc
    if not isinstance(schema, dict):
        raise ContractError(f"{path.name}: the checked-in schema is not a JSON object")
    return schema


def _orphans(published: PublishedEvents) -> list[Problem]:
    """Schema files no published event accounts for.

    A file of a major below the newest one published under the same name is a retired
    major, kept on purpose for the consumers of its topic: not an orphan.
    """
    if not published.schema_dir.is_dir():
        return []
    majors: dict[str, set[int]] = defaultdict(set)
    for event in published.events:
        majors[event.__name__].add(event.schema_version)
    problems: list[Problem] = []
    for path in sorted(published.schema_dir.glob("*.json")):
        match = _SCHEMA_FILE.fullmatch(path.name)
        if match is None:
            detail = "not named <EventName>.v<major>.json"
        elif match["event"] not in majors:
            detail = (
                f"no event {match['event']} in PUBLISHED_EVENTS: publish it, or delete this "
                "file once no consumer reads its topic"
            )
        elif int(match["major"]) > max(majors[match["event"]]):
            newest = max(majors[match["event"]])
            detail = f"{match['event']} is published at v{newest}, not v{match['major']}"
        else:
            continue
        problems.append(
            Problem(ProblemKind.ORPHAN, published.context, path.name, detail, path=path)
        )
    return problems


def _check_event_class(context: str, event: object) -> None:
    if not (isinstance(event, type) and issubclass(event, DomainEvent)) or event is DomainEvent:
        raise ContractError(f"{context}: PUBLISHED_EVENTS holds {event!r}, not an event class")
    if event.context != context:
        raise ContractError(
            f"{context}: {_qualified(event)} declares context {event.context!r}; "
            f"its topic would be {topic_of(event)}"
        )
    version = event.schema_version
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ContractError(
            f"{context}: {_qualified(event)}.schema_version must be a positive int, got {version!r}"
        )


def _contexts_dir() -> Path:
    package = importlib.import_module("contexts")
    location = getattr(package, "__file__", None)
    if location is None:
        raise ContractError("the contexts package has no __init__.py")
    return Path(location).resolve().parent


def _import_domain(context: str, context_dir: Path) -> None:
    """Import every module of the context's domain layer (stdlib-only, free of side effects)."""
    domain_dir = context_dir / "domain"
    if not domain_dir.is_dir():
        return
    for path in sorted(domain_dir.rglob("*.py")):
        parts = path.relative_to(context_dir).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if all(part.isidentifier() for part in parts) and not any(map(_is_test_part, parts)):
            importlib.import_module(".".join(("contexts", context, *parts)))


def _declared_events(
    context: str, events_dir: Path
) -> tuple[tuple[type[DomainEvent], ...], tuple[type[DomainEvent], ...]]:
    if not (events_dir / "__init__.py").is_file():
        return (), ()
    module_name = EVENTS_MODULE.format(context=context)
    module = importlib.import_module(module_name)
    published = getattr(module, "PUBLISHED_EVENTS", None)
    if published is None:
        raise ContractError(
            f"{module_name} must define PUBLISHED_EVENTS, the tuple of event classes "
            "the context publishes"
        )
    internal = getattr(module, "INTERNAL_EVENTS", ())
    return published, internal


def _is_test_module(module: str) -> bool:
    return any(_is_test_part(part) for part in module.split("."))


def _is_test_part(part: str) -> bool:
    return part in {"tests", "conftest"} or part.startswith("test_")


def _qualified(event: type) -> str:
    return f"{event.__module__}.{event.__qualname__}"


def _refusal_message(refused: Sequence[SchemaUpdate]) -> str:
    lines = [f"Refusing to write {len(refused)} schema(s) that would break their consumers:"]
    for update in refused:
        lines.append(f"  {update.context}/{update.path.name} (topic {topic_of(update.event)})")
        lines.extend(f"    - {change}" for change in update.breaking)
    example = refused[0].event
    lines += [
        "Consumers of these topics rely on the checked-in schema. Either make the change "
        "compatible (add fields with a default; never remove, rename or retype one), or "
        "publish a new major version: for example raise "
        f"{example.__name__}.schema_version to {example.schema_version + 1}, which writes "
        f"{example.__name__}.v{example.schema_version + 1}.json beside the current file and "
        f"publishes to {example.context}.{example.aggregate_type}.v{example.schema_version + 1}.",
        "See docs/event-contracts.md.",
    ]
    return "\n".join(lines)
