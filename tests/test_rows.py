"""A query result missing a column the code reads is a chatstore error, never a KeyError."""

from __future__ import annotations

from typing import Any

import pytest

from chatstore import ChatStore, ChatStoreError, ValidationError
from chatstore.errors import ResultShapeError
from chatstore.mapping import from_row
from chatstore.models import User


async def test_a_missing_column_names_itself_and_what_the_query_returned(
    store: ChatStore,
) -> None:
    rows = await store.queries.migrations.applied_migrations()
    assert rows, "the test database is migrated"
    with pytest.raises(ResultShapeError) as caught:
        rows[0]["content"]
    assert isinstance(caught.value, ChatStoreError)
    assert not isinstance(caught.value, KeyError)
    assert "'content'" in str(caught.value)
    assert "version" in str(caught.value)


async def test_mapping_a_row_of_the_wrong_shape_is_a_chatstore_error(store: ChatStore) -> None:
    rows = await store.queries.migrations.applied_migrations()
    with pytest.raises(ResultShapeError, match="'id'"):
        from_row(User, rows[0])


async def test_a_present_column_reads_as_in_a_dict(store: ChatStore) -> None:
    rows = await store.queries.migrations.applied_migrations()
    assert rows[0]["version"] == rows[0].get("version")
    assert rows[0].get("content") is None


async def test_application_queries_name_a_wrong_parameter(store: ChatStore) -> None:
    with pytest.raises(ValidationError, match=r"user_id: is required by users\.get_user"):
        await store.queries.users.get_user()
    with pytest.raises(ValidationError, match=r"extra: is not a parameter of users\.get_user"):
        await store.queries.users.get_user(user_id=None, extra=1)
    with pytest.raises(ValidationError, match="invalid input syntax for type uuid"):
        await store.queries.users.get_user(user_id="not-a-uuid")
    assert await store.queries.users.get_user(user_id=None) is None


def test_row_builder_builds_what_from_row_builds_and_stays_frozen() -> None:
    import dataclasses
    import uuid
    from datetime import UTC, datetime

    from chatstore.mapping import ColumnsBuilder, from_row, row_builder
    from chatstore.models import Attachment, Message

    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "room_id": uuid.uuid4(),
        "seq": 7,
        "sender_id": None,
        "kind": "image",
        "content": "",
        "attachment": {"url": "u", "name": "n", "mime_type": "image/png", "size": 3},
        "client_id": "c",
        "created_at": datetime.now(UTC),
        "edited_at": None,
        "edit_count": 0,
        "deleted_at": None,
        "reply_to": None,
        "thread_root_id": None,
        "thread_seq": None,
        "shown_in_room": True,
        "mentioned_ids": (),
        "mentions_room": False,
        "reactions": (),
        "thread": None,
        "extra column": "left behind",
    }

    def to_attachment(value: dict[str, Any]) -> Attachment:
        return Attachment(**value)

    built = row_builder(Message, {"attachment": to_attachment})(row)
    expected = from_row(Message, {**row, "attachment": to_attachment(row["attachment"])})
    assert built == expected
    assert built.attachment == Attachment("u", "n", "image/png", 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.seq = 8  # type: ignore[misc]
    assert row_builder(Message)({**row, "attachment": None}).attachment is None

    # From tuples, in whatever column order the query returns.
    names = list(reversed(row))
    from_tuple = ColumnsBuilder(Message, {"attachment": to_attachment}).for_columns(names)
    tupled = from_tuple(tuple(row[name] for name in names))
    assert tupled == expected
    # Built through a mutable twin, handed over as the frozen model itself.
    assert type(tupled) is Message
    assert type(built) is Message
    with pytest.raises(dataclasses.FrozenInstanceError):
        tupled.content = "changed"  # type: ignore[misc]
    assert dataclasses.replace(tupled, seq=9).seq == 9
    with pytest.raises(ResultShapeError) as missing:
        ColumnsBuilder(Message).for_columns([name for name in names if name != "seq"])
    assert missing.value.column == "seq"

    # A field named optional takes its default when the query has no such column; any
    # other missing column is still an error.
    optional = {"reactions", "thread"}
    fewer = [name for name in names if name not in optional]
    partial = {name: row[name] for name in fewer}
    assert row_builder(Message, {}, optional)(partial) == from_row(Message, row)
    from_fewer = ColumnsBuilder(Message, {}, optional).for_columns(fewer)
    assert from_fewer(tuple(row[name] for name in fewer)) == from_row(Message, row)
    with pytest.raises(ResultShapeError):
        ColumnsBuilder(Message, {}, optional).for_columns([n for n in fewer if n != "seq"])


def test_the_fast_builders_refuse_a_model_they_cannot_fill() -> None:
    import dataclasses

    from chatstore.mapping import ColumnsBuilder, row_builder

    @dataclasses.dataclass(frozen=True)
    class NotSlotted:
        name: str

    with pytest.raises(TypeError, match="must be slotted"):
        row_builder(NotSlotted)
    with pytest.raises(TypeError, match="must be slotted"):
        ColumnsBuilder(NotSlotted)
