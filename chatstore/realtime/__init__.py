"""The Redis side of chatstore: connection, sessions, presence, typing, pub/sub (the hub
and its subscriptions), the per-process room feed that orders change-log entries and fills
gaps from PostgreSQL, and the per-client stream. PostgreSQL stays the source of truth."""

from chatstore.realtime.connection import open_redis, redis_errors
from chatstore.realtime.events import Event, room_channel, user_channel
from chatstore.realtime.feed import RoomFeed
from chatstore.realtime.presence import Presence
from chatstore.realtime.pubsub import EventHub, publish
from chatstore.realtime.sessions import Session, SessionStore
from chatstore.realtime.stream import ClientStream
from chatstore.realtime.subscription import Subscription
from chatstore.realtime.typing import Typing

__all__ = [
    "ClientStream",
    "Event",
    "EventHub",
    "Presence",
    "RoomFeed",
    "Session",
    "SessionStore",
    "Subscription",
    "Typing",
    "open_redis",
    "publish",
    "redis_errors",
    "room_channel",
    "user_channel",
]
