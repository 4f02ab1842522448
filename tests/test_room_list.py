"""A user's room list with previews (store.rooms.rooms_of_user): each room's last message as
the list shows it (cut to 100 characters, masked once deleted, none for an empty room) and
the other user of a direct room (none once that user is deleted), in the one query the list
already was.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from chatstore import (
    Attachment,
    ChatStore,
    CreateMessage,
    MessagePreview,
    UserRoom,
    UserSummary,
)
from tests.dbchecks import connect
from tests.test_change_log import make_users


@contextmanager
def queries_sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The statements this task sends to PostgreSQL (every query goes through a cursor's
    execute, cursor-based reads included); the pool's empty check query is left out."""
    seen: list[str] = []
    task = asyncio.current_task()
    original = psycopg.AsyncCursor.execute

    async def execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        text = " ".join(str(query).split())
        if asyncio.current_task() is task and text:
            seen.append(text[:60])
        return await original(self, query, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(psycopg.AsyncCursor, "execute", execute)
        yield seen


async def listed(store: ChatStore, user: uuid.UUID) -> dict[uuid.UUID, UserRoom]:
    return {entry.room.id: entry for entry in await store.rooms.rooms_of_user(user)}


async def test_the_last_message_is_previewed_cut_to_100_characters(store: ChatStore) -> None:
    alice, bob = await make_users(store, 2)
    room = await store.rooms.create(name="general", kind="public", created_by=alice)
    await store.rooms.add_member(room.id, bob)
    await store.send_message(CreateMessage(room.id, alice, "first"))
    long_text = "é" * 60 + "x" * 60  # 120 characters, more bytes than that in UTF-8
    last = await store.send_message(CreateMessage(room.id, bob, long_text))

    for reader in (alice, bob):
        entry = (await listed(store, reader))[room.id]
        assert entry.last_message == MessagePreview(
            id=last.id,
            seq=2,
            sender_id=bob,
            kind="text",
            created_at=last.created_at,
            content=long_text[:100],
            is_deleted=False,
        )
        assert entry.direct_user is None  # not a direct room
    # The fields the list had before are unchanged.
    entry = (await listed(store, alice))[room.id]
    assert (entry.role, entry.last_read_seq, entry.unread_count) == ("owner", 1, 1)
    assert entry.room.last_seq == 2


async def test_a_short_message_is_previewed_whole_and_the_newest_wins(store: ChatStore) -> None:
    [alice] = await make_users(store, 1)
    room = await store.rooms.create(name="general", kind="public", created_by=alice)
    await store.send_message(CreateMessage(room.id, alice, "one"))
    assert (await listed(store, alice))[room.id].last_message.content == "one"  # type: ignore[union-attr]
    exactly = "y" * 100
    await store.send_message(CreateMessage(room.id, alice, exactly))
    preview = (await listed(store, alice))[room.id].last_message
    assert preview is not None
    assert (preview.seq, preview.content) == (2, exactly)


async def test_an_empty_room_has_no_preview(store: ChatStore) -> None:
    [alice] = await make_users(store, 1)
    room = await store.rooms.create(name="quiet", kind="private", created_by=alice)
    entry = (await listed(store, alice))[room.id]
    assert entry.last_message is None
    assert entry.direct_user is None


async def test_a_deleted_last_message_shows_no_content(store: ChatStore) -> None:
    alice, bob = await make_users(store, 2)
    room = await store.rooms.create(name="general", kind="public", created_by=alice)
    await store.rooms.add_member(room.id, bob)
    await store.send_message(CreateMessage(room.id, alice, "still here"))
    secret = await store.send_message(CreateMessage(room.id, bob, "regrettable words"))
    await store.messages.delete(secret.id, acting_user_id=bob)

    preview = (await listed(store, alice))[room.id].last_message
    assert preview == MessagePreview(
        id=secret.id,
        seq=secret.seq,
        sender_id=bob,
        kind="text",
        created_at=secret.created_at,
        content=None,
        is_deleted=True,
    )
    # A later message takes its place as the preview.
    await store.send_message(CreateMessage(room.id, alice, "moving on"))
    preview = (await listed(store, bob))[room.id].last_message
    assert preview is not None
    assert (preview.content, preview.is_deleted) == ("moving on", False)


async def test_an_image_message_is_previewed_by_kind_and_caption(store: ChatStore) -> None:
    [alice] = await make_users(store, 1)
    room = await store.rooms.create(name="photos", kind="public", created_by=alice)
    image = Attachment("https://files.example.com/cat.png", "cat.png", "image/png", 1234)
    await store.send_message(CreateMessage(room.id, alice, "", kind="image", attachment=image))
    preview = (await listed(store, alice))[room.id].last_message
    assert preview is not None
    assert (preview.kind, preview.content, preview.is_deleted) == ("image", "", False)


async def test_a_direct_room_names_the_other_user(store: ChatStore) -> None:
    alice = await store.users.create(
        email="alice@example.com", username="alice", password="pw-alice-1", display_name="Alice"
    )
    bob = await store.users.create(email="bob@example.com", username="bob", password="pw-bob-123")
    direct = await store.rooms.get_or_create_direct(alice.id, bob.id)
    group = await store.rooms.create(name="general", kind="public", created_by=alice.id)
    await store.rooms.add_member(group.id, bob.id)

    seen_by_alice = await listed(store, alice.id)
    seen_by_bob = await listed(store, bob.id)
    assert seen_by_alice[direct.id].direct_user == UserSummary(bob.id, "bob", None)
    assert seen_by_bob[direct.id].direct_user == UserSummary(alice.id, "alice", "Alice")
    assert seen_by_alice[group.id].direct_user is None
    assert seen_by_alice[direct.id].last_message is None

    # A profile change shows in the list at once (read with the list, not copied).
    await store.users.update_profile(bob.id, display_name="Bobby")
    assert (await listed(store, alice.id))[direct.id].direct_user == UserSummary(
        bob.id, "bob", "Bobby"
    )


async def test_the_direct_partner_is_none_after_that_user_is_deleted(store: ChatStore) -> None:
    alice, bob = await make_users(store, 2)
    direct = await store.rooms.get_or_create_direct(alice, bob)
    sent = await store.send_message(CreateMessage(direct.id, bob, "bye"))
    await store.users.delete(bob)

    entry = (await listed(store, alice))[direct.id]
    assert entry.direct_user is None
    # The history stays, with the sender cleared, as every read shows it.
    assert entry.last_message is not None
    assert (entry.last_message.id, entry.last_message.sender_id) == (sent.id, None)
    assert entry.last_message.content == "bye"


async def test_the_list_with_previews_is_still_one_query(
    store: ChatStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob, carol = await make_users(store, 3)
    for name in ("a", "b", "c"):
        room = await store.rooms.create(name=name, kind="public", created_by=alice)
        await store.send_message(CreateMessage(room.id, alice, f"hello {name}"))
    await store.rooms.get_or_create_direct(alice, bob)
    await store.rooms.get_or_create_direct(carol, alice)
    with queries_sent(monkeypatch) as sent:
        entries = await store.rooms.rooms_of_user(alice)
    assert len(sent) == 1, sent
    assert len(entries) == 5
    assert {e.direct_user.id for e in entries if e.direct_user is not None} == {bob, carol}
    assert sorted(str(e.last_message.content) for e in entries if e.last_message) == [
        "hello a",
        "hello b",
        "hello c",
    ]


async def test_the_preview_never_carries_deleted_text_out_of_the_database(
    store: ChatStore,
) -> None:
    """The masking is the query's: the row itself has no content for a deleted message."""
    [alice] = await make_users(store, 1)
    room = await store.rooms.create(name="general", kind="public", created_by=alice)
    sent = await store.send_message(CreateMessage(room.id, alice, "gone soon"))
    await store.messages.delete(sent.id, acting_user_id=alice)
    async with connect(store.settings.database_url) as conn:
        rows = [row async for row in store.db.queries.rooms.rooms_of_user(conn, user_id=alice)]
    previews = [(r["last_message_content"], r["last_message_is_deleted"]) for r in rows]
    assert previews == [(None, True)]
    assert "gone soon" not in str(rows)
