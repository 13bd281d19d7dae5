"""Data product descriptors: generated from the code, and every port declared exactly once.

The first tests hold the real source tree to the convention (the gate CI runs). The
others work on a synthetic ``widgets`` product served by a small router, a pyarrow
schema and an output topic, with its descriptors in a temporary folder, so that each
rule is shown to fail when it should.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from fastapi import APIRouter
from pydantic import BaseModel, Field
from typer.testing import CliRunner

from dpmesh.commands.contracts import app as contracts_cli
from dpmesh.governance import product_contracts
from dpmesh.governance.product_contracts import (
    ContextProducts,
    PortType,
    ProblemKind,
    ServedPorts,
    UpdateStatus,
    check_context,
    generate_schema,
    load_descriptors,
    plan_updates,
    served_port_loaders,
    splice_schema,
    write_updates,
)
from shared_kernel.interfaces.served import StreamPayload

ROOT = product_contracts.default_root()
SUPPLY_CHAIN = ROOT / "contexts" / "supply_chain" / "dataproduct"


@pytest.fixture(scope="module")
def supply_chain() -> ServedPorts:
    return served_port_loaders()["supply_chain"]()


# -- the source tree -----------------------------------------------------------------------


def test_the_checked_in_descriptors_match_the_code() -> None:
    problems = product_contracts.check(ROOT)

    assert problems == [], "\n".join(map(str, problems))


def test_every_port_the_supply_chain_serves_has_its_contract(supply_chain: ServedPorts) -> None:
    descriptors, unreadable = load_descriptors("supply_chain", SUPPLY_CHAIN)
    declared = {
        product_contracts.contract_port(contract.data) for contract in descriptors.contracts
    }

    assert unreadable == []
    assert declared == supply_chain.ports()
    routes = {route.path for route in supply_chain.routes()}
    declared_routes = {
        obj["physicalName"]
        for contract in descriptors.contracts
        for obj in contract.data["schema"]
        if obj["physicalType"] == "endpoint"
    }
    assert declared_routes == routes
    assert "/api/v1/products/inventory-levels/{warehouse}/{sku}" in routes
    assert "supply_chain.alerts.v1" in supply_chain.output_topics


def test_the_alerts_stream_contract_is_what_the_worker_publishes(
    supply_chain: ServedPorts,
) -> None:
    from contexts.supply_chain.application.analytics import Alert, AlertType, Severity
    from contexts.supply_chain.interfaces.streams.analytics import alert_payload

    moment = datetime(2025, 3, 9, 11, tzinfo=UTC)
    alert = Alert(
        "a-1",
        AlertType.STOCK_OUT_RISK,
        "LYS-1:KD-HUB-200",
        Severity.CRITICAL,
        moment,
        None,
        {"available": "116", "lead_time_days": 5},
        moment,
    )
    payload = json.loads(json.dumps(alert_payload(alert)))
    contract = yaml.safe_load((SUPPLY_CHAIN / "alerts.stream.odcs.yaml").read_text())
    (topic,) = contract["schema"]
    json_types = {"string": str, "boolean": bool, "object": dict, "integer": int}

    assert topic["physicalName"] == "supply_chain.alerts.v1"
    assert [prop["name"] for prop in topic["properties"]] == list(payload)
    for prop in topic["properties"]:
        value = payload[prop["name"]]
        if value is None:
            assert not prop["required"], prop["name"]
        else:
            assert isinstance(value, json_types[prop["physicalType"]]), prop["name"]
    enums = {
        prop["name"]: prop["quality"][0]["arguments"]["validValues"]
        for prop in topic["properties"]
        if "quality" in prop
    }
    assert enums == {
        "type": ["stock_out_risk", "delivery_delay"],
        "severity": ["warning", "critical"],
    }


def test_snapshot_contracts_follow_the_parquet_schemas(supply_chain: ServedPorts) -> None:
    from contexts.supply_chain.infrastructure.analytics.snapshots import SCHEMAS

    contract = yaml.safe_load((SUPPLY_CHAIN / "inventory-levels.snapshots.odcs.yaml").read_text())
    (table,) = contract["schema"]
    by_name = {prop["name"]: prop for prop in table["properties"]}

    assert [p["name"] for p in table["properties"]] == ["date", *SCHEMAS["inventory-levels"].names]
    assert by_name["date"]["partitioned"] is True
    assert [
        (p["name"], p["primaryKeyPosition"]) for p in table["properties"] if "primaryKey" in p
    ] == [
        ("date", 1),
        ("warehouse", 2),
        ("sku", 3),
    ]
    assert by_name["available"] | {"description": None} == {
        "name": "available",
        "logicalType": "number",
        "physicalType": "decimal128(18, 6)",
        "required": True,
        "description": None,
    }
    assert by_name["stock_out_on"]["logicalType"] == "date"
    assert by_name["stock_out_on"]["required"] is False
    assert by_name["as_of"]["physicalType"] == "timestamp[us, tz=UTC]"
    timelines = yaml.safe_load(
        (SUPPLY_CHAIN / "delivery-timelines.snapshots.odcs.yaml").read_text()
    )
    legs = next(p for p in timelines["schema"][0]["properties"] if p["name"] == "legs")
    assert legs["logicalType"] == "array"
    assert legs["items"]["physicalType"] == "struct"
    assert "carrier" in [p["name"] for p in legs["items"]["properties"]]


def test_the_products_command_passes_on_the_source_tree() -> None:
    result = CliRunner().invoke(contracts_cli, ["products", "check", "--root", str(ROOT)])

    assert result.exit_code == 0, result.output
    assert "4 product(s), 9 contract(s)" in " ".join(result.output.split())


# -- a synthetic product -------------------------------------------------------------------


class Size(StrEnum):
    SMALL = "small"
    LARGE = "large"


class WidgetOut(BaseModel):
    code: str
    size: Size
    price: Decimal = Field(description="Unit price, exact.")
    made_on: date | None
    as_of: datetime


class WidgetsPage(BaseModel):
    count: int
    items: list[WidgetOut]


def widget_router(extra_route: bool = False, item: type[BaseModel] = WidgetOut) -> APIRouter:
    router = APIRouter(prefix="/api/v1/products")

    @router.get("/widgets", response_model=WidgetsPage)
    async def widgets(limit: int = 10) -> dict[str, Any]:
        """Every widget."""
        return {}

    @router.get("/widgets/{code}", response_model=item)
    async def widget(code: str) -> dict[str, Any]:
        return {}

    if extra_route:

        @router.get("/gadgets", response_model=WidgetsPage)
        async def gadgets() -> dict[str, Any]:
            return {}

    return router


def snapshot_file(root: Path, product: str, day: date) -> Path:
    return Path(root) / product / f"day={day.isoformat()}" / "data.parquet"


def served(**changes: Any) -> ServedPorts:
    ports = ServedPorts(
        context="shop",
        router=widget_router(),
        snapshots={
            "widgets": pa.schema(
                [
                    pa.field("code", pa.string(), nullable=False),
                    pa.field("price", pa.decimal128(12, 2), nullable=False),
                    pa.field("made_on", pa.date32()),
                ]
            )
        },
        snapshot_path=snapshot_file,
        output_topics=("shop.widgets.v1",),
        payloads={
            "shop.widgets.v1": StreamPayload(
                product="widgets",
                model=WidgetOut,
                fields=("code", "size", "as_of"),
                event_types=("shop.WidgetChanged",),
                key="code",
            )
        },
        input_topics=frozenset({"shop.orders.v1"}),
    )
    return replace(ports, **changes)


CONTRACTS = {
    "rest": {"type": "api", "location": "http://127.0.0.1:8000/api/v1/products/widgets"},
    "stream": {"type": "kafka", "host": "127.0.0.1:9092"},
    "snapshots": {"type": "local", "format": "parquet", "path": "./var/widgets/*/*.parquet"},
}
PORT_TYPES = {"rest": "rest", "stream": "kafka", "snapshots": "parquet"}


def contract(port: str, **changes: Any) -> dict[str, Any]:
    document = {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": f"urn:dpmesh:shop:widgets:{port}",
        "version": "1.0.0",
        "status": "active",
        "dataProduct": "widgets",
        "servers": [{"server": port, **CONTRACTS[port]}],
        "schema": [],
        "roles": [{"role": "shop:widgets:read", "access": "read"}],
    }
    return document | changes


def product(**changes: Any) -> dict[str, Any]:
    document = {
        "apiVersion": "v1.1.0",
        "kind": "DataProduct",
        "id": "urn:dpmesh:shop:widgets",
        "name": "widgets",
        "domain": "shop",
        "inputPorts": [
            {
                "name": "shop.orders.v1",
                "customProperties": [{"property": "sourceType", "value": "kafkaTopic"}],
            }
        ],
        "outputPorts": [
            {
                "name": port,
                "type": PORT_TYPES[port],
                "version": "1.0.0",
                "contractId": f"urn:dpmesh:shop:widgets:{port}",
                "customProperties": [{"property": "accessScope", "value": "shop:widgets:read"}],
            }
            for port in CONTRACTS
        ],
    }
    return document | changes


Folder = Callable[..., ContextProducts]


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    """Write the given descriptors (file name -> document) and load them with ``ports``."""

    def make(files: dict[str, dict[str, Any]], ports: ServedPorts | None = None) -> ContextProducts:
        for existing in tmp_path.glob("*.yaml"):
            existing.unlink()
        for name, document in files.items():
            (tmp_path / name).write_text(yaml.safe_dump(document, sort_keys=False))
        descriptors, unreadable = load_descriptors("shop", tmp_path)
        return ContextProducts(ports or served(), descriptors, tuple(unreadable))

    return make


def complete() -> dict[str, dict[str, Any]]:
    return {
        "widgets.odps.yaml": product(),
        **{f"widgets.{port}.odcs.yaml": contract(port) for port in CONTRACTS},
    }


def generated(folder: Folder, files: dict[str, dict[str, Any]] | None = None) -> ContextProducts:
    """The folder with every contract's schema generated, reloaded."""
    products = folder(files or complete())
    write_updates([products])
    descriptors, _ = load_descriptors("shop", products.descriptors.directory)
    return ContextProducts(products.served, descriptors)


def kinds(products: ContextProducts) -> list[tuple[ProblemKind, str]]:
    return [(problem.kind, problem.subject) for problem in check_context(products)]


def test_contracts_hold_once_their_schemas_are_generated(folder: Folder) -> None:
    fresh = folder(complete())

    assert {kind for kind, _ in kinds(fresh)} == {ProblemKind.STALE}
    assert kinds(generated(folder)) == []


def test_a_rest_schema_is_generated_from_the_response_models() -> None:
    page, item = generate_schema(served(), "widgets", PortType.REST)

    assert (page["name"], page["physicalName"]) == ("widgets_page", "/api/v1/products/widgets")
    assert page["description"] == "Every widget."
    assert page["customProperties"] == [
        {
            "property": "queryParameters",
            "value": [{"name": "limit", "type": "integer", "default": 10}],
        }
    ]
    assert (item["name"], item["physicalName"]) == ("widget", "/api/v1/products/widgets/{code}")
    props = {prop["name"]: prop for prop in item["properties"]}
    assert props["code"]["primaryKey"] is True
    assert (props["price"]["logicalType"], props["price"]["physicalType"]) == ("number", "string")
    assert props["price"]["description"] == "Unit price, exact."
    assert (props["made_on"]["logicalType"], props["made_on"]["required"]) == ("date", False)
    assert props["as_of"]["logicalType"] == "timestamp"
    assert props["size"]["quality"][0]["arguments"] == {"validValues": ["small", "large"]}
    items = next(prop for prop in page["properties"] if prop["name"] == "items")
    assert [p["name"] for p in items["items"]["properties"]] == list(props)


def test_a_snapshot_schema_takes_the_partition_from_the_file_layout() -> None:
    (table,) = generate_schema(served(), "widgets", PortType.PARQUET)

    first = table["properties"][0]
    assert (first["name"], first["partitioned"], first["primaryKeyPosition"]) == ("day", True, 1)
    code = table["properties"][1]
    assert (code["name"], code["primaryKeyPosition"], code["physicalType"]) == ("code", 2, "string")
    assert table["properties"][2]["description"] == "Unit price, exact."
    assert table["properties"][2]["physicalType"] == "decimal128(12, 2)"


def test_a_changed_model_makes_its_contracts_stale(folder: Folder, tmp_path: Path) -> None:
    generated(folder)

    class WiderWidget(WidgetOut):
        colour: str

    descriptors, _ = load_descriptors("shop", tmp_path)
    changed = ContextProducts(served(router=widget_router(item=WiderWidget)), descriptors)

    problems = check_context(changed)

    assert [(p.kind, p.subject) for p in problems] == [
        (ProblemKind.STALE, "widgets.rest.odcs.yaml")
    ]
    assert "schema[wider_widget]" in problems[0].detail
    assert "dpmesh contracts products generate" in problems[0].detail


def test_a_port_the_code_serves_without_a_contract_is_missing(folder: Folder) -> None:
    files = complete()
    del files["widgets.stream.odcs.yaml"]
    files["widgets.odps.yaml"]["outputPorts"] = [
        port for port in files["widgets.odps.yaml"]["outputPorts"] if port["name"] != "stream"
    ]
    products = generated(folder, files)

    assert kinds(products) == [(ProblemKind.MISSING, "widgets (kafka)")]


def test_a_new_product_in_the_code_needs_descriptors(folder: Folder) -> None:
    products = generated(folder)
    more = ContextProducts(served(router=widget_router(extra_route=True)), products.descriptors)

    assert kinds(more) == [
        (ProblemKind.MISSING, "gadgets (rest)"),
        (ProblemKind.MISSING, "gadgets"),
    ]


def test_a_contract_for_a_port_the_code_lacks_is_unserved(folder: Folder) -> None:
    products = generated(folder)
    fewer = ContextProducts(served(output_topics=()), products.descriptors)

    assert kinds(fewer) == [(ProblemKind.UNSERVED, "widgets.stream.odcs.yaml")]


def test_an_output_topic_without_a_payload_description_is_missing(folder: Folder) -> None:
    products = generated(folder)
    more = ContextProducts(
        served(output_topics=("shop.widgets.v1", "shop.audit.v1")), products.descriptors
    )

    assert kinds(more) == [(ProblemKind.MISSING, "shop.audit.v1")]


def test_a_contract_no_product_refers_to_is_an_orphan(folder: Folder) -> None:
    files = complete()
    files["widgets.odps.yaml"]["outputPorts"] = files["widgets.odps.yaml"]["outputPorts"][:2]

    assert kinds(generated(folder, files)) == [(ProblemKind.ORPHAN, "widgets.snapshots.odcs.yaml")]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"id": "urn:dpmesh:shop:gizmos"}, "id must be urn:dpmesh:shop:widgets"),
        ({"domain": "retail"}, "domain must be the context"),
        (
            {
                "inputPorts": [
                    {
                        "name": "shop.returns.v1",
                        "customProperties": [{"property": "sourceType", "value": "kafkaTopic"}],
                    }
                ]
            },
            "the worker reads no such topic",
        ),
        (
            {
                "inputPorts": [
                    {
                        "name": "courier",
                        "customProperties": [
                            {"property": "sourceType", "value": "externalSystem"},
                            {"property": "acl", "value": "shop.acl.courier"},
                        ],
                    }
                ]
            },
            "is not an anti-corruption layer",
        ),
        ({"inputPorts": []}, "a product needs input ports"),
    ],
)
def test_product_files_must_agree_with_the_context(
    folder: Folder, change: dict[str, Any], expected: str
) -> None:
    files = complete()
    files["widgets.odps.yaml"] = product(**change)

    problems = check_context(generated(folder, files))

    assert [p.kind for p in problems] == [ProblemKind.INVALID]
    assert expected in problems[0].detail


def test_an_output_port_must_agree_with_its_contract(folder: Folder) -> None:
    files = complete()
    ports = files["widgets.odps.yaml"]["outputPorts"]
    ports[0]["version"] = "2.0.0"
    ports[1]["type"] = "rest"
    ports[2]["customProperties"][0]["value"] = "shop:everything"

    details = [p.detail for p in check_context(generated(folder, files))]

    assert len(details) == 3
    assert "version '2.0.0' is not the contract's '1.0.0'" in details[0]
    assert "type must be kafka" in details[1]
    assert "accessScope 'shop:everything' is not a read role" in details[2]


def test_sla_elements_must_name_schema_elements(folder: Folder) -> None:
    files = complete()
    files["widgets.rest.odcs.yaml"]["slaProperties"] = [
        {"property": "latency", "value": 5, "unit": "s", "element": "widget.as_of"},
        {"property": "latency", "value": 5, "unit": "s", "element": "widget.asof"},
    ]

    problems = check_context(generated(folder, files))

    assert [(p.kind, p.subject) for p in problems] == [
        (ProblemKind.INVALID, "widgets.rest.odcs.yaml")
    ]
    assert "'widget.asof'" in problems[0].detail


def test_two_contracts_for_one_port_are_refused(folder: Folder) -> None:
    files = complete()
    files["widgets.rest2.odcs.yaml"] = contract("rest", id="urn:dpmesh:shop:widgets:rest2")

    assert (ProblemKind.INVALID, "widgets.rest2.odcs.yaml") in kinds(generated(folder, files))


def test_an_unreadable_descriptor_is_reported_not_raised(folder: Folder, tmp_path: Path) -> None:
    products = generated(folder)
    (tmp_path / "widgets.rest.odcs.yaml").write_text("schema: [unclosed\n")
    descriptors, unreadable = load_descriptors("shop", tmp_path)

    problems = check_context(ContextProducts(products.served, descriptors, tuple(unreadable)))

    assert (ProblemKind.INVALID, "widgets.rest.odcs.yaml") in [
        (p.kind, p.subject) for p in problems
    ]


# -- regeneration --------------------------------------------------------------------------


def test_regenerating_touches_only_the_schema_block() -> None:
    text = (
        "# Written by the team.\n"
        "apiVersion: v3.1.0\n"
        "schema:\n"
        "- name: old\n"
        "  properties: []\n"
        "\n"
        "# The promises.\n"
        "slaProperties:\n"
        "- property: latency  # seconds\n"
        "  value: 5\n"
    )
    schema = [{"name": "widget", "properties": [{"name": "code"}]}]

    spliced = splice_schema(text, schema)

    assert spliced.startswith(
        "# Written by the team.\napiVersion: v3.1.0\nschema:\n- name: widget\n"
    )
    assert spliced.endswith(
        "\n# The promises.\nslaProperties:\n- property: latency  # seconds\n  value: 5\n"
    )
    assert yaml.safe_load(spliced)["schema"] == schema


def test_a_contract_without_a_schema_block_gets_one_at_the_end() -> None:
    spliced = splice_schema("apiVersion: v3.1.0\nkind: DataContract", [{"name": "t"}])

    assert spliced == "apiVersion: v3.1.0\nkind: DataContract\nschema:\n- name: t\n"


def test_generate_reports_what_it_changed_and_is_then_idempotent(folder: Folder) -> None:
    products = folder(complete())

    first = write_updates([products])
    descriptors, _ = load_descriptors("shop", products.descriptors.directory)
    second = plan_updates(ContextProducts(products.served, descriptors))

    assert {update.status for update in first} == {UpdateStatus.UPDATED}
    assert {update.status for update in second} == {UpdateStatus.UNCHANGED}
    assert len(second) == 3


def test_the_check_command_fails_with_a_table_of_problems(
    folder: Folder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    products = folder(complete())
    monkeypatch.setattr(product_contracts, "discover", lambda root: [products])

    failed = CliRunner().invoke(contracts_cli, ["products", "check", "--root", str(tmp_path)])
    regenerated = CliRunner().invoke(
        contracts_cli, ["products", "generate", "--root", str(tmp_path)]
    )
    descriptors, _ = load_descriptors("shop", tmp_path)
    monkeypatch.setattr(
        product_contracts, "discover", lambda root: [ContextProducts(products.served, descriptors)]
    )
    passed = CliRunner().invoke(contracts_cli, ["products", "check", "--root", str(tmp_path)])

    assert failed.exit_code == 1
    assert "stale" in failed.output
    assert regenerated.exit_code == 0, regenerated.output
    assert passed.exit_code == 0, passed.output
