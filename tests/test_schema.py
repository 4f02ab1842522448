"""The database itself enforces the data model: constraints, cascades, triggers, indexes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import bcrypt
import psycopg
import pytest
from psycopg.errors import CheckViolation, ForeignKeyViolation, UniqueViolation
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from tests.dbchecks import catalog, connect, probes, rows

HASH = bcrypt.hashpw(b"correct horse battery staple", bcrypt.gensalt(10)).decode()
Conn = psycopg.AsyncConnection[DictRow]


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[Conn]:
    async with connect(database_url) as connection:
        yield connection


async def make_user(conn: Conn, name: str, email: str | None = None) -> uuid.UUID:
    row = await probes.insert_user(
        conn,
        id=uuid.uuid4(),
        email=email or f"{name}@example.com",
        username=name,
        password_hash=HASH,
    )
    return uuid.UUID(str(row["id"]))


async def make_room(conn: Conn, owner: uuid.UUID, kind: str = "public") -> uuid.UUID:
    row = await probes.insert_room(
        conn,
        id=uuid.uuid4(),
        kind=kind,
        name="general",
        created_by=owner,
        direct_user_low=None,
        direct_user_high=None,
    )
    return uuid.UUID(str(row["id"]))


async def make_direct_room(
    conn: Conn, created_by: uuid.UUID, low: uuid.UUID, high: uuid.UUID
) -> uuid.UUID:
    row = await probes.insert_room(
        conn,
        id=uuid.uuid4(),
        kind="direct",
        name=None,
        created_by=created_by,
        direct_user_low=low,
        direct_user_high=high,
    )
    return uuid.UUID(str(row["id"]))


async def make_message(
    conn: Conn,
    room: uuid.UUID,
    seq: int,
    sender: uuid.UUID | None,
    *,
    kind: str = "text",
    content: str = "hello",
    attachment: dict[str, Any] | None = None,
    client_id: str | None = None,
) -> uuid.UUID:
    row = await probes.insert_message(
        conn,
        id=uuid.uuid4(),
        room_id=room,
        seq=seq,
        sender_id=sender,
        kind=kind,
        content=content,
        attachment=Jsonb(attachment) if attachment is not None else None,
        client_id=client_id,
    )
    return uuid.UUID(str(row["id"]))


ATTACHMENT = {
    "url": "https://files.example.com/a.png",
    "name": "a.png",
    "mime_type": "image/png",
    "size": 2048,
}


@pytest.mark.parametrize(
    ("first", "second", "field"),
    [
        (("alice", "alice@example.com"), ("bob", "ALICE@Example.COM"), "users_email_lower_key"),
        (
            ("alice", "alice@example.com"),
            ("ALICE", "other@example.com"),
            "users_username_lower_key",
        ),
    ],
)
async def test_email_and_username_are_unique_regardless_of_case(
    conn: Conn, first: tuple[str, str], second: tuple[str, str], field: str
) -> None:
    await make_user(conn, first[0], first[1])
    with pytest.raises(UniqueViolation) as caught:
        await make_user(conn, second[0], second[1])
    assert caught.value.diag.constraint_name == field


@pytest.mark.parametrize(
    "stored", ["correct horse battery staple", "$2b$04$" + "a" * 53, "$2b$12$short", ""]
)
async def test_password_column_refuses_anything_but_a_bcrypt_hash(conn: Conn, stored: str) -> None:
    with pytest.raises(CheckViolation) as caught:
        await probes.insert_user(
            conn, id=uuid.uuid4(), email="a@example.com", username="alice", password_hash=stored
        )
    assert caught.value.diag.constraint_name == "users_password_hash_is_bcrypt"


@pytest.mark.parametrize("email", ["no-at-sign", "two@@example.com", "a b@example.com", "a@b"])
async def test_malformed_email_is_refused(conn: Conn, email: str) -> None:
    with pytest.raises(CheckViolation):
        await make_user(conn, "alice", email)


async def test_updated_at_is_kept_by_the_database(conn: Conn) -> None:
    user = await make_user(conn, "alice")
    before = await probes.get_user(conn, id=user)
    await asyncio.sleep(0.01)
    updated = await probes.rename_user(conn, id=user, username="alice2")
    assert updated["updated_at"] > before["updated_at"]
    assert before["created_at"] == before["updated_at"]


async def test_room_kind_is_checked(conn: Conn) -> None:
    owner = await make_user(conn, "alice")
    with pytest.raises(CheckViolation) as caught:
        await make_room(conn, owner, kind="secret")
    assert caught.value.diag.constraint_name == "rooms_kind_valid"


async def test_direct_room_pair_is_unique_and_ordered(conn: Conn) -> None:
    a, b = sorted([await make_user(conn, "alice"), await make_user(conn, "bob")])
    await make_direct_room(conn, a, a, b)
    with pytest.raises(UniqueViolation):
        await make_direct_room(conn, b, a, b)
    with pytest.raises(CheckViolation) as caught:
        await make_direct_room(conn, b, b, a)
    assert caught.value.diag.constraint_name == "rooms_direct_pair_ordered"


async def test_member_role_is_checked(conn: Conn) -> None:
    owner = await make_user(conn, "alice")
    room = await make_room(conn, owner)
    with pytest.raises(CheckViolation) as caught:
        await probes.insert_member(conn, room_id=room, user_id=owner, role="superuser")
    assert caught.value.diag.constraint_name == "room_users_role_valid"


@pytest.mark.parametrize(
    ("kind", "content", "attachment", "constraint"),
    [
        ("video", "hi", None, "messages_kind_valid"),
        ("image", "", None, "messages_attachment_iff_media"),
        ("file", "report", None, "messages_attachment_iff_media"),
        ("text", "hi", ATTACHMENT, "messages_attachment_iff_media"),
        ("image", "", {"url": "https://x"}, "messages_attachment_shape"),
        ("text", "   ", None, "messages_text_not_empty"),
        ("text", "x" * 10001, None, "messages_content_length"),
    ],
)
async def test_message_checks(
    conn: Conn, kind: str, content: str, attachment: dict[str, Any] | None, constraint: str
) -> None:
    owner = await make_user(conn, "alice")
    room = await make_room(conn, owner)
    with pytest.raises(CheckViolation) as caught:
        await make_message(conn, room, 1, owner, kind=kind, content=content, attachment=attachment)
    assert caught.value.diag.constraint_name == constraint


async def test_image_message_with_attachment_is_accepted(conn: Conn) -> None:
    owner = await make_user(conn, "alice")
    room = await make_room(conn, owner)
    message = await make_message(
        conn, room, 1, owner, kind="image", content="", attachment=ATTACHMENT
    )
    assert (await probes.get_message(conn, id=message))["kind"] == "image"


async def test_seq_is_unique_per_room_not_globally(conn: Conn) -> None:
    owner = await make_user(conn, "alice")
    room, other = await make_room(conn, owner), await make_room(conn, owner)
    await make_message(conn, room, 1, owner)
    await make_message(conn, other, 1, owner)
    with pytest.raises(UniqueViolation) as caught:
        await make_message(conn, room, 1, owner)
    assert caught.value.diag.constraint_name == "messages_room_seq_key"


async def test_client_id_is_unique_per_sender_and_room(conn: Conn) -> None:
    alice, bob = await make_user(conn, "alice"), await make_user(conn, "bob")
    room = await make_room(conn, alice)
    await make_message(conn, room, 1, alice, client_id="c-1")
    await make_message(conn, room, 2, bob, client_id="c-1")  # another sender may reuse it
    with pytest.raises(UniqueViolation) as caught:
        await make_message(conn, room, 3, alice, client_id="c-1")
    assert caught.value.diag.constraint_name == "messages_client_id_key"


async def test_receipt_cannot_name_a_message_of_another_room(conn: Conn) -> None:
    alice = await make_user(conn, "alice")
    room, other = await make_room(conn, alice), await make_room(conn, alice)
    message = await make_message(conn, room, 1, alice)
    with pytest.raises(ForeignKeyViolation):
        await probes.insert_receipt(conn, room_id=other, message_id=message, user_id=alice)


async def test_deleting_a_room_removes_its_messages_members_revisions_and_receipts(
    conn: Conn,
) -> None:
    alice, bob = await make_user(conn, "alice"), await make_user(conn, "bob")
    room = await make_room(conn, alice)
    await probes.insert_member(conn, room_id=room, user_id=alice, role="owner")
    await probes.insert_member(conn, room_id=room, user_id=bob, role="member")
    message = await make_message(conn, room, 1, alice)
    await probes.insert_revision(
        conn, room_id=room, message_id=message, revision=1, content="helo", edited_by=alice
    )
    await probes.insert_receipt(conn, room_id=room, message_id=message, user_id=bob)
    before = await probes.count_room_rows(conn, room_id=room)
    assert before == {"messages": 1, "revisions": 1, "receipts": 1, "members": 2}

    assert await probes.delete_room(conn, id=room) == 1

    after = await probes.count_room_rows(conn, room_id=room)
    assert after == {"messages": 0, "revisions": 0, "receipts": 0, "members": 0}
    assert await probes.get_user(conn, id=alice) is not None


async def test_deleting_a_user_keeps_their_messages_with_the_sender_cleared(conn: Conn) -> None:
    alice, bob = await make_user(conn, "alice"), await make_user(conn, "bob")
    room = await make_room(conn, alice)
    await probes.insert_member(conn, room_id=room, user_id=alice, role="owner")
    await probes.insert_member(conn, room_id=room, user_id=bob, role="member")
    message = await make_message(conn, room, 1, alice)
    low, high = sorted([alice, bob])
    direct = await make_direct_room(conn, alice, low, high)

    assert await probes.delete_user(conn, id=alice) == 1

    kept = await probes.get_message(conn, id=message)
    assert kept is not None
    assert kept["sender_id"] is None
    assert kept["content"] == "hello"
    assert (await probes.count_members(conn, room_id=room))["n"] == 1
    room_row = await probes.get_room(conn, id=room)
    assert room_row["created_by"] is None
    direct_row = await probes.get_room(conn, id=direct)
    assert direct_row is not None
    assert {direct_row["direct_user_low"], direct_row["direct_user_high"]} == {None, bob}


async def test_every_foreign_key_has_an_index(conn: Conn) -> None:
    missing = await rows(catalog.unindexed_foreign_keys(conn))
    assert missing == []


async def test_on_delete_rules_are_deliberate(conn: Conn) -> None:
    rules = {
        (r["table_name"], r["referenced_table"], r["constraint_name"]): r["on_delete"]
        for r in await rows(catalog.foreign_key_rules(conn))
    }
    # Every foreign key says on purpose what happens on delete: nothing is left at NO ACTION.
    assert rules, "no foreign keys found"
    assert all(rule in {"c", "n"} for rule in rules.values()), rules
    by_pair = {(table, ref): rule for (table, ref, _), rule in rules.items()}
    assert by_pair[("messages", "rooms")] == "c"
    assert by_pair[("room_users", "users")] == "c"
    assert by_pair[("message_read_receipts", "messages")] == "c"
    assert by_pair[("message_revisions", "messages")] == "c"
