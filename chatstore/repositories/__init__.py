"""Repositories: thin async classes over the loaded `sql/` queries. PostgreSQL only."""

from chatstore.repositories.messages import MessageRepository
from chatstore.repositories.rooms import RoomRepository
from chatstore.repositories.users import UserRepository

__all__ = ["MessageRepository", "RoomRepository", "UserRepository"]
