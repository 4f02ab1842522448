"""Repositories: thin async classes over the loaded `sql/` queries. PostgreSQL only."""

from chatstore.repositories.events import EventLogRepository
from chatstore.repositories.messages import MessageRepository
from chatstore.repositories.rooms import RoomRepository
from chatstore.repositories.users import UserRepository

__all__ = ["EventLogRepository", "MessageRepository", "RoomRepository", "UserRepository"]
