"""The lineage graph between data products, the topics they read and the systems behind
their anti-corruption layers, from what the products registered.

- an ODPS input port of ``sourceType: kafkaTopic`` is an edge topic -> product (``acl``
  when the port names the anti-corruption layer that reads it, else ``input``);
- one of ``sourceType: externalSystem`` is an edge external system -> product (``acl``);
- a ``kafka`` output port is an edge product -> topic (``output``), so a product that
  reads another product's stream is linked to it through the topic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from dpmesh.catalog.models import Lineage, LineageEdge, LineageNode, PortType, Registration

__all__ = ["lineage", "to_mermaid"]


def lineage(registrations: Iterable[Registration]) -> Lineage:
    nodes: dict[str, LineageNode] = {}
    edges: dict[tuple[str, str, str], LineageEdge] = {}

    def node(id: str, kind: Any, label: str, context: str | None) -> str:
        nodes.setdefault(id, LineageNode(id=id, kind=kind, label=label, context=context))
        return id

    def edge(source: str, target: str, kind: Any, label: str) -> None:
        edges.setdefault(
            (source, target, kind),
            LineageEdge(source=source, target=target, kind=kind, label=label),
        )

    for registration in registrations:
        product = node(registration.urn, "product", registration.name, registration.context)
        for port in registration.descriptor.get("inputPorts") or []:
            name = str(port.get("name", ""))
            source_type = _custom(port, "sourceType")
            acl = _custom(port, "acl")
            if source_type == "externalSystem":
                source = node(f"external:{registration.context}:{name}", "external", name, None)
                edge(source, product, "acl", _short(acl) if acl else "acl")
            elif source_type == "kafkaTopic":
                topic = node(f"topic:{name}", "topic", name, _topic_context(name))
                edge(topic, product, "acl" if acl else "input", _short(acl) if acl else "input")
        for output in registration.ports:
            if output.type is PortType.KAFKA and output.topic:
                topic_name = output.topic
                topic = node(f"topic:{topic_name}", "topic", topic_name, _topic_context(topic_name))
                edge(product, topic, "output", output.name)
    return Lineage(
        nodes=sorted(nodes.values(), key=lambda n: (n.kind, n.id)),
        edges=sorted(edges.values(), key=lambda e: (e.source, e.target, e.kind)),
    )


_SHAPES = {
    "product": ('(["', '"])'),
    "topic": ('[/"', '"/]'),
    "external": ('{{"', '"}}'),
}


def to_mermaid(graph: Lineage) -> str:
    """A mermaid flowchart of ``graph``: products rounded, topics slanted, systems hexagons."""
    ids = {node.id: f"n{index}" for index, node in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for node in graph.nodes:
        opening, closing = _SHAPES[node.kind]
        label = node.label if node.context is None else f"{node.label}<br/>{node.context}"
        lines.append(f"  {ids[node.id]}{opening}{_escape(label)}{closing}:::{node.kind}")
    for edge in graph.edges:
        arrow = "-.->" if edge.kind == "acl" else "-->"
        lines.append(f"  {ids[edge.source]} {arrow}|{_escape(edge.label)}| {ids[edge.target]}")
    lines += [
        "  classDef product fill:#e8f1fb,stroke:#2f6fb3",
        "  classDef topic fill:#fdf3e1,stroke:#b37a2f",
        "  classDef external fill:#f2f2f2,stroke:#777777",
    ]
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return re.sub(r'["|]', lambda m: "#quot;" if m.group() == '"' else "#124;", text)


def _topic_context(topic: str) -> str | None:
    """``<context>.<aggregate>.v<major>`` names its context first."""
    head = topic.split(".", 1)[0]
    return head if "." in topic and head else None


def _short(module: Any) -> str:
    return str(module).rsplit(".", 1)[-1]


def _custom(element: dict[str, Any], name: str) -> Any:
    for item in element.get("customProperties") or []:
        if isinstance(item, dict) and item.get("property") == name:
            return item.get("value")
    return None
