"""chatstore: the data layer of a real-time chat application (PostgreSQL + Redis, asyncio)."""

from chatstore.config import Settings
from chatstore.errors import (
    AlreadyExists,
    AuthenticationFailed,
    ChatStoreError,
    ConfigurationError,
    Conflict,
    NotFound,
    OutcomeUnknown,
    PermissionDenied,
    Unavailable,
    ValidationError,
)
from chatstore.models import (
    Attachment,
    CreateMessage,
    Member,
    Message,
    MessagePage,
    MessageRevision,
    Receipt,
    Room,
    UnreadCount,
    User,
    UserRoom,
)
from chatstore.store import ChatStore

__all__ = [
    "AlreadyExists",
    "Attachment",
    "AuthenticationFailed",
    "ChatStore",
    "ChatStoreError",
    "ConfigurationError",
    "Conflict",
    "CreateMessage",
    "Member",
    "Message",
    "MessagePage",
    "MessageRevision",
    "NotFound",
    "OutcomeUnknown",
    "PermissionDenied",
    "Receipt",
    "Room",
    "Settings",
    "Unavailable",
    "UnreadCount",
    "User",
    "UserRoom",
    "ValidationError",
]
