"""chatstore: the data layer of a real-time chat application (PostgreSQL + Redis, asyncio)."""

from chatstore.config import Settings
from chatstore.errors import (
    AlreadyExists,
    AuthenticationFailed,
    ChatStoreError,
    ConfigurationError,
    Conflict,
    NotFound,
    PermissionDenied,
    Unavailable,
    ValidationError,
)

__all__ = [
    "AlreadyExists",
    "AuthenticationFailed",
    "ChatStoreError",
    "ConfigurationError",
    "Conflict",
    "NotFound",
    "PermissionDenied",
    "Settings",
    "Unavailable",
    "ValidationError",
]
