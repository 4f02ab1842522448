"""Turn psycopg exceptions into chatstore errors, naming the field a constraint guards."""

from __future__ import annotations

import psycopg
from psycopg import errors as pg

from chatstore.errors import (
    AlreadyExists,
    ChatStoreError,
    NotFound,
    Unavailable,
    ValidationError,
)

# Unique indexes -> the field a caller would recognise.
UNIQUE_FIELDS = {
    "users_pkey": "id",
    "users_email_lower_key": "email",
    "users_username_lower_key": "username",
    "rooms_pkey": "id",
    "rooms_direct_pair_key": "direct room",
    "room_users_pkey": "user_id",
    "messages_pkey": "id",
    "messages_client_id_key": "client_id",
    "messages_room_seq_key": "seq",
    "room_events_pkey": "event_seq",
}

# Check constraints -> (field, rule). Input validation catches these first; this is the
# backstop for callers that bypass it and for rules only the database can see.
CHECK_RULES = {
    "users_email_format": ("email", "must look like name@example.com"),
    "users_username_format": ("username", "must be 2 to 32 letters, digits, '.', '_' or '-'"),
    "users_display_name_length": ("display_name", "must be 1 to 100 characters"),
    "users_password_hash_is_bcrypt": ("password_hash", "must be a bcrypt hash of cost >= 10"),
    "rooms_kind_valid": ("kind", "must be public, private or direct"),
    "rooms_name_length": ("name", "must be 1 to 100 characters"),
    "rooms_named_unless_direct": ("name", "is required for public and private rooms"),
    "rooms_description_length": ("description", "must be at most 1000 characters"),
    "room_users_role_valid": ("role", "must be owner, admin or member"),
    "messages_kind_valid": ("kind", "must be text, image, file or system"),
    "messages_content_length": ("content", "must be at most 10000 characters"),
    "messages_text_not_empty": ("content", "must not be empty"),
    "messages_attachment_iff_media": ("attachment", "is required exactly for image and file"),
    "messages_attachment_shape": ("attachment", "needs url, name, mime_type and size"),
    "messages_client_id_length": ("client_id", "must be 1 to 64 characters"),
    "room_events_event_seq_positive": ("event_seq", "must be positive"),
    "room_events_type_format": (
        "type",
        "must be a lowercase dotted name (such as app.poll_closed) of at most 64 characters",
    ),
    "room_events_payload_is_object": ("payload", "must be a JSON object"),
}

# Foreign keys -> what was missing.
FOREIGN_KEY_TARGETS = {
    "rooms_created_by_fkey": "user",
    "rooms_direct_user_low_fkey": "user",
    "rooms_direct_user_high_fkey": "user",
    "room_users_room_id_fkey": "room",
    "room_users_user_id_fkey": "user",
    "messages_room_id_fkey": "room",
    "messages_sender_id_fkey": "user",
    "message_read_receipts_user_id_fkey": "user",
    "message_read_receipts_room_id_message_id_fkey": "message",
    "room_events_room_id_fkey": "room",
    "room_events_actor_id_fkey": "user",
}


def translate(exc: psycopg.Error) -> ChatStoreError:
    """The chatstore error for a driver error. Never returns the driver error itself."""
    constraint = exc.diag.constraint_name if exc.diag else None
    if isinstance(exc, pg.UniqueViolation):
        return AlreadyExists(UNIQUE_FIELDS.get(constraint or "", constraint or "value"))
    if isinstance(exc, pg.CheckViolation):
        field, rule = CHECK_RULES.get(constraint or "", (constraint or "value", "is invalid"))
        return ValidationError(field, rule)
    if isinstance(exc, pg.ForeignKeyViolation):
        return NotFound(FOREIGN_KEY_TARGETS.get(constraint or "", "referenced row"), constraint)
    if isinstance(exc, pg.NotNullViolation):
        return ValidationError(exc.diag.column_name or "value", "is required")
    if isinstance(exc, pg.StringDataRightTruncation | pg.CharacterNotInRepertoire):
        return ValidationError("value", str(exc.diag.message_primary or "is invalid"))
    if isinstance(exc, psycopg.DataError):
        # Class 22: a value PostgreSQL cannot take (malformed uuid or json, out of range).
        return ValidationError(exc.diag.column_name or "value", str(exc.diag.message_primary))
    if isinstance(exc, pg.QueryCanceled):
        return Unavailable(f"PostgreSQL cancelled the statement: {exc.diag.message_primary}")
    if isinstance(exc, pg.SerializationFailure | pg.DeadlockDetected):
        return Unavailable(f"PostgreSQL aborted a conflicting transaction; retry: {exc}")
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return Unavailable(f"PostgreSQL unavailable: {exc}")
    return ChatStoreError(f"database error: {exc}")
