"""A query result missing a column the code reads is a chatstore error, never a KeyError."""

from __future__ import annotations

import pytest

from chatstore import ChatStore, ChatStoreError, ValidationError
from chatstore.errors import ResultShapeError
from chatstore.models import User, from_row


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
