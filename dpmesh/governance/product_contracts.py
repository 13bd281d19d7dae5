"""Data product descriptors: each context's ODPS products and ODCS contracts, and their gate.

The convention (docs/data-products.md):

- ``contexts/<ctx>/dataproduct/`` holds one ODPS file per data product,
  ``<product>.odps.yaml``, and one ODCS contract per product and port type,
  ``<product>.<port>.odcs.yaml``. The product's ``name`` is the one the code uses (the
  REST path segment, the snapshot folder); its ``id`` is its address,
  ``urn:dpmesh:<context>:<product>``.
- A contract names its product in ``dataProduct``; its port type follows from its
  servers: ``api`` is the REST port, ``kafka`` the output stream, ``local`` or ``s3``
  with format ``parquet`` the daily snapshots.
- The ``schema`` section of every contract is generated from the code that serves the
  port (:func:`generate_schema`): the pydantic response models of the REST routes, the
  pyarrow schemas of the snapshots, the payload model of an output topic. The checked-in
  section must equal the generated one; everything else in the file is written by the
  product's team and left as it is (comments included) when the section is regenerated.
- Every port the code serves is declared by exactly one contract, every contract
  declares a port the code serves, every contract is an output port of its product's
  ODPS file, and every ODPS input port names a topic the worker reads or an ACL the
  context has.

What the code serves is described by :class:`ServedPorts`, built per context by the
loaders in :data:`SERVED_PORTS`; the checks run on any :class:`ServedPorts` and any
directory, so they are tested on synthetic ones.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections import Counter, abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Final, Union, get_args, get_origin

import pyarrow as pa
import yaml
from fastapi.routing import APIRoute
from pydantic import BaseModel

from dpmesh.runtime.contexts import manifests
from shared_kernel.infrastructure.bitol import custom_property
from shared_kernel.interfaces.manifest import load_reference
from shared_kernel.interfaces.served import ServedCode, StreamPayload

__all__ = [
    "PRODUCTS_PATH",
    "ContextDescriptors",
    "ContextProducts",
    "ContractError",
    "ContractUpdate",
    "Descriptor",
    "PortType",
    "Problem",
    "ProblemKind",
    "ServedPorts",
    "UpdateStatus",
    "check",
    "check_context",
    "contract_port",
    "default_root",
    "discover",
    "generate_schema",
    "load_descriptors",
    "plan_updates",
    "product_urn",
    "render_schema",
    "served_port_loaders",
    "splice_schema",
    "write",
    "write_updates",
]

PRODUCTS_PATH: Final = "/api/v1/products"
DESCRIPTOR_DIR: Final = "dataproduct"
ODPS_SUFFIX: Final = ".odps.yaml"
ODCS_SUFFIX: Final = ".odcs.yaml"
ODPS_VERSIONS: Final = frozenset({"v1.0.0", "v1.1.0"})
ODCS_VERSIONS: Final = frozenset({"v3.0.2", "v3.1.0"})
#: Custom properties this convention reads.
ACCESS_SCOPE: Final = "accessScope"
SOURCE_TYPE: Final = "sourceType"
ACL: Final = "acl"
KAFKA_TOPIC_SOURCE: Final = "kafkaTopic"
EXTERNAL_SOURCE: Final = "externalSystem"
_GENERATE: Final = "run `dpmesh contracts products generate` and commit the file"
_TOP_LEVEL_KEY: Final = re.compile(r"^[A-Za-z_$][\w$-]*\s*:")
_PATH_PARAM: Final = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


class ContractError(Exception):
    """A descriptor cannot be read or generated, or the code cannot be described."""


class PortType(StrEnum):
    REST = "rest"
    KAFKA = "kafka"
    PARQUET = "parquet"


class ProblemKind(StrEnum):
    MISSING = "missing"  # the code serves a port (or product) that no descriptor declares
    UNSERVED = "unserved"  # a contract declares a port the code does not serve
    STALE = "stale"  # a contract's schema differs from the one generated from the code
    ORPHAN = "orphan"  # a contract that no product's output port refers to
    INVALID = "invalid"  # a descriptor that is unreadable or contradicts the convention


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the descriptors of a context do not match its code."""

    kind: ProblemKind
    context: str
    subject: str  # a file name, or the port for MISSING
    detail: str
    path: Path | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.context}/{self.subject}: {self.detail}"


@dataclass(frozen=True, slots=True)
class ServedPorts(ServedCode):
    """What one context's code serves (:class:`ServedCode`), as the truth its
    descriptors are checked against: the REST ports are the router's GET routes under
    ``/api/v1/products/``, grouped by their first path segment (the product)."""

    @classmethod
    def of(cls, code: ServedCode) -> ServedPorts:
        """The ports of what a context's composition root says its code serves."""
        return cls(**{item.name: getattr(code, item.name) for item in fields(code)})

    def routes(self, product: str | None = None) -> list[APIRoute]:
        """The GET routes of the products (of one product), in declaration order."""
        found = []
        for route in self.router.routes:
            if not isinstance(route, APIRoute) or "GET" not in (route.methods or ()):
                continue
            served = _route_product(route.path)
            if served is not None and (product is None or served == product):
                found.append(route)
        return found

    def ports(self) -> set[tuple[str, PortType]]:
        """Every ``(product, port type)`` the code serves."""
        served = {(_route_product(route.path) or "", PortType.REST) for route in self.routes()}
        served |= {
            (self.payloads[topic].product, PortType.KAFKA)
            for topic in self.output_topics
            if topic in self.payloads
        }
        served |= {(product, PortType.PARQUET) for product in self.snapshots}
        return served

    def item_keys(self, product: str) -> tuple[str, ...]:
        """The key of one row: the path parameters of the product's single-row route."""
        for route in self.routes(product):
            names = tuple(_PATH_PARAM.findall(route.path))
            if names:
                return names
        return ()

    def item_model(self, product: str) -> type[BaseModel] | None:
        for route in self.routes(product):
            model = route.response_model
            if _PATH_PARAM.search(route.path) and _is_model(model):
                return model  # type: ignore[no-any-return]
        return None


@dataclass(frozen=True, slots=True)
class Descriptor:
    """One YAML descriptor file: its text and what it parses to."""

    path: Path
    text: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ContextDescriptors:
    context: str
    directory: Path
    products: tuple[Descriptor, ...] = ()
    contracts: tuple[Descriptor, ...] = ()


@dataclass(frozen=True, slots=True)
class ContextProducts:
    """A context's served ports and its descriptors, with the problems met reading them."""

    served: ServedPorts
    descriptors: ContextDescriptors
    unreadable: tuple[Problem, ...] = field(default=())


class UpdateStatus(StrEnum):
    UPDATED = "updated"
    REFORMATTED = "reformatted"  # same schema, laid out differently
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class ContractUpdate:
    """What regenerating one contract's schema does to its file."""

    context: str
    path: Path
    text: str
    status: UpdateStatus


# -- names and addresses -------------------------------------------------------------------


def product_urn(context: str, product: str) -> str:
    """``urn:dpmesh:<context>:<product>``: the address of a product in the catalog."""
    return f"urn:dpmesh:{context}:{product}"


def _route_product(path: str) -> str | None:
    prefix = PRODUCTS_PATH + "/"
    if not path.startswith(prefix):
        return None
    product = path[len(prefix) :].split("/", 1)[0]
    return product or None


def _element_name(model: type) -> str:
    """``InventoryLevelOut`` -> ``inventory_level``; ``AlertsPage`` -> ``alerts_page``."""
    name = model.__name__.removesuffix("Out")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _is_model(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


# -- schema generation ---------------------------------------------------------------------


def generate_schema(served: ServedPorts, product: str, port: PortType) -> list[dict[str, Any]]:
    """The ODCS ``schema`` section of ``product``'s ``port``, from the code serving it."""
    if port is PortType.REST:
        routes = served.routes(product)
        if not routes:
            raise ContractError(f"no GET route serves {PRODUCTS_PATH}/{product}")
        return [_route_object(route) for route in routes]
    if port is PortType.KAFKA:
        topics = [
            topic
            for topic in served.output_topics
            if topic in served.payloads and served.payloads[topic].product == product
        ]
        if not topics:
            raise ContractError(f"no output topic carries {product}")
        return [_topic_object(topic, served.payloads[topic]) for topic in topics]
    if product not in served.snapshots:
        raise ContractError(f"no snapshot schema for {product}")
    return [_snapshot_object(served, product)]


def _route_object(route: APIRoute) -> dict[str, Any]:
    model = route.response_model
    if not _is_model(model):
        raise ContractError(f"GET {route.path} has no pydantic response_model")
    keys = tuple(_PATH_PARAM.findall(route.path))
    element: dict[str, Any] = {
        "name": _element_name(model),
        "physicalName": route.path,
        "physicalType": "endpoint",
        "logicalType": "object",
    }
    description = route.description or model.__doc__
    if description:
        element["description"] = _one_paragraph(description)
    element["properties"] = _model_properties(model, primary=keys)
    query = _query_parameters(route)
    if query:
        element["customProperties"] = [{"property": "queryParameters", "value": query}]
    return element


def _query_parameters(route: APIRoute) -> list[dict[str, Any]]:
    parameters = []
    for param in route.dependant.query_params:
        spec, _ = _json_spec(param.field_info.annotation, f"GET {route.path}?{param.name}")
        entry: dict[str, Any] = {"name": param.alias, "type": spec["physicalType"]}
        default = param.field_info.default
        if isinstance(default, Enum):
            default = default.value
        if isinstance(default, str | int | float | bool) and not isinstance(default, Enum):
            entry["default"] = default
        parameters.append(entry)
    return parameters


def _topic_object(topic: str, payload: StreamPayload) -> dict[str, Any]:
    element: dict[str, Any] = {
        "name": _element_name(payload.model),
        "physicalName": topic,
        "physicalType": "topic",
        "logicalType": "object",
    }
    if payload.model.__doc__:
        element["description"] = _one_paragraph(payload.model.__doc__)
    element["properties"] = _model_properties(payload.model, only=payload.fields)
    element["customProperties"] = [
        {"property": "cloudEventsTypes", "value": list(payload.event_types)},
        {"property": "messageKey", "value": payload.key},
    ]
    return element


def _snapshot_object(served: ServedPorts, product: str) -> dict[str, Any]:
    """One Hive-partitioned Parquet dataset: ``<product>/<key>=<day>/<file>``."""
    sample = served.snapshot_path(Path("root"), product, date(2000, 1, 31))
    parts = sample.relative_to("root").parts
    if len(parts) != 3 or "=" not in parts[1]:
        raise ContractError(f"snapshot_path gives {sample}, not <product>/<key>=<day>/<file>")
    folder, (partition, _, day) = parts[0], parts[1].partition("=")
    if day != "2000-01-31":
        raise ContractError(f"the snapshot partition {parts[1]} is not the ISO day")
    keys = served.item_keys(product)
    descriptions = _descriptions(served.item_model(product))
    properties: list[dict[str, Any]] = [
        _property(
            partition,
            {"logicalType": "date", "physicalType": "hive partition"},
            required=True,
            primary=1,
            partition=1,
            description=f"The snapshot's day: the folder {partition}=YYYY-MM-DD, not a column "
            "of the files.",
        )
    ]
    for arrow_field in served.snapshots[product]:
        position = keys.index(arrow_field.name) + 2 if arrow_field.name in keys else None
        properties.append(
            _property(
                arrow_field.name,
                _arrow_spec(arrow_field.type, f"{product}.{arrow_field.name}"),
                required=not arrow_field.nullable,
                primary=position,
                description=descriptions.get(arrow_field.name),
            )
        )
    return {
        "name": product.replace("-", "_"),
        "physicalName": folder,
        "physicalType": "table",
        "logicalType": "object",
        "description": f"Daily Parquet snapshot: {folder}/{partition}=YYYY-MM-DD/{parts[2]}.",
        "properties": properties,
    }


def _descriptions(model: type[BaseModel] | None) -> dict[str, str]:
    if model is None:
        return {}
    return {name: info.description for name, info in model.model_fields.items() if info.description}


def _model_properties(
    model: type[BaseModel], *, primary: Sequence[str] = (), only: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    fields = model.model_fields
    names = list(fields) if only is None else list(only)
    properties = []
    for name in names:
        info = fields.get(name)
        if info is None:
            raise ContractError(f"{model.__name__} has no field {name!r}")
        spec, nullable = _json_spec(info.annotation, f"{model.__name__}.{name}")
        properties.append(
            _property(
                info.serialization_alias or info.alias or name,
                spec,
                required=not nullable,
                primary=primary.index(name) + 1 if name in primary else None,
                description=info.description,
            )
        )
    return properties


def _property(
    name: str,
    spec: Mapping[str, Any],
    *,
    required: bool,
    primary: int | None = None,
    partition: int | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """An ODCS property, its keys always in the same order."""
    prop: dict[str, Any] = {
        "name": name,
        "logicalType": spec["logicalType"],
        "physicalType": spec["physicalType"],
        "required": required,
    }
    if primary is not None:
        prop["primaryKey"] = True
        prop["primaryKeyPosition"] = primary
    if partition is not None:
        prop["partitioned"] = True
        prop["partitionKeyPosition"] = partition
    if description:
        prop["description"] = _one_paragraph(description)
    for key in ("properties", "items", "quality"):
        if key in spec:
            prop[key] = spec[key]
    return prop


def _json_spec(annotation: Any, where: str) -> tuple[dict[str, Any], bool]:
    """ODCS types of a field as pydantic serializes it to JSON, and whether it may be null.

    The logical type is the meaning (a Decimal is a number, a datetime a timestamp);
    the physical type is the JSON type on the wire (both are JSON strings).
    """
    origin = get_origin(annotation)
    if origin is Annotated:
        return _json_spec(get_args(annotation)[0], where)
    if origin in (Union, UnionType):
        options = [arg for arg in get_args(annotation) if arg is not NoneType]
        if len(options) != 1:
            raise ContractError(f"{where}: a union of several types has no ODCS type")
        spec, _ = _json_spec(options[0], where)
        return spec, len(options) < len(get_args(annotation))
    if origin in (list, tuple, set, frozenset) or _is_sequence(origin):
        item, _ = _json_spec(get_args(annotation)[0], f"{where}[]")
        return {"logicalType": "array", "physicalType": "array", "items": item}, False
    if origin is dict or _is_mapping(origin):
        return {"logicalType": "object", "physicalType": "object"}, False
    if isinstance(annotation, type):
        return _json_class_spec(annotation, where), False
    raise ContractError(f"{where}: no ODCS type for {annotation!r}")


def _json_class_spec(cls: type, where: str) -> dict[str, Any]:
    if issubclass(cls, bool):
        return {"logicalType": "boolean", "physicalType": "boolean"}
    if issubclass(cls, Enum):
        values = [member.value for member in cls]
        physical = "string" if all(isinstance(v, str) for v in values) else "integer"
        return {
            "logicalType": physical,
            "physicalType": physical,
            "quality": [
                {
                    "type": "library",
                    "metric": "invalidValues",
                    "arguments": {"validValues": values},
                    "mustBe": 0,
                    "description": f"One of {', '.join(map(str, values))}.",
                }
            ],
        }
    if issubclass(cls, int):
        return {"logicalType": "integer", "physicalType": "integer"}
    if issubclass(cls, float):
        return {"logicalType": "number", "physicalType": "number"}
    if issubclass(cls, Decimal):
        return {"logicalType": "number", "physicalType": "string"}
    if issubclass(cls, datetime):
        return {"logicalType": "timestamp", "physicalType": "string"}
    if issubclass(cls, date):
        return {"logicalType": "date", "physicalType": "string"}
    if issubclass(cls, str):
        return {"logicalType": "string", "physicalType": "string"}
    if issubclass(cls, BaseModel):
        return {
            "logicalType": "object",
            "physicalType": "object",
            "properties": _model_properties(cls),
        }
    raise ContractError(f"{where}: no ODCS type for {cls.__name__}")


def _is_sequence(origin: object) -> bool:
    return origin in (abc.Sequence, abc.MutableSequence, abc.Iterable)


def _is_mapping(origin: object) -> bool:
    return origin in (abc.Mapping, abc.MutableMapping)


def _arrow_spec(arrow_type: pa.DataType, where: str) -> dict[str, Any]:
    """ODCS types of a Parquet column: the logical type, and pyarrow's name of the type."""
    types = pa.types
    simple = (
        (types.is_boolean, "boolean"),
        (types.is_integer, "integer"),
        (types.is_floating, "number"),
        (types.is_decimal, "number"),
        (types.is_date, "date"),
        (types.is_timestamp, "timestamp"),
        (types.is_string, "string"),
        (types.is_large_string, "string"),
    )
    for is_type, logical in simple:
        if is_type(arrow_type):
            physical = "bool" if logical == "boolean" else str(arrow_type)
            return {"logicalType": logical, "physicalType": physical}
    if types.is_list(arrow_type) or types.is_large_list(arrow_type):
        value = arrow_type.value_field
        item = _arrow_spec(value.type, f"{where}[]")
        return {
            "logicalType": "array",
            "physicalType": "list",
            "items": {**item, "required": not value.nullable},
        }
    if types.is_struct(arrow_type):
        return {
            "logicalType": "object",
            "physicalType": "struct",
            "properties": [
                _property(
                    child.name,
                    _arrow_spec(child.type, f"{where}.{child.name}"),
                    required=not child.nullable,
                )
                for child in arrow_type
            ],
        }
    raise ContractError(f"{where}: no ODCS type for the Parquet type {arrow_type}")


def _one_paragraph(text: str) -> str:
    return " ".join(text.split())


# -- YAML ----------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style, insertion order; multi-line strings as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def render_schema(schema: Sequence[Mapping[str, Any]]) -> str:
    """The ``schema:`` block of a contract file, in the standard layout."""
    return yaml.dump(
        {"schema": list(schema)},
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


def splice_schema(text: str, schema: Sequence[Mapping[str, Any]]) -> str:
    """``text`` with its top-level ``schema:`` block replaced by the rendered ``schema``.

    Only that block changes: the rest of the file, comments included, stays as written.
    A file without the block gets it at the end.
    """
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"^schema\s*:", line)), None)
    block = render_schema(schema)
    if start is None:
        head = text if not text or text.endswith("\n") else text + "\n"
        spliced = head + block
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if _TOP_LEVEL_KEY.match(lines[i])),
            len(lines),
        )
        # Comments and blank lines just above the next key belong to that key.
        while end - 1 > start and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
            end -= 1
        spliced = "".join([*lines[:start], block, *lines[end:]])
    before = _parse_text(text, "the file")
    after = _parse_text(spliced, "the spliced file")
    if after != {**before, "schema": list(schema)}:
        raise ContractError("the schema block could not be replaced without touching the rest")
    return spliced


def _parse_text(text: str, what: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ContractError(f"{what} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ContractError(f"{what} is not a YAML mapping")
    return data


# -- descriptors ---------------------------------------------------------------------------


def load_descriptors(context: str, directory: Path) -> tuple[ContextDescriptors, list[Problem]]:
    """The ODPS and ODCS files of ``directory``; unreadable ones are problems, not errors."""
    problems: list[Problem] = []
    loaded: dict[str, list[Descriptor]] = {ODPS_SUFFIX: [], ODCS_SUFFIX: []}
    paths = sorted(directory.iterdir()) if directory.is_dir() else []
    for path in paths:
        suffix = next((s for s in loaded if path.name.endswith(s)), None)
        if suffix is None:
            continue
        try:
            text = path.read_text(encoding="utf-8")
            loaded[suffix].append(Descriptor(path, text, _parse_text(text, path.name)))
        except (OSError, UnicodeDecodeError, ContractError) as exc:
            problems.append(Problem(ProblemKind.INVALID, context, path.name, str(exc), path))
    descriptors = ContextDescriptors(
        context, directory, tuple(loaded[ODPS_SUFFIX]), tuple(loaded[ODCS_SUFFIX])
    )
    return descriptors, problems


def contract_port(contract: Mapping[str, Any]) -> tuple[str, PortType]:
    """``(product, port type)`` a contract declares, from ``dataProduct`` and its servers."""
    product = contract.get("dataProduct")
    if not isinstance(product, str) or not product:
        raise ContractError("dataProduct must name the product")
    servers = contract.get("servers")
    if not isinstance(servers, list) or not servers:
        raise ContractError("a contract needs at least one server: where the port is served")
    kinds = {server.get("type") if isinstance(server, dict) else None for server in servers}
    if kinds == {"api"}:
        return product, PortType.REST
    if kinds == {"kafka"}:
        return product, PortType.KAFKA
    if kinds <= {"local", "s3"} and all(s.get("format") == "parquet" for s in servers):
        return product, PortType.PARQUET
    raise ContractError(
        f"servers of types {sorted(map(str, kinds))} declare no known port: use api (REST), "
        "kafka (output stream) or local/s3 with format parquet (snapshots), one kind per contract"
    )


# -- checks --------------------------------------------------------------------------------


def check_context(products: ContextProducts) -> list[Problem]:
    """Every way a context's descriptors disagree with its code or the convention."""
    served, descriptors = products.served, products.descriptors
    context = descriptors.context
    problems = list(products.unreadable)

    def problem(kind: ProblemKind, subject: str, detail: str, path: Path | None = None) -> None:
        problems.append(Problem(kind, context, subject, detail, path))

    served_ports = served.ports()
    for topic in served.output_topics:
        if topic not in served.payloads:
            problem(
                ProblemKind.MISSING,
                topic,
                "the worker writes this topic but no StreamPayload describes its data",
            )

    contracts: dict[str, tuple[Descriptor, str, PortType]] = {}
    declared: Counter[tuple[str, PortType]] = Counter()
    for contract in descriptors.contracts:
        name, data = contract.path.name, contract.data
        contract_id = data.get("id")
        if data.get("kind") != "DataContract" or data.get("apiVersion") not in ODCS_VERSIONS:
            problem(
                ProblemKind.INVALID,
                name,
                f"not an ODCS contract of a supported version ({', '.join(sorted(ODCS_VERSIONS))})",
                contract.path,
            )
            continue
        if not isinstance(contract_id, str) or contract_id in contracts:
            problem(
                ProblemKind.INVALID, name, f"id {contract_id!r} missing or repeated", contract.path
            )
            continue
        try:
            product, port = contract_port(data)
        except ContractError as exc:
            problem(ProblemKind.INVALID, name, str(exc), contract.path)
            continue
        contracts[contract_id] = (contract, product, port)
        declared[(product, port)] += 1
        if declared[(product, port)] > 1:
            problem(
                ProblemKind.INVALID,
                name,
                f"a second contract for the {port} port of {product}",
                contract.path,
            )
            continue
        if (product, port) not in served_ports:
            problem(
                ProblemKind.UNSERVED,
                name,
                f"declares the {port} port of {product}, which the code does not serve",
                contract.path,
            )
            continue
        problems.extend(_check_contract(served, contract, product, port))

    for product, port in sorted(served_ports - set(declared)):
        where = _served_where(served, product, port)
        problem(
            ProblemKind.MISSING,
            f"{product} ({port})",
            f"the code serves the {port} port of {product} ({where}) but no contract declares "
            f"it: add {product}.<port>{ODCS_SUFFIX} with dataProduct: {product}",
            descriptors.directory,
        )

    referenced: set[str] = set()
    named: set[str] = set()
    for odps in descriptors.products:
        problems.extend(_check_product(served, descriptors, odps, contracts, referenced, named))
    for product in sorted({product for product, _ in served_ports} - named):
        problem(
            ProblemKind.MISSING,
            product,
            f"the code serves {product} but no {product}{ODPS_SUFFIX} describes it",
            descriptors.directory,
        )
    for contract_id, (contract, _, _) in sorted(contracts.items()):
        if contract_id not in referenced:
            problem(
                ProblemKind.ORPHAN,
                contract.path.name,
                f"no output port of a product file refers to contract {contract_id}",
                contract.path,
            )
    return problems


def _served_where(served: ServedPorts, product: str, port: PortType) -> str:
    if port is PortType.REST:
        return ", ".join(f"GET {route.path}" for route in served.routes(product))
    if port is PortType.KAFKA:
        return ", ".join(
            topic
            for topic in served.output_topics
            if topic in served.payloads and served.payloads[topic].product == product
        )
    return f"snapshot {product}/"


def _check_contract(
    served: ServedPorts, contract: Descriptor, product: str, port: PortType
) -> list[Problem]:
    context, name, data = served.context, contract.path.name, contract.data
    problems = []

    def problem(kind: ProblemKind, detail: str) -> None:
        problems.append(Problem(kind, context, name, detail, contract.path))

    try:
        generated = generate_schema(served, product, port)
    except ContractError as exc:
        problem(ProblemKind.INVALID, f"no schema can be generated: {exc}")
        return problems
    checked_in = data.get("schema")
    if checked_in != generated:
        where = _first_difference(checked_in, generated, "schema")
        problem(ProblemKind.STALE, f"the schema differs from the code at {where}; {_GENERATE}")
    elements = {
        f"{obj.get('name')}.{prop.get('name')}"
        for obj in generated
        for prop in obj.get("properties", [])
    } | {str(obj.get("name")) for obj in generated}
    for sla in data.get("slaProperties") or []:
        element = sla.get("element") if isinstance(sla, dict) else None
        for part in str(element).split(",") if element else []:
            if part.strip() not in elements:
                problem(
                    ProblemKind.INVALID,
                    f"slaProperties element {part.strip()!r} is not an object or "
                    "<object>.<property> of the schema",
                )
    if not _read_scopes(data):
        problem(ProblemKind.INVALID, "no role with access: read names the scope readers need")
    return problems


def _check_product(
    served: ServedPorts,
    descriptors: ContextDescriptors,
    odps: Descriptor,
    contracts: Mapping[str, tuple[Descriptor, str, PortType]],
    referenced: set[str],
    named: set[str],
) -> list[Problem]:
    context, file_name, data = descriptors.context, odps.path.name, odps.data
    problems = []

    def problem(kind: ProblemKind, detail: str) -> None:
        problems.append(Problem(kind, context, file_name, detail, odps.path))

    if data.get("kind") != "DataProduct" or data.get("apiVersion") not in ODPS_VERSIONS:
        problem(
            ProblemKind.INVALID,
            f"not an ODPS product of a supported version ({', '.join(sorted(ODPS_VERSIONS))})",
        )
        return problems
    name = data.get("name")
    if not isinstance(name, str) or file_name != f"{name}{ODPS_SUFFIX}":
        problem(ProblemKind.INVALID, f"name {name!r} must be the file name before {ODPS_SUFFIX}")
        return problems
    named.add(name)
    if data.get("id") != product_urn(context, name):
        problem(ProblemKind.INVALID, f"id must be {product_urn(context, name)}")
    if data.get("domain") != context:
        problem(ProblemKind.INVALID, f"domain must be the context, {context}")
    for port in data.get("outputPorts") or []:
        label = f"output port {port.get('name')!r}"
        contract_id = port.get("contractId")
        if contract_id not in contracts:
            problem(ProblemKind.INVALID, f"{label}: contract {contract_id!r} is not in the folder")
            continue
        contract, product, port_type = contracts[contract_id]
        referenced.add(contract_id)
        if product != name:
            problem(ProblemKind.INVALID, f"{label}: contract {contract_id} belongs to {product}")
        if port.get("type") != port_type.value:
            problem(ProblemKind.INVALID, f"{label}: type must be {port_type.value}, as its servers")
        if port.get("version") != contract.data.get("version"):
            problem(
                ProblemKind.INVALID,
                f"{label}: version {port.get('version')!r} is not the contract's "
                f"{contract.data.get('version')!r}",
            )
        scope = custom_property(port, ACCESS_SCOPE)
        if scope not in _read_scopes(contract.data):
            problem(
                ProblemKind.INVALID,
                f"{label}: {ACCESS_SCOPE} {scope!r} is not a read role of {contract.path.name}",
            )
    if not data.get("inputPorts"):
        problem(ProblemKind.INVALID, "a product needs input ports: where its data comes from")
    for port in data.get("inputPorts") or []:
        port_name = port.get("name")
        source = custom_property(port, SOURCE_TYPE)
        if source == KAFKA_TOPIC_SOURCE:
            if port_name not in served.input_topics:
                problem(
                    ProblemKind.INVALID,
                    f"input port {port_name!r}: the worker reads no such topic "
                    f"(it reads {', '.join(sorted(served.input_topics))})",
                )
        elif source == EXTERNAL_SOURCE:
            acl = custom_property(port, ACL)
            if acl not in served.acls:
                problem(
                    ProblemKind.INVALID,
                    f"input port {port_name!r}: {ACL} {acl!r} is not an anti-corruption layer "
                    f"of the context ({', '.join(sorted(served.acls)) or 'none'})",
                )
        else:
            problem(
                ProblemKind.INVALID,
                f"input port {port_name!r}: {SOURCE_TYPE} must be {KAFKA_TOPIC_SOURCE} or "
                f"{EXTERNAL_SOURCE}",
            )
    return problems


def _read_scopes(contract: Mapping[str, Any]) -> set[str]:
    return {
        role["role"]
        for role in contract.get("roles") or []
        if isinstance(role, dict) and role.get("access") == "read" and role.get("role")
    }


def _first_difference(old: Any, new: Any, where: str) -> str:
    """The path of the first place two parsed documents differ, for a readable STALE."""
    if isinstance(old, list) and isinstance(new, list):
        for index, (a, b) in enumerate(zip(old, new, strict=False)):
            if a != b:
                label = b.get("name", index) if isinstance(b, dict) else index
                return _first_difference(a, b, f"{where}[{label}]")
        if len(old) != len(new):
            return f"{where} ({len(old)} item(s) checked in, {len(new)} generated)"
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*new, *(k for k in old if k not in new)]:
            if old.get(key) != new.get(key):
                return _first_difference(old.get(key), new.get(key), f"{where}.{key}")
    return f"{where} (checked in {_short(old)}, generated {_short(new)})"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- regeneration --------------------------------------------------------------------------


def plan_updates(products: ContextProducts) -> list[ContractUpdate]:
    """Each served contract with its schema regenerated; contracts that cannot be are skipped
    (``check`` reports them)."""
    served_ports = products.served.ports()
    updates = []
    for contract in products.descriptors.contracts:
        try:
            product, port = contract_port(contract.data)
            if (product, port) not in served_ports:
                continue
            text = splice_schema(contract.text, generate_schema(products.served, product, port))
        except ContractError:
            continue
        if contract.data.get("schema") != _parse_text(text, contract.path.name).get("schema"):
            status = UpdateStatus.UPDATED
        elif text != contract.text:
            status = UpdateStatus.REFORMATTED
        else:
            status = UpdateStatus.UNCHANGED
        updates.append(ContractUpdate(products.descriptors.context, contract.path, text, status))
    return updates


def write_updates(catalogue: Iterable[ContextProducts]) -> list[ContractUpdate]:
    """Regenerate the schema section of every served contract; never creates or deletes a file."""
    updates = [update for products in catalogue for update in plan_updates(products)]
    for update in updates:
        if update.status is not UpdateStatus.UNCHANGED:
            update.path.write_text(update.text, encoding="utf-8", newline="\n")
    return updates


# -- the source tree -----------------------------------------------------------------------


def served_port_loaders() -> dict[str, Callable[[], ServedPorts]]:
    """Per registered context that serves data products: how to learn what it serves
    (its manifest's ``served_ports``, loaded when called)."""
    loaders: dict[str, Callable[[], ServedPorts]] = {}
    for manifest in manifests():
        if manifest.served_ports is not None:
            reference = manifest.served_ports
            loaders[manifest.name] = lambda reference=reference: ServedPorts.of(  # type: ignore[misc]
                load_reference(reference)()
            )
    return loaders


def default_root() -> Path:
    """The source tree the importable ``contexts`` package comes from."""
    return _contexts_dir().parent


def discover(
    root: Path, loaders: Mapping[str, Callable[[], ServedPorts]] | None = None
) -> list[ContextProducts]:
    """Every context of ``root/contexts`` with data products: its code and its descriptors.

    A context takes part when it has a loader in ``loaders`` (default: the registered
    manifests' ``served_ports``) or a ``dataproduct`` folder; one without the other is a
    problem.
    """
    registered = loaders is None
    loaders = served_port_loaders() if loaders is None else loaders
    contexts_dir = (root / "contexts").resolve()
    if not contexts_dir.is_dir():
        raise ContractError(f"{root} has no contexts directory")
    if registered and _contexts_dir() != contexts_dir:
        raise ContractError(
            f"the importable contexts package is {_contexts_dir()}, not {contexts_dir}: "
            "check the project it is installed from"
        )
    names = set(loaders) | {
        path.parent.name for path in contexts_dir.glob(f"*/{DESCRIPTOR_DIR}") if path.is_dir()
    }
    catalogue = []
    for name in sorted(names):
        directory = contexts_dir / name / DESCRIPTOR_DIR
        if name not in loaders:
            raise ContractError(
                f"contexts/{name} has a {DESCRIPTOR_DIR} folder but the platform does not know "
                f"what its code serves: name it in its manifest's served_ports"
            )
        descriptors, unreadable = load_descriptors(name, directory)
        catalogue.append(ContextProducts(loaders[name](), descriptors, tuple(unreadable)))
    return catalogue


def check(root: Path) -> list[Problem]:
    """Every descriptor problem of the source tree at ``root``; empty when all is well."""
    return [problem for products in discover(root) for problem in check_context(products)]


def write(root: Path) -> list[ContractUpdate]:
    """Regenerate the contract schemas of the source tree at ``root``."""
    return write_updates(discover(root))


def _contexts_dir() -> Path:
    spec = importlib.util.find_spec("contexts")
    if spec is None or spec.origin is None:
        raise ContractError("the contexts package cannot be found")
    return Path(spec.origin).resolve().parent
