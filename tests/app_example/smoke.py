"""The smallest chat program on an installed chatstore; the installed-package test runs it.

With CHATSTORE_SQL_PATH pointing at ./sql it also uses the application's own queries, on
chatstore's pool and inside one of its transactions.
"""

import asyncio
import os
import secrets

from chatstore import ChatStore, CreateMessage


async def main() -> None:
    async with ChatStore.open() as store:  # settings from the environment
        tag = secrets.token_hex(3)
        alice = await store.users.create(
            email=f"alice-{tag}@example.com", username=f"alice-{tag}", password="correct horse"
        )
        bob = await store.users.create(
            email=f"bob-{tag}@example.com", username=f"bob-{tag}", password="battery staple"
        )
        room = await store.rooms.create(name=f"general-{tag}", kind="public", created_by=alice.id)
        await store.rooms.add_member(room.id, bob.id)
        sent = await store.send_message(
            CreateMessage(room_id=room.id, sender_id=alice.id, content="hello from a wheel")
        )
        page = await store.messages.page_before(room.id, user_id=bob.id, limit=10)
        print("read back:", [(m.seq, m.content) for m in page.messages])
        print("unread for bob:", (await store.unread_counts(bob.id))[room.id])
        if os.environ.get("CHATSTORE_SQL_PATH"):
            async with store.transaction():
                await store.queries.app.set_topic(room_id=room.id, topic="launch plans")
                await store.send_message(
                    CreateMessage(room_id=room.id, sender_id=bob.id, content="topic set")
                )
            rooms = await store.queries.app.list_public_rooms(limit=5)
            print("app query:", [(r["name"] == room.name, r["topic"]) for r in rooms[:1]])
        print("sent seq", sent.seq)


asyncio.run(main())
