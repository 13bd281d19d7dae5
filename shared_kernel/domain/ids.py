"""Typed identifiers and federated URNs.

A typed id (``WarehouseId("W1")``) never equals another type's id with the same text,
so the type checker and ``==`` both catch ids passed in the wrong place. A URN names
any entity across the mesh: ``urn:dpmesh:<context>:<entity>:<id>``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Self

from shared_kernel.domain.errors import InvalidValue

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ID_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")
URN_PREFIX = "urn:dpmesh:"


@dataclass(frozen=True, slots=True, order=True)
class EntityId:
    """Base of typed ids. Subclass with ``@dataclass(frozen=True, slots=True)``.

    The text is restricted to URL- and URN-safe characters so an id can appear in a
    path segment, a Kafka key and a URN without escaping.

    Ids of one type are ordered by their text (ids of different types are not
    comparable): the ORM sorts a flush's rows by primary key, so a unit of work that
    changes two aggregates of one type needs its ids to be orderable.
    """

    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or not _ID_TEXT.fullmatch(self.value):
            raise InvalidValue(
                "id",
                f"{self.value!r} is not a valid identifier "
                "(letters, digits, '.', '_', ':', '-'; starting with a letter or digit)",
            )
        if len(self.value) > 128:
            raise InvalidValue("id", "identifiers are at most 128 characters long")

    @classmethod
    def new(cls) -> Self:
        return cls(uuid.uuid4().hex)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Urn:
    """Federated address of an entity: ``urn:dpmesh:<context>:<entity>:<id>``.

    ``context`` and ``entity`` are snake_case names; ``id`` is the entity's own id and
    may itself contain ``:``, which is why it is the last part.
    """

    context: str
    entity: str
    id: str

    def __post_init__(self) -> None:
        for field, text in (("context", self.context), ("entity", self.entity)):
            if not _NAME.fullmatch(text):
                raise InvalidValue(field, f"{text!r} must be a snake_case name")
        if not _ID_TEXT.fullmatch(self.id):
            raise InvalidValue("id", f"{self.id!r} is not a valid identifier")

    @classmethod
    def parse(cls, text: str) -> Urn:
        if not text.startswith(URN_PREFIX):
            raise InvalidValue("urn", f"{text!r} does not start with {URN_PREFIX!r}")
        parts = text[len(URN_PREFIX) :].split(":", 2)
        if len(parts) != 3:
            raise InvalidValue("urn", f"{text!r} is not urn:dpmesh:<context>:<entity>:<id>")
        return cls(context=parts[0], entity=parts[1], id=parts[2])

    def __str__(self) -> str:
        return f"{URN_PREFIX}{self.context}:{self.entity}:{self.id}"
