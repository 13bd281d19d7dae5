"""``dpmesh contracts check`` and ``generate`` on a fake context in a temporary directory."""

from dataclasses import dataclass, make_dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from dpmesh.commands.contracts import app
from dpmesh.governance import event_contracts
from dpmesh.governance.event_contracts import PublishedEvents
from shared_kernel.domain.events import DomainEvent

runner = CliRunner()


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderingEvent(DomainEvent):
    context: ClassVar[str] = "ordering"
    aggregate_type: ClassVar[str] = "order"


def order_placed(**fields: Any) -> type[DomainEvent]:
    return make_dataclass(
        "OrderPlaced", list(fields.items()), bases=(OrderingEvent,), frozen=True, kw_only=True
    )


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Make discovery find one context publishing the given events, with schemas in tmp_path."""

    def serve(*events: type[DomainEvent]) -> Path:
        catalogue = [PublishedEvents("ordering", events, tmp_path / "schemas")]
        monkeypatch.setattr(event_contracts, "discover", lambda root: catalogue)
        return tmp_path / "schemas" / "OrderPlaced.v1.json"

    return serve


def invoke(*args: str, root: Path) -> Any:
    return runner.invoke(app, [*args, "--root", str(root)])


def said(result: Any) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def test_check_fails_until_the_schemas_are_generated(serve: Any, tmp_path: Path) -> None:
    path = serve(order_placed(order_id=str))

    missing = invoke("check", root=tmp_path)
    assert missing.exit_code == 1
    assert "missing" in said(missing)

    generated = invoke("generate", root=tmp_path)
    assert generated.exit_code == 0, generated.output
    assert path.is_file()

    clean = invoke("check", root=tmp_path)
    assert clean.exit_code == 0, clean.output
    assert "1 schema(s) in 1 context(s)" in said(clean)


def test_generate_refuses_a_breaking_change_unless_allowed(serve: Any, tmp_path: Path) -> None:
    path = serve(order_placed(order_id=str, total=int))
    assert invoke("generate", root=tmp_path).exit_code == 0
    baseline = path.read_text(encoding="utf-8")
    serve(order_placed(order_id=str))

    assert invoke("check", root=tmp_path).exit_code == 1
    refused = invoke("generate", root=tmp_path)
    assert refused.exit_code == 1
    assert "Nothing written" in said(refused)
    assert "schema_version" in said(refused)
    assert path.read_text(encoding="utf-8") == baseline

    forced = invoke("generate", "--allow-breaking", root=tmp_path)
    assert forced.exit_code == 0, forced.output
    assert path.read_text(encoding="utf-8") != baseline
    assert invoke("check", root=tmp_path).exit_code == 0


def test_a_wrong_declaration_is_reported_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def discover(root: Path) -> list[PublishedEvents]:
        return [PublishedEvents("billing", (order_placed(order_id=str),), tmp_path)]

    monkeypatch.setattr(event_contracts, "discover", discover)

    result = invoke("check", root=tmp_path)

    assert result.exit_code == 2
    assert "Cannot check the event contracts" in said(result)
    assert "declares context 'ordering'" in said(result)
