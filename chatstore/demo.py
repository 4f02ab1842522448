"""`python -m chatstore.demo`: a scripted conversation on the development database.

Shows what the seed loaded, then signs up two users, logs in (and fails to), makes a public
and a direct room, sends messages of each kind, edits one (with its history), soft-deletes
one, walks history pages and catch-up, and shows read receipts and unread counts; a reply,
reactions, a pin, marking a room read and the room list with previews; a thread with a
mention (chatstore.demo_threads). Then two
connected users: presence, typing, a message delivered live with its measured latency, a
read receipt, and unread counts before and after. Each run
uses new usernames, so it can run again and again on the same database.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from collections.abc import AsyncIterator
from uuid import UUID

from chatstore.config import Settings
from chatstore.demo_threads import threads_and_mentions
from chatstore.errors import AuthenticationFailed, ChatStoreError
from chatstore.models import Attachment, CreateMessage, Message, User
from chatstore.realtime.events import Event
from chatstore.store import ChatStore

PASSWORDS = {"alice": "correct horse battery", "bob": "tr0ub4dor and staple"}


def heading(title: str) -> None:
    print(f"\n== {title}")


def line(message: Message, names: dict[UUID | None, str]) -> str:
    who = names.get(message.sender_id, "(deleted user)")
    if message.is_deleted:
        return f"  [{message.seq}] {who}: (message deleted)"
    text = message.content or ""
    if message.attachment is not None:
        size_kb = message.attachment.size // 1000
        text = f"{text} <{message.kind}: {message.attachment.name}, {size_kb} kB>".strip()
    edited = f" (edited {message.edit_count}x)" if message.edit_count else ""
    return f"  [{message.seq}] {who}: {text}{edited}"


async def show_seed(store: ChatStore) -> None:
    async with store.db.connection() as conn:
        summary = await store.db.queries.summary.database_summary(conn)
        rooms = [row async for row in store.db.queries.summary.room_overview(conn)]
    heading("What the database holds")
    print(
        f"  {summary['users_count']} users, {summary['rooms_count']} rooms, "
        f"{summary['memberships_count']} memberships, {summary['messages_count']} messages "
        f"({summary['edited_messages_count']} edited, "
        f"{summary['deleted_messages_count']} soft-deleted), "
        f"{summary['read_receipts_count']} read receipts"
    )
    for room in rooms[:6]:
        print(
            f"  {room['display_name']:<24} {room['kind']:<8} {room['members']:>3} members, "
            f"last seq {room['last_seq']}"
        )


async def sign_up(store: ChatStore, tag: str) -> tuple[User, User]:
    heading("Sign-up and login")
    alice = await store.users.create(
        email=f"alice.{tag}@example.com",
        username=f"alice.{tag}",
        password=PASSWORDS["alice"],
        display_name="Alice",
    )
    bob = await store.users.create(
        email=f"bob.{tag}@example.com",
        username=f"bob.{tag}",
        password=PASSWORDS["bob"],
        display_name="Bob",
    )
    print(f"  signed up {alice.username} <{alice.email}> and {bob.username} <{bob.email}>")
    logged_in = await store.users.authenticate(alice.email.upper(), PASSWORDS["alice"])
    print(f"  {logged_in.username} logs in with her email in capitals: ok")
    try:
        await store.users.authenticate(bob.username, "not the password")
    except AuthenticationFailed as exc:
        print(f"  {bob.username} with a wrong password: refused ({exc})")
    return alice, bob


async def converse(store: ChatStore, alice: User, bob: User, tag: str) -> None:
    names: dict[UUID | None, str] = {alice.id: alice.username, bob.id: bob.username}
    heading("Rooms")
    room = await store.rooms.create(name=f"demo-{tag}", kind="public", created_by=alice.id)
    await store.rooms.add_member(room.id, bob.id)
    print(f"  #{room.name} ({room.kind}) created by {alice.username}; {bob.username} joined")
    direct = await store.rooms.get_or_create_direct(alice.id, bob.id)
    again = await store.rooms.get_or_create_direct(bob.id, alice.id)
    print(
        f"  direct room {alice.username} & {bob.username}: asking twice gives one room: "
        f"{direct.id == again.id}"
    )

    heading(f"Messages in #{room.name}")
    photo = Attachment(
        url="https://files.example.com/p.jpg",
        name="harbour.jpg",
        mime_type="image/jpeg",
        size=182_000,
    )
    notes = Attachment(
        url="https://files.example.com/n.pdf",
        name="notes.pdf",
        mime_type="application/pdf",
        size=52_000,
    )
    sends = [
        CreateMessage(room.id, alice.id, "hello bob", client_id=f"{tag}-1"),
        CreateMessage(room.id, alice.id, "from the trip", kind="image", attachment=photo),
        CreateMessage(room.id, alice.id, "meeting notes", kind="file", attachment=notes),
        CreateMessage(room.id, bob.id, "thanks, lookin good"),
        CreateMessage(room.id, alice.id, "see you at 6"),
        CreateMessage(room.id, alice.id, "oops, wrong room"),
    ]
    sent = [await store.messages.create(message) for message in sends]
    for message in sent:
        print(line(message, names))
    retry = await store.messages.create(sends[0])
    print(
        f"  a retried send with the same client id returns [{retry.seq}] again, "
        f"no duplicate: {retry.id == sent[0].id}"
    )

    heading("Edit and soft delete")
    typo = sent[3]
    edited = await store.messages.update(typo.id, "thanks, looking good", editor_id=bob.id)
    print(line(edited, names))
    for revision in await store.messages.history(typo.id, user_id=alice.id):
        print(f"    revision {revision.revision} was: {revision.content!r}")
    deleted = await store.messages.delete(sent[5].id, acting_user_id=alice.id)
    print(line(deleted, names))

    heading("History, two messages a page, newest first (keyset)")
    page = await store.messages.page_before(room.id, user_id=bob.id, limit=2)
    number = 1
    while True:
        print(f"  page {number}: " + ", ".join(f"[{m.seq}]" for m in page.messages))
        if page.older_cursor is None:
            break
        page = await store.messages.page_before(
            room.id, user_id=bob.id, before_seq=page.older_cursor, limit=2
        )
        number += 1
    caught_up = await store.messages.catch_up(room.id, user_id=bob.id, after_seq=3)
    print(
        "  a client that saw seq 3 catches up with: " + ", ".join(f"[{m.seq}]" for m in caught_up)
    )

    heading("Receipts and unread counts")
    await show_unread(store, bob, names)
    receipt = await store.messages.mark_as_read(sent[4].id, bob.id)
    print(f"  {bob.username} reads [{sent[4].seq}] at {receipt.read_at:%H:%M:%S}")
    readers = await store.messages.receipts(sent[4].id, user_id=alice.id)
    print(f"  receipts of [{sent[4].seq}]: " + ", ".join(names[r.user_id] for r in readers))
    await store.messages.create(CreateMessage(direct.id, alice.id, "psst, a secret"))
    await show_unread(store, bob, names)
    await conversation(store, alice, bob, sent[4], names)


async def conversation(
    store: ChatStore, alice: User, bob: User, plan: Message, names: dict[UUID | None, str]
) -> None:
    heading("Replies, reactions, pins, threads and the room list")
    reply = await store.messages.create(
        CreateMessage(plan.room_id, bob.id, "count me in", reply_to_id=plan.id)
    )
    quoted = reply.reply_to
    assert quoted is not None
    print(f"{line(reply, names)}  (replying to [{quoted.seq}]: {quoted.content!r})")
    for who, key in ((bob, "👍"), (alice, "👍"), (bob, ":tada:")):
        await store.reactions.add(plan.id, key, user_id=who.id)
    counts = await store.reactions.reactions(plan.id, user_id=alice.id)
    shown = [f"{c.reaction} x{c.count}" + (" (alice too)" * c.reacted_by_me) for c in counts]
    print(f"  reactions on [{plan.seq}]: " + ", ".join(shown))
    await store.pins.pin(plan.id, user_id=alice.id)
    pinned = (await store.pins.pins(plan.room_id, user_id=bob.id)).pins
    print("  pinned: " + ", ".join(f"[{p.message.seq}] {p.message.content!r}" for p in pinned))
    await threads_and_mentions(store, alice, bob, plan, names)
    marker = await store.messages.mark_read_up_to(plan.room_id, bob.id)
    print(f"  {bob.username} marks the room read: {marker.unread_count} unread")
    for entry in await store.rooms.rooms_of_user(bob.id):
        partner = entry.direct_user.username if entry.direct_user else "?"
        name = f"#{entry.room.name}" if entry.room.name else f"direct with {partner}"
        last = entry.last_message
        text = "(none)" if last is None else repr(last.content or f"<{last.kind}>")
        print(f"  room list: {name:<28} {entry.unread_count} unread, last {text}")


async def wait_for(stream: AsyncIterator[Event], kind: str) -> Event:
    """The next event of this type (others pass by), at most 5 s away."""
    async with asyncio.timeout(5):
        async for event in stream:
            if event.type == kind:
                return event
    raise ChatStoreError(f"the stream ended before a {kind} event")


async def live(store: ChatStore, alice: User, bob: User, tag: str) -> None:
    heading("Live: bob's client listens while alice is online")
    room = await store.rooms.create(name=f"live-{tag}", kind="public", created_by=alice.id)
    await store.rooms.add_member(room.id, bob.id)
    # Bob's client: his rooms' change log from now on, and alice's presence.
    async with store.connect(bob.id, "bob-phone", follow=[alice.id]) as bob_screen:
        await store.presence.connect(alice.id, "alice-laptop")
        online = await wait_for(bob_screen, "presence.changed")
        print(f"  presence: {alice.username} online={online.payload['online']}")
        await store.typing.start(room.id, alice.id)
        typing = await wait_for(bob_screen, "typing.changed")
        print(f"  typing: {len(typing.payload['typing'])} typing in #{room.name}")
        print(f"  {bob.username}'s unread before: {await unread_in(store, bob, room.id)}")
        started = time.perf_counter()
        sent = await store.send_message(CreateMessage(room.id, alice.id, "are you there?"))
        delivered = await wait_for(bob_screen, "message.created")
        latency_ms = (time.perf_counter() - started) * 1000
        print(
            f"  delivered live: [{delivered.seq}] {delivered.payload['content']!r} "
            f"in {latency_ms:.2f} ms (send committed, published, received), "
            f"event_seq {delivered.event_seq}"
        )
        print(f"  {bob.username}'s unread after the send: {await unread_in(store, bob, room.id)}")
        await store.messages.mark_as_read(sent.id, bob.id)
        receipt = await wait_for(bob_screen, "receipt.read")
        print(f"  read receipt: {bob.username} read [{receipt.seq}]")
        print(f"  {bob.username}'s unread after reading: {await unread_in(store, bob, room.id)}")
        await store.presence.disconnect(alice.id, "alice-laptop")
        offline = await wait_for(bob_screen, "presence.changed")
        print(f"  presence: {alice.username} online={offline.payload['online']}")


async def unread_in(store: ChatStore, user: User, room_id: UUID) -> int:
    return (await store.unread_counts(user.id)).get(room_id, 0)


async def show_unread(store: ChatStore, user: User, names: dict[UUID | None, str]) -> None:
    for entry in await store.rooms.rooms_of_user(user.id):
        title = f"#{entry.room.name}" if entry.room.name else "direct"
        print(
            f"  {user.username} in {title}: {entry.unread_count} unread "
            f"(last seq {entry.room.last_seq}, read up to {entry.last_read_seq})"
        )


async def run() -> None:
    async with ChatStore.open(Settings.from_env()) as store:
        await show_seed(store)
        tag = secrets.token_hex(3)
        alice, bob = await sign_up(store, tag)
        await converse(store, alice, bob, tag)
        await live(store, alice, bob, tag)


def main() -> int:
    try:
        asyncio.run(run())
    except ChatStoreError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
