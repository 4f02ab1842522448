"""Rows to the frozen dataclasses of chatstore.models.

`from_row` is the plain way, by column name. `row_builder` and `ColumnsBuilder` are for hot
paths (every row of a history page), where the dataclass's own __init__ costs more than the
query: a frozen dataclass sets each field through object.__setattr__, so they fill the slots
directly, and `ColumnsBuilder` also reads rows as plain tuples, so no dict is made per row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from chatstore.conversation_models import MessagePreview, ReactionCount
from chatstore.errors import ResultShapeError
from chatstore.thread_models import ThreadSummary

D = TypeVar("D")

Convert = Mapping[str, Callable[[Any], Any]]

_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}


def _field_names(cls: type[Any]) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(field.name for field in dataclasses.fields(cls))
    return names


def from_row(cls: type[D], row: Mapping[str, Any]) -> D:
    """Build a dataclass from a query row by column name; extra columns are left behind
    (so a row that also carries, say, a password hash never leaks it into the result)."""
    return cls(**{name: row[name] for name in _field_names(cls)})


def _slot_setters(cls: type[Any]) -> dict[str, Callable[[Any, Any], None]]:
    if hasattr(cls, "__post_init__") or not hasattr(cls, "__slots__"):
        raise TypeError(f"{cls.__name__} must be slotted and have no __post_init__")
    return {name: getattr(cls, name).__set__ for name in _field_names(cls)}


def _defaults(cls: type[Any], optional: Collection[str]) -> dict[str, Any]:
    """The default of each optional field: what a row without that column leaves in it."""
    found = {
        field.name: field.default
        for field in dataclasses.fields(cls)
        if field.name in optional and field.default is not dataclasses.MISSING
    }
    if len(found) != len(optional):
        raise TypeError(f"every optional field of {cls.__name__} needs a plain default")
    return found


def row_builder(
    cls: type[D], convert: Convert | None = None, optional: Collection[str] = ()
) -> Callable[[Mapping[str, Any]], D]:
    """from_row for a hot path: the same object, built about twice as fast by filling its
    slots directly. `convert` maps a field to a function applied to its column's value (a
    JSON attachment to an Attachment) when that value is not NULL. A field named in
    `optional` takes its default when the row has no such column (only some queries return
    it) or a NULL there (a page's message without reactions); every other field must have
    its column. Only for slotted dataclasses without
    __post_init__, which is every model here."""
    conversions = convert or {}
    defaults = _defaults(cls, optional)
    fields = tuple(
        (name, set_slot, conversions.get(name)) for name, set_slot in _slot_setters(cls).items()
    )
    new = object.__new__

    def build(row: Mapping[str, Any]) -> D:
        built = new(cls)
        for name, set_slot, converted in fields:
            if name in defaults:
                value = row.get(name)
                if value is None:
                    set_slot(built, defaults[name])
                    continue
            else:
                value = row[name]
            set_slot(built, value if converted is None or value is None else converted(value))
        return built

    return build


class ColumnsBuilder(Generic[D]):
    """row_builder for rows read as tuples (psycopg's `tuple_row`): `for_columns(names)`,
    given the query's column names in order, returns the function that builds one object
    from one tuple, taking each field from its column's position.

    A query's columns are looked up once (the functions are kept per column list), so a
    page costs one list of tuples, made by psycopg in C, and one object per row.
    """

    def __init__(
        self, cls: type[D], convert: Convert | None = None, optional: Collection[str] = ()
    ) -> None:
        self._cls = cls
        self._setters = _slot_setters(cls)
        self._convert = dict(convert or {})
        # Fields only some queries return (see row_builder): their default when absent.
        self._defaults = _defaults(cls, optional)
        self._built: dict[tuple[str, ...], Callable[[Sequence[Any]], D]] = {}

    def for_columns(self, names: Sequence[str]) -> Callable[[Sequence[Any]], D]:
        key = tuple(names)
        build = self._built.get(key)
        if build is None:
            build = self._built[key] = self._make(key)
        return build

    def _make(self, names: tuple[str, ...]) -> Callable[[Sequence[Any]], D]:
        position = {name: index for index, name in enumerate(names)}
        missing = [
            name for name in self._setters if name not in position and name not in self._defaults
        ]
        if missing:
            raise ResultShapeError(missing[0], list(names))
        present = {name: set_slot for name, set_slot in self._setters.items() if name in position}
        absent = tuple(
            (set_slot, self._defaults[name])
            for name, set_slot in self._setters.items()
            if name not in position
        )
        plain = tuple(
            (set_slot, position[name])
            for name, set_slot in present.items()
            if name not in self._convert
        )
        # A NULL in a converted column leaves the field's default when it is optional
        # (see row_builder), None otherwise.
        converted = tuple(
            (set_slot, position[name], self._convert[name], self._defaults.get(name))
            for name, set_slot in present.items()
            if name in self._convert
        )
        cls, new = self._cls, object.__new__

        def build(values: Sequence[Any]) -> D:
            built = new(cls)
            for set_slot, index in plain:
                set_slot(built, values[index])
            for set_slot, index, convert, when_null in converted:
                value = values[index]
                set_slot(built, when_null if value is None else convert(value))
            for set_slot, default in absent:
                set_slot(built, default)
            return built

        return build


def message_preview(value: Mapping[str, Any]) -> MessagePreview:
    """A MessagePreview from the jsonb the SQL function message_preview() builds (a reply's
    quoted message, a room list's last message): already cut and masked in PostgreSQL."""
    sender = value["sender_id"]
    return MessagePreview(
        id=UUID(value["id"]),
        seq=int(value["seq"]),
        sender_id=None if sender is None else UUID(sender),
        kind=value["kind"],
        created_at=datetime.fromisoformat(value["created_at"]),
        content=value["content"],
        is_deleted=bool(value["is_deleted"]),
    )


def reaction_counts(value: Sequence[Mapping[str, Any]]) -> tuple[ReactionCount, ...]:
    """A message's reactions from the jsonb the SQL function reaction_summary() builds."""
    return tuple(
        ReactionCount(
            message_id=UUID(item["message_id"]),
            reaction=item["reaction"],
            count=int(item["count"]),
            reacted_by_me=bool(item["reacted_by_me"]),
        )
        for item in value
    )


def thread_summary(value: Mapping[str, Any]) -> ThreadSummary:
    """A ThreadSummary from the jsonb the SQL function thread_summary() builds (also the
    `thread` of a reply's message.created payload)."""
    last_reply_at = value["last_reply_at"]
    return ThreadSummary(
        reply_count=int(value["reply_count"]),
        last_thread_seq=int(value["last_thread_seq"]),
        last_reply_at=None if last_reply_at is None else datetime.fromisoformat(last_reply_at),
        participant_ids=tuple(UUID(user) for user in value["participant_ids"]),
    )


__all__ = [
    "ColumnsBuilder",
    "from_row",
    "message_preview",
    "reaction_counts",
    "row_builder",
    "thread_summary",
]
