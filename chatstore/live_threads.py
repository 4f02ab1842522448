"""ThreadRepository as ChatStore hands it out: a follower's moved thread marker is also
published, once committed, on the user's own channel, so their other devices clear the
thread's unread badge (as chatstore.live.LiveReadMarkers does for rooms).

Following and unfollowing need nothing here: they append thread.followed /
thread.unfollowed to the room's log, which reaches listeners like every entry.
"""

from __future__ import annotations

from uuid import UUID

from chatstore.config import Settings
from chatstore.db import Database
from chatstore.live import publish_after_commit
from chatstore.realtime.events import Event, user_channel
from chatstore.realtime.outbox import Outbox
from chatstore.repositories.threads import ThreadRepository
from chatstore.thread_models import ThreadReadState


class LiveThreads(ThreadRepository):
    """`thread.marker_moved` (the envelope's room_id; payload: user_id, root_id,
    last_read_thread_seq, unread_replies, unread_mentions) on the user's channel after a
    marker moved; a call that moved nothing publishes nothing."""

    def __init__(self, db: Database, settings: Settings, outbox: Outbox) -> None:
        super().__init__(db, settings)
        self._outbox = outbox

    async def mark_read(
        self, root_id: UUID | str, *, user_id: UUID | str, thread_seq: int | None = None
    ) -> ThreadReadState:
        state, announce = await self._move(root_id, user_id, thread_seq)
        if announce:
            event = Event(
                "thread.marker_moved",
                room_id=state.room_id,
                payload={
                    "user_id": str(state.user_id),
                    "root_id": str(state.root_id),
                    "last_read_thread_seq": state.last_read_thread_seq,
                    "unread_replies": state.unread_replies,
                    "unread_mentions": state.unread_mentions,
                },
            )
            await publish_after_commit(self._db, self._outbox, user_channel(state.user_id), event)
        return state
