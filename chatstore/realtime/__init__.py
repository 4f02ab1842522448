"""The Redis side of chatstore: connection handling and sessions."""

from chatstore.realtime.connection import open_redis, redis_errors
from chatstore.realtime.sessions import Session, SessionStore

__all__ = ["Session", "SessionStore", "open_redis", "redis_errors"]
