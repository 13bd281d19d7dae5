"""Does a new JSON Schema of an event still serve the consumers of the old one?

Within one major version an event topic has consumers of both kinds at once: services
built against the old schema reading new events, and services built against the new
schema replaying old events still retained in the topic. A change is compatible only
if it serves both, so the rules below are deliberately strict:

- a property is never removed (the serializer always writes every field, so consumers
  may rely on any of them, required or not);
- a type, format, constant or constraint never changes, in either direction: widening
  surprises old readers, narrowing rejects old events;
- no property becomes required, new or existing: old events lack it;
- enum values may be added (consumers must tolerate values they do not know) but never
  removed;
- a union (``anyOf``/``oneOf``) keeps exactly its options, compared by content;
- ``$ref`` is followed and compared by content, so renaming a definition is harmless
  and pointing a field at a different definition breaks exactly when the content
  differs;
- annotations (``title``, ``description``, ``default``, ``examples``, ...) are free.

A keyword this module does not know is compared for equality: a change it cannot prove
safe counts as breaking.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

__all__ = ["Incompatibility", "UnreadableSchemaError", "breaking_changes"]

Schema = Mapping[str, Any]

ROOT_LOCATION: Final = "(event)"

# Keywords that document and never constrain.
_ANNOTATIONS: Final = frozenset(
    {
        "$comment",
        "$defs",
        "$id",
        "$schema",
        "default",
        "definitions",
        "deprecated",
        "description",
        "examples",
        "readOnly",
        "title",
        "writeOnly",
    }
)
# Keywords compared by the rules below rather than for plain equality.
_STRUCTURAL: Final = frozenset(
    {
        "$ref",
        "additionalProperties",
        "anyOf",
        "const",
        "discriminator",
        "enum",
        "format",
        "items",
        "oneOf",
        "prefixItems",
        "properties",
        "required",
        "type",
    }
)
# Stands for an absent ``items``/``additionalProperties``: anything goes.
_ANYTHING: Final[Schema] = MappingProxyType({})
_MISSING: Final = object()
_MAX_REF_CHAIN: Final = 32


class UnreadableSchemaError(ValueError):
    """A schema the rules cannot read: a ``$ref`` outside the document or looping, a
    keyword whose value has the wrong shape."""


@dataclass(frozen=True, slots=True)
class Incompatibility:
    """One way a new schema fails the consumers of the old one.

    ``location`` is a dotted path into the event: ``qty.amount``, ``lines[]`` for the
    items of an array, ``pair[0]`` for a tuple position, ``totals.*`` for the values
    of a map; ``(event)`` for the event itself.
    """

    location: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


def breaking_changes(old: Schema, new: Schema) -> list[Incompatibility]:
    """Every change from ``old`` to ``new`` that breaks a consumer; empty when compatible.

    Both schemas are complete documents: their ``$ref`` pointers are resolved against
    their own root. Raises :class:`UnreadableSchemaError` for what it cannot follow.
    """
    changes = _Comparison(old, new).compare(old, new, "")
    return [Incompatibility(change.location or ROOT_LOCATION, change.reason) for change in changes]


class _Comparison:
    """One old/new pair of documents; remembers the node pairs being compared to stop cycles."""

    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self._old_root = old_root
        self._new_root = new_root
        self._in_progress: set[tuple[Hashable, Hashable]] = set()

    def compare(self, old_node: Schema, new_node: Schema, at: str) -> list[Incompatibility]:
        old, old_identity = _normalise(old_node, self._old_root)
        new, new_identity = _normalise(new_node, self._new_root)
        pair = (old_identity, new_identity)
        if pair in self._in_progress:
            # A recursive definition met again: whatever differs is reported on the
            # first visit, so assume the rest matches.
            return []
        self._in_progress.add(pair)
        try:
            return self._compare_nodes(old, new, at)
        finally:
            self._in_progress.discard(pair)

    def _compare_nodes(self, old: Schema, new: Schema, at: str) -> list[Incompatibility]:
        old_options, new_options = _options(old), _options(new)
        if old_options is not None or new_options is not None:
            union_changes = self._compare_options(old_options or [old], new_options or [new], at)
            if old_options is not None and new_options is not None:
                union_changes += _compare_discriminators(old, new, at)
                union_changes += _compare_other_keywords(old, new, at)
            return union_changes

        old_types, new_types = _types(old), _types(new)
        if old_types != new_types:
            return [
                Incompatibility(
                    at,
                    f"type changed from {self._describe(old, self._old_root)} "
                    f"to {self._describe(new, self._new_root)}",
                )
            ]
        changes: list[Incompatibility] = []
        if old.get("format") != new.get("format"):
            changes.append(
                Incompatibility(
                    at,
                    f"format changed from {old.get('format', 'none')} "
                    f"to {new.get('format', 'none')}",
                )
            )
        changes += _compare_enums(old, new, at)
        changes += self._compare_objects(old, new, at)
        changes += self._compare_arrays(old, new, at)
        skip = {"minItems", "maxItems"} if _tuple_length_changed(old, new) else set()
        changes += _compare_other_keywords(old, new, at, skip=skip)
        return changes

    def _compare_options(
        self, old_options: Sequence[Schema], new_options: Sequence[Schema], at: str
    ) -> list[Incompatibility]:
        """Each option must have a compatible counterpart on the other side."""
        lost = [o for o in old_options if not any(self._matches(o, n, at) for n in new_options)]
        gained = [n for n in new_options if not any(self._matches(o, n, at) for o in old_options)]
        if len(lost) == 1 and len(gained) == 1:
            # One option changed in place, e.g. ``int | None`` -> ``str | None``: say how.
            return self.compare(lost[0], gained[0], at)
        changes = [
            Incompatibility(
                at, f"no longer accepts {self._describe(option, self._old_root)} (type narrowed)"
            )
            for option in lost
        ]
        changes += [
            Incompatibility(
                at, f"may now also be {self._describe(option, self._new_root)} (type widened)"
            )
            for option in gained
        ]
        return changes

    def _matches(self, old: Schema, new: Schema, at: str) -> bool:
        return not self.compare(old, new, at)

    def _compare_objects(self, old: Schema, new: Schema, at: str) -> list[Incompatibility]:
        keys = ("properties", "required", "additionalProperties")
        if not any(key in old or key in new for key in keys):
            return []
        old_properties: Mapping[str, Schema] = old.get("properties", {})
        new_properties: Mapping[str, Schema] = new.get("properties", {})
        old_required = set(old.get("required", ()))
        new_required = set(new.get("required", ()))
        old_others, new_others = _additional(old), _additional(new)
        changes: list[Incompatibility] = []

        for name in sorted(old_properties):
            where = _child(at, name)
            if name not in new_properties:
                changes.append(Incompatibility(where, "property removed"))
                continue
            changes += self.compare(old_properties[name], new_properties[name], where)
            if name in new_required and name not in old_required:
                changes.append(
                    Incompatibility(
                        where, "property became required: events without it no longer validate"
                    )
                )

        for name in sorted(new_properties.keys() - old_properties.keys()):
            where = _child(at, name)
            if name in new_required:
                changes.append(
                    Incompatibility(
                        where,
                        "new required property: old events lack it "
                        "(add it with a default to stay compatible)",
                    )
                )
            elif old_others is None:
                changes.append(
                    Incompatibility(where, "property added to an object that allowed no others")
                )
            elif old_others is not _ANYTHING:
                # Old readers check unknown properties against their additionalProperties.
                changes += self.compare(old_others, new_properties[name], where)

        for name in sorted(new_required - old_required - old_properties.keys()):
            if name not in new_properties:
                changes.append(Incompatibility(_child(at, name), "property became required"))

        if old_others is None or new_others is None:
            if old_others is not new_others:
                reason = (
                    "no longer allows other properties"
                    if new_others is None
                    else "now allows other properties"
                )
                changes.append(Incompatibility(at, reason))
        else:
            changes += self.compare(old_others, new_others, _child(at, "*"))
        return changes

    def _compare_arrays(self, old: Schema, new: Schema, at: str) -> list[Incompatibility]:
        changes: list[Incompatibility] = []
        if "items" in old or "items" in new:
            old_items, new_items = _items(old), _items(new)
            if old_items is None or new_items is None:
                if old_items is not new_items:
                    changes.append(
                        Incompatibility(at, "items changed from allowed to forbidden or back")
                    )
            else:
                changes += self.compare(old_items, new_items, f"{at}[]")
        old_prefix: Sequence[Schema] = old.get("prefixItems", ())
        new_prefix: Sequence[Schema] = new.get("prefixItems", ())
        if len(old_prefix) != len(new_prefix):
            changes.append(
                Incompatibility(
                    at, f"tuple length changed from {len(old_prefix)} to {len(new_prefix)}"
                )
            )
        else:
            for index, (old_item, new_item) in enumerate(zip(old_prefix, new_prefix, strict=True)):
                changes += self.compare(old_item, new_item, f"{at}[{index}]")
        return changes

    def _describe(self, node: Schema, root: Schema, depth: int = 0) -> str:
        """A short human description of what a node accepts, for messages."""
        node, _ = _normalise(node, root)
        options = _options(node)
        if options is not None:
            return " | ".join(self._describe(option, root, depth + 1) for option in options)
        if "enum" in node:
            return "one of " + _values(node["enum"])
        types = _types(node)
        if not types:
            return "any value"
        text = " or ".join(sorted(types))
        if "format" in node:
            text += f" ({node['format']})"
        if types == {"object"} and "title" in node:
            text = f"object {node['title']}"
        if types == {"array"} and isinstance(node.get("items"), Mapping) and depth < 3:
            text = f"array of {self._describe(node['items'], root, depth + 1)}"
        return text


def _normalise(node: Schema, root: Schema) -> tuple[Schema, Hashable]:
    """Follow ``$ref`` and one-element ``allOf``; read ``const`` as a one-value ``enum``.

    Returns the node and an identity for cycle detection: the last ``$ref`` followed,
    else the node object itself (stable, it lives in the document).
    """
    identity: Hashable = id(node)
    for _ in range(_MAX_REF_CHAIN):
        if "$ref" in node:
            pointer = node["$ref"]
            identity = pointer
            node = _merge(_resolve(root, pointer), node, "$ref")
        elif isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
            node = _merge(node["allOf"][0], node, "allOf")
        else:
            break
    else:
        raise UnreadableSchemaError(f"$ref chain longer than {_MAX_REF_CHAIN}: {identity}")
    if "const" in node and "enum" not in node:
        node = {key: value for key, value in node.items() if key != "const"} | {
            "enum": [node["const"]]
        }
    return node, identity


def _merge(target: Schema, referring: Schema, keyword: str) -> Schema:
    """The referred schema with the referring node's other keywords (e.g. ``default``) on top."""
    siblings = {key: value for key, value in referring.items() if key != keyword}
    return {**target, **siblings}


def _resolve(root: Schema, pointer: object) -> Schema:
    if not isinstance(pointer, str) or not pointer.startswith("#"):
        raise UnreadableSchemaError(f"only local references are supported, got {pointer!r}")
    node: Any = root
    for token in _pointer_tokens(pointer[1:]):
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise UnreadableSchemaError(f"unresolvable reference {pointer!r}")
    if not isinstance(node, Mapping):
        raise UnreadableSchemaError(f"reference {pointer!r} does not point to a schema")
    return node


def _pointer_tokens(pointer: str) -> Iterator[str]:
    if not pointer:
        return
    if not pointer.startswith("/"):
        raise UnreadableSchemaError(f"malformed JSON pointer {pointer!r}")
    for token in pointer[1:].split("/"):
        yield token.replace("~1", "/").replace("~0", "~")


def _options(node: Schema) -> list[Schema] | None:
    for keyword in ("anyOf", "oneOf"):
        options = node.get(keyword)
        if isinstance(options, list):
            return options
    return None


def _types(node: Schema) -> frozenset[str] | None:
    declared = node.get("type")
    if declared is None:
        return None
    if isinstance(declared, str):
        return frozenset({declared})
    return frozenset(declared)


def _additional(node: Schema) -> Schema | None:
    """``additionalProperties`` as a schema (absent and ``true`` allow anything); None: none."""
    return _subschema(node.get("additionalProperties", True))


def _items(node: Schema) -> Schema | None:
    """``items`` as a schema (absent and ``true`` allow anything); None: no items allowed."""
    return _subschema(node.get("items", True))


def _subschema(value: object) -> Schema | None:
    if value is True:
        return _ANYTHING
    if value is False:
        return None
    if isinstance(value, Mapping):
        return value
    raise UnreadableSchemaError(f"expected a schema or a boolean, got {value!r}")


def _tuple_length_changed(old: Schema, new: Schema) -> bool:
    return len(old.get("prefixItems", ())) != len(new.get("prefixItems", ()))


def _compare_enums(old: Schema, new: Schema, at: str) -> list[Incompatibility]:
    if "enum" not in old and "enum" not in new:
        return []
    if "enum" not in new:
        return [Incompatibility(at, f"no longer restricted to {_values(old['enum'])}")]
    if "enum" not in old:
        return [Incompatibility(at, f"now restricted to {_values(new['enum'])}")]
    removed = [value for value in old["enum"] if value not in new["enum"]]
    if not removed:
        return []  # values added: consumers tolerate values they do not know
    if len(old["enum"]) == 1:
        reason = f"value changed from {_value(old['enum'][0])} to {_values(new['enum'])}"
        return [Incompatibility(at, reason)]
    return [Incompatibility(at, f"enum values removed: {_values(removed)}")]


def _compare_discriminators(old: Schema, new: Schema, at: str) -> list[Incompatibility]:
    old_name = _discriminator_property(old)
    new_name = _discriminator_property(new)
    if old_name == new_name:
        return []
    return [Incompatibility(at, f"discriminator changed from {old_name} to {new_name}")]


def _discriminator_property(node: Schema) -> object:
    discriminator = node.get("discriminator")
    if isinstance(discriminator, Mapping):
        return discriminator.get("propertyName")
    return discriminator


def _compare_other_keywords(
    old: Schema, new: Schema, at: str, skip: set[str] | frozenset[str] = frozenset()
) -> list[Incompatibility]:
    """Constraints (``minimum``, ``pattern``, ``maxLength``...) must not change at all."""
    changes: list[Incompatibility] = []
    for keyword in sorted((old.keys() | new.keys()) - _ANNOTATIONS - _STRUCTURAL - skip):
        before, after = old.get(keyword, _MISSING), new.get(keyword, _MISSING)
        if before == after:
            continue
        if before is _MISSING:
            reason = f"constraint {keyword} added ({_value(after)})"
        elif after is _MISSING:
            reason = f"constraint {keyword} removed (was {_value(before)})"
        else:
            reason = f"constraint {keyword} changed from {_value(before)} to {_value(after)}"
        changes.append(Incompatibility(at, reason))
    return changes


def _child(at: str, name: str) -> str:
    return f"{at}.{name}" if at else name


def _value(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _values(values: Sequence[object], limit: int = 8) -> str:
    shown = ", ".join(_value(value) for value in values[:limit])
    more = f", ... ({len(values) - limit} more)" if len(values) > limit else ""
    return f"[{shown}{more}]"
