"""Rows to the frozen dataclasses of chatstore.models.

`from_row` is the plain way, by column name. `row_builder` and `ColumnsBuilder` are for hot
paths (every row of a history page), where the dataclass's own __init__ costs more than the
query: a frozen dataclass sets each field through object.__setattr__, so they fill a
mutable twin's slots and hand it over as the frozen class (_mutable_twin), and
`ColumnsBuilder` also reads rows as plain tuples, so no dict is made per row.
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


def _mutable_twin(cls: type[Any]) -> type[Any]:
    """A plain (not frozen) slotted dataclass with the fields of `cls` in the same order.

    A frozen dataclass refuses `obj.field = value`, so filling one costs a descriptor call
    per field; its twin takes the interpreter's fast path for slot stores (about a fifth of
    the time for a message's 22 fields). A built twin then becomes a `cls` by assigning
    __class__, which Python allows because both have exactly the same slots: checked here
    once, so a model that drifts from its twin fails at import, not on some row.
    """
    twin = _TWINS.get(cls)
    if twin is not None:
        return twin
    if (
        hasattr(cls, "__post_init__")
        or "__slots__" not in cls.__dict__
        or cls.__bases__ != (object,)
    ):
        raise TypeError(f"{cls.__name__} must be slotted, without base or __post_init__")
    twin = dataclasses.make_dataclass(
        cls.__name__,
        [(field.name, field.type) for field in dataclasses.fields(cls)],
        slots=True,
        init=False,
        repr=False,
        eq=False,
        match_args=False,
    )
    probe = object.__new__(twin)
    probe.__class__ = cls  # TypeError if the layouts differ
    _TWINS[cls] = twin
    return twin


_TWINS: dict[type[Any], type[Any]] = {}


def _compile(
    cls: type[D], argument: str, lines: list[str], scope: dict[str, Any]
) -> Callable[[Any], D]:
    """A build function made of one assignment per field, straight-line, as dataclasses
    makes __init__: no loop, no per-field call. The source holds only the dataclass's own
    field names, column names and positions; values reach it through `scope`."""
    source = "\n".join(
        [
            f"def build({argument}):",
            "    built = new(twin)",
            *lines,
            "    built.__class__ = cls",
            "    return built",
        ]
    )
    namespace = {"new": object.__new__, "twin": _mutable_twin(cls), "cls": cls, **scope}
    exec(source, namespace)  # noqa: S102 - source made above from field names only
    build: Callable[[Any], D] = namespace["build"]
    return build


def _store_unless_null(index: int, name: str, read: str, converted: bool) -> list[str]:
    """The lines that store one column's value, converted when the field has a conversion;
    a NULL stores the field's `default_<index>` instead (None for a required field)."""
    value = f"convert_{index}(value)" if converted else "value"
    return [
        f"    value = {read}",
        f"    built.{name} = default_{index} if value is None else {value}",
    ]


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
    """from_row for a hot path: the same object, built several times faster (see _compile
    and _mutable_twin). `convert` maps a field to a function applied to its column's value
    (a JSON attachment to an Attachment) when that value is not NULL. A field named in
    `optional` takes its default when the row has no such column (only some queries return
    it) or a NULL there (a page's message without reactions); every other field must have
    its column. Only for slotted dataclasses without base or __post_init__, which is every
    model here."""
    conversions = convert or {}
    defaults = _defaults(cls, optional)
    lines: list[str] = []
    scope: dict[str, Any] = {}
    for index, name in enumerate(_field_names(cls)):
        scope[f"convert_{index}"] = conversions.get(name)
        scope[f"default_{index}"] = defaults.get(name)
        if name in defaults:
            lines += _store_unless_null(index, name, f"row.get({name!r})", name in conversions)
        elif name in conversions:
            lines += _store_unless_null(index, name, f"row[{name!r}]", converted=True)
        else:
            lines.append(f"    built.{name} = row[{name!r}]")
    return _compile(cls, "row", lines, scope)


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
        _mutable_twin(cls)  # refuses a model it cannot build, here rather than per query
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
        fields = _field_names(self._cls)
        missing = [name for name in fields if name not in position and name not in self._defaults]
        if missing:
            raise ResultShapeError(missing[0], list(names))
        lines: list[str] = []
        scope: dict[str, Any] = {}
        for index, name in enumerate(fields):
            # A NULL in a converted column leaves the field's default when it is optional
            # (see row_builder), None otherwise.
            scope[f"default_{index}"] = self._defaults.get(name)
            scope[f"convert_{index}"] = self._convert.get(name)
            if name not in position:
                lines.append(f"    built.{name} = default_{index}")
            elif name in self._convert:
                lines += _store_unless_null(index, name, f"values[{position[name]}]", True)
            else:
                lines.append(f"    built.{name} = values[{position[name]}]")
        return _compile(self._cls, "values", lines, scope)


def message_preview(value: Mapping[str, Any]) -> MessagePreview:
    """A MessagePreview from the jsonb the SQL function message_preview() builds (a reply's
    quoted message, a thread's root): already cut and masked in PostgreSQL."""
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
    """A message's reactions from the jsonb the SQL function reaction_summary() builds.

    Every entry names the same message: its id is parsed once (UUID() is most of the cost
    of a page's reactions in Python), not once per reaction key."""
    ids: dict[str, UUID] = {}
    counts = []
    for item in value:
        text = item["message_id"]
        message_id = ids.get(text)
        if message_id is None:
            message_id = ids[text] = UUID(text)
        counts.append(
            ReactionCount(
                message_id=message_id,
                reaction=item["reaction"],
                count=int(item["count"]),
                reacted_by_me=bool(item["reacted_by_me"]),
            )
        )
    return tuple(counts)


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
