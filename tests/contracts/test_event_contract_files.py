"""Checking and generating checked-in schemas, on a fake context in a temporary directory.

The event classes are synthetic ``OrderPlaced`` versions; the schema directory is
``tmp_path``. Discovery over a source tree is covered by test_published_event_schemas.
"""

import json
import re
import sys
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest

from dpmesh.governance.event_contracts import (
    BreakingChangeError,
    ContractError,
    ProblemKind,
    PublishedEvents,
    UpdateStatus,
    check_events,
    discover,
    generate_schema,
    render,
    unlisted_events,
    write_updates,
)
from shared_kernel.domain.events import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderingEvent(DomainEvent):
    context: ClassVar[str] = "ordering"
    aggregate_type: ClassVar[str] = "order"


def event_class(name: str = "OrderPlaced", major: int = 1, **fields: Any) -> type[DomainEvent]:
    """An event class; a field given as ``(type, default)`` has a default."""
    spec = [
        (key, value[0], field(default=value[1])) if isinstance(value, tuple) else (key, value)
        for key, value in fields.items()
    ]
    return make_dataclass(
        name,
        spec,
        bases=(OrderingEvent,),
        namespace={"schema_version": major},
        frozen=True,
        slots=True,
        kw_only=True,
    )


def order_placed_v1() -> type[DomainEvent]:
    return event_class(order_id=str, total=int)


def context(tmp_path: Path, *events: type[DomainEvent]) -> PublishedEvents:
    return PublishedEvents("ordering", events, tmp_path / "schemas")


def kinds(published: PublishedEvents) -> list[tuple[ProblemKind, str]]:
    return [(problem.kind, problem.subject) for problem in check_events(published)]


def test_generated_files_are_pretty_sorted_and_end_with_a_newline(tmp_path: Path) -> None:
    event = order_placed_v1()
    [update] = write_updates([context(tmp_path, event)])

    path = tmp_path / "schemas" / "OrderPlaced.v1.json"
    assert update.path == path
    assert update.status is UpdateStatus.CREATED
    text = path.read_text(encoding="utf-8")
    schema = json.loads(text)
    assert schema == generate_schema(event)
    assert text == json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert schema["$id"] == "urn:dpmesh:ordering:event:OrderPlaced.v1"


def test_generate_then_check_is_clean_and_generating_again_changes_nothing(
    tmp_path: Path,
) -> None:
    published = context(tmp_path, order_placed_v1())
    write_updates([published])
    before = (tmp_path / "schemas" / "OrderPlaced.v1.json").stat().st_mtime_ns

    assert check_events(published) == []
    [update] = write_updates([published])
    assert update.status is UpdateStatus.UNCHANGED
    assert (tmp_path / "schemas" / "OrderPlaced.v1.json").stat().st_mtime_ns == before


def test_a_published_event_without_a_schema_is_missing(tmp_path: Path) -> None:
    [problem] = check_events(context(tmp_path, order_placed_v1()))
    assert problem.kind is ProblemKind.MISSING
    assert problem.subject == "OrderPlaced.v1.json"
    assert "dpmesh contracts generate" in problem.detail


def test_a_compatible_change_is_stale_until_regenerated(tmp_path: Path) -> None:
    write_updates([context(tmp_path, order_placed_v1())])
    evolved = context(tmp_path, event_class(order_id=str, total=int, note=(str, "")))

    assert kinds(evolved) == [(ProblemKind.STALE, "OrderPlaced.v1.json")]
    [update] = write_updates([evolved])
    assert update.status is UpdateStatus.UPDATED
    assert update.breaking == ()
    assert check_events(evolved) == []


def test_a_breaking_change_is_reported_where_it_happens(tmp_path: Path) -> None:
    write_updates([context(tmp_path, order_placed_v1())])
    broken = context(tmp_path, event_class(order_id=str, total=str))

    [problem] = check_events(broken)
    assert problem.kind is ProblemKind.BREAKING
    assert problem.location == "total"
    assert "type changed from integer to string" in problem.detail
    assert "ordering.order.v1" in problem.detail
    assert "OrderPlaced.schema_version to 2" in problem.detail


def test_generating_refuses_a_breaking_change_and_says_how_to_publish_a_new_major(
    tmp_path: Path,
) -> None:
    write_updates([context(tmp_path, order_placed_v1())])
    path = tmp_path / "schemas" / "OrderPlaced.v1.json"
    baseline = path.read_bytes()

    with pytest.raises(BreakingChangeError) as refused:
        write_updates([context(tmp_path, event_class(order_id=str))])

    message = str(refused.value)
    assert "total: property removed" in message
    assert "schema_version to 2" in message
    assert "OrderPlaced.v2.json" in message
    assert "ordering.order.v2" in message
    assert path.read_bytes() == baseline


def test_a_refusal_writes_nothing_at_all(tmp_path: Path) -> None:
    write_updates([context(tmp_path, order_placed_v1())])
    newcomer = event_class("OrderShipped", carrier=str)

    with pytest.raises(BreakingChangeError):
        write_updates([context(tmp_path, newcomer, event_class(order_id=str))])

    assert not (tmp_path / "schemas" / "OrderShipped.v1.json").exists()


def test_a_new_major_gets_its_own_file_and_the_old_one_stays(tmp_path: Path) -> None:
    write_updates([context(tmp_path, order_placed_v1())])
    old_file = tmp_path / "schemas" / "OrderPlaced.v1.json"
    baseline = old_file.read_bytes()
    v2 = context(tmp_path, event_class(major=2, order_id=str))

    [update] = write_updates([v2])

    assert update.status is UpdateStatus.CREATED
    assert update.path.name == "OrderPlaced.v2.json"
    assert old_file.read_bytes() == baseline
    assert check_events(v2) == []  # v1 is a retired major, not an orphan


def test_both_majors_can_be_published_during_a_migration(tmp_path: Path) -> None:
    v1, v2 = order_placed_v1(), event_class(major=2, order_id=str)
    published = context(tmp_path, v1, v2)

    write_updates([published])

    assert sorted(path.name for path in (tmp_path / "schemas").iterdir()) == [
        "OrderPlaced.v1.json",
        "OrderPlaced.v2.json",
    ]
    assert check_events(published) == []


def test_allow_breaking_overwrites_the_baseline(tmp_path: Path) -> None:
    write_updates([context(tmp_path, order_placed_v1())])
    broken = context(tmp_path, event_class(order_id=str))

    [update] = write_updates([broken], allow_breaking=True)

    assert [str(change) for change in update.breaking] == ["total: property removed"]
    assert check_events(broken) == []


def test_files_no_published_event_accounts_for_are_orphans(tmp_path: Path) -> None:
    published = context(tmp_path, order_placed_v1())
    write_updates([published])
    schemas = tmp_path / "schemas"
    for name in ("OrderCancelled.v1.json", "OrderPlaced.v3.json", "order-placed.json"):
        (schemas / name).write_text("{}\n", encoding="utf-8")
    (schemas / "README.md").write_text("notes\n", encoding="utf-8")

    problems = check_events(published)

    assert [(p.kind, p.subject) for p in problems] == [
        (ProblemKind.ORPHAN, "OrderCancelled.v1.json"),
        (ProblemKind.ORPHAN, "OrderPlaced.v3.json"),
        (ProblemKind.ORPHAN, "order-placed.json"),
    ]
    assert "published at v1, not v3" in problems[1].detail


def test_an_unreadable_baseline_is_invalid_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "schemas" / "OrderPlaced.v1.json"
    path.parent.mkdir()
    path.write_text('{"truncated": ', encoding="utf-8")
    published = context(tmp_path, order_placed_v1())

    [problem] = check_events(published)
    assert problem.kind is ProblemKind.INVALID
    assert "not valid JSON" in problem.detail
    with pytest.raises(ContractError, match="restore it from version control"):
        write_updates([published])
    assert path.read_text(encoding="utf-8") == '{"truncated": '


class Opaque:
    """A type pydantic has no schema for."""


def test_an_event_without_a_json_schema_is_invalid(tmp_path: Path) -> None:
    published = context(tmp_path, event_class(payload=Opaque))

    [problem] = check_events(published)
    assert problem.kind is ProblemKind.INVALID
    assert "no JSON Schema can be generated" in problem.detail
    with pytest.raises(ContractError, match="no JSON Schema can be generated"):
        write_updates([published])


def test_a_file_laid_out_differently_is_not_stale_but_is_rewritten(tmp_path: Path) -> None:
    event = order_placed_v1()
    path = tmp_path / "schemas" / "OrderPlaced.v1.json"
    path.parent.mkdir()
    path.write_text(json.dumps(generate_schema(event)), encoding="utf-8")
    published = context(tmp_path, event)

    assert check_events(published) == []
    [update] = write_updates([published])
    assert update.status is UpdateStatus.REFORMATTED
    assert path.read_text(encoding="utf-8") == render(generate_schema(event))


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([order_placed_v1()], "must be a tuple"),
        ((DomainEvent,), "not an event class"),
        ((str,), "not an event class"),
        ((order_placed_v1(), order_placed_v1()), "both publish OrderPlaced.v1.json"),
        ((event_class(major=0, a=int),), "positive int"),
    ],
)
def test_a_wrong_declaration_is_refused(events: Any, message: str, tmp_path: Path) -> None:
    with pytest.raises(ContractError, match=re.escape(message)):
        PublishedEvents("ordering", events, tmp_path)


def test_an_event_of_another_context_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match=re.escape("its topic would be ordering.order.v1")):
        PublishedEvents("billing", (order_placed_v1(),), tmp_path)


def test_domain_events_left_out_of_the_declaration_are_unlisted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module_name = "contexts.ordering.domain.orders"
    module = ModuleType(module_name)
    monkeypatch.setitem(sys.modules, module_name, module)

    def define(name: str, *bases: type, **fields: Any) -> type[DomainEvent]:
        cls = make_dataclass(name, list(fields.items()), bases=bases, frozen=True, kw_only=True)
        cls.__module__ = module_name
        setattr(module, name, cls)
        return cls

    base = define("OrderEvent", OrderingEvent)
    placed = define("OrderPlaced", base, order_id=str)
    shipped = define("OrderShipped", base, carrier=str)
    audited = define("OrderAudited", base, auditor=str)
    module.Imported = OrderingEvent  # imported from elsewhere: not this module's event

    published = PublishedEvents("ordering", (placed,), tmp_path, internal=(audited,))

    assert unlisted_events(published) == [shipped]


def test_discovery_needs_a_contexts_directory(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="no contexts directory"):
        discover(tmp_path)


def test_discovery_refuses_a_tree_other_than_the_imported_one(tmp_path: Path) -> None:
    (tmp_path / "contexts").mkdir()
    with pytest.raises(ContractError, match="importable contexts package"):
        discover(tmp_path)
