"""The Redis side of chatstore: connection, sessions, presence, typing, unread counters and
pub/sub delivery of events. PostgreSQL stays the source of truth."""

from chatstore.realtime.connection import open_redis, redis_errors
from chatstore.realtime.events import Event, room_channel, user_channel
from chatstore.realtime.presence import Presence
from chatstore.realtime.pubsub import EventHub, Subscription, publish
from chatstore.realtime.sessions import Session, SessionStore
from chatstore.realtime.typing import Typing
from chatstore.realtime.unread import UnreadCounters

__all__ = [
    "Event",
    "EventHub",
    "Presence",
    "Session",
    "SessionStore",
    "Subscription",
    "Typing",
    "UnreadCounters",
    "open_redis",
    "publish",
    "redis_errors",
    "room_channel",
    "user_channel",
]
