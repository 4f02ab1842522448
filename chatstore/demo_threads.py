"""The demo's threads and mentions (`python -m chatstore.demo`, after the replies): a thread
under a message, a mention resolved from `@username`, the mentioned user's followed threads,
room list and mentions inbox, and the room page that leaves thread replies out."""

from __future__ import annotations

from uuid import UUID

from chatstore import ChatStore, CreateMessage
from chatstore.models import Message, User


async def threads_and_mentions(
    store: ChatStore, alice: User, bob: User, root: Message, names: dict[UUID | None, str]
) -> None:
    room = root.room_id
    text = f"which pier, @{alice.username}?"
    found = await store.mentions.resolve(room, text, user_id=bob.id)
    print(f"  {bob.username} writes {text!r}: mentions {[names[u] for u in found.user_ids]}")
    asked = await store.messages.create(
        CreateMessage(room, bob.id, text, thread_root_id=root.id, mention_ids=found.user_ids)
    )
    print(f"  in the thread of [{root.seq}]: reply {asked.thread_seq} is room seq {asked.seq}")
    for followed in (await store.threads.followed(alice.id)).threads:
        print(
            f"  {alice.username} follows [{followed.root.seq}]: "
            f"unread replies {followed.unread_replies}, mentions {followed.unread_mentions}"
        )
    for entry in await store.rooms.rooms_of_user(alice.id):
        if entry.room.id == room:
            print(f"  {alice.username}'s room list: unread mentions {entry.unread_mention_count}")
    inbox = (await store.mentions.inbox(alice.id)).mentions
    print(f"  {alice.username}'s inbox: " + ", ".join(repr(m.message.content) for m in inbox))
    await store.messages.create(
        CreateMessage(room, alice.id, "pier 3", thread_root_id=root.id, also_to_room=True)
    )
    thread = await store.threads.page(root.id, user_id=bob.id)
    print("  the thread: " + ", ".join(repr(m.content) for m in thread.replies))
    page = await store.messages.page_before(room, user_id=bob.id, limit=4, thread_replies=False)
    shown = [
        f"[{m.seq}]" + (f" ({m.thread.reply_count} replies)" if m.thread else "")
        for m in page.messages
    ]
    print("  the room without thread-only replies: " + ", ".join(shown))
    state = await store.threads.mark_read(root.id, user_id=alice.id)
    print(f"  {alice.username} reads the thread: unread replies {state.unread_replies}")
