"""Input checks that run before anything is written. Each failure names the field and rule."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import uuid
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from chatstore.errors import ValidationError

T = TypeVar("T", bound=str)
C = TypeVar("C")

EMAIL_MAX = 254
# Pragmatic shape check (local@domain.tld); the address itself is proven by a mail loop.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,31}$")
PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_BYTES = 72  # bcrypt's limit: longer input would be silently cut
DISPLAY_NAME_MAX = 100
ROOM_NAME_MAX = 100
ROOM_DESCRIPTION_MAX = 1000
CONTENT_MAX = 10_000
CLIENT_ID_MAX = 64
PAGE_LIMIT_MAX = 200
OFFSET_MAX = 1_000_000
# Change-log and application event types: a lowercase dotted name (`app.poll_closed`), the
# same rule as the room_events_type_format check.
EVENT_TYPE_MAX = 64
EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
# chatstore's own event families: an application event named like one of them could be
# mistaken for chatstore's (a forged `message.created`), so applications cannot use them.
RESERVED_EVENT_PREFIXES = (
    "message.",
    "member.",
    "reaction.",
    "room.",
    "typing.",
    "presence.",
    "receipt.",
    "marker.",
    "stream.",
    "subscription.",
    "thread.",
    "mention.",
)
# A reaction key: an emoji (flags and family sequences run to several code points), a
# `:shortcode:` or `+1`. Whitespace (str.isspace) and control characters (category Cc) are
# refused: exactly the code points of this class, which the message_reactions_reaction_format
# check in the migration lists too, so Python and PostgreSQL agree on every key.
REACTION_MAX_CHARS = 32
_REACTION_REFUSED = re.compile(
    r"[\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)
# An event payload travels in every publish and sits in the log: small on purpose.
JSON_OBJECT_MAX_BYTES = 16 * 1024
_JSON_DEPTH_MAX = 32
# Python refuses to write integers of more than 4300 digits as text (int_max_str_digits),
# so a bigger one would fail json.dumps; no real payload needs a number this long anyway.
JSON_INTEGER_DIGITS_MAX = 1000
_JSON_INTEGER_LIMIT = 10**JSON_INTEGER_DIGITS_MAX
NO_SURROGATES = "must be valid Unicode text (no lone surrogates such as \\ud800)"


def uuid_value(field: str, value: object) -> uuid.UUID:
    """A UUID, or its text form; anything else (bytes, ints, None, ...) is refused."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise ValidationError(field, "must be a UUID")


def uuid_list(field: str, values: object) -> list[uuid.UUID]:
    """Ids from a list, set or any other iterable, duplicates dropped, order kept. A string,
    bytes or a mapping is refused: iterating it would yield characters, ints or keys."""
    if isinstance(values, str | bytes | bytearray | Mapping) or not isinstance(values, Iterable):
        raise ValidationError(field, "must be a list of UUIDs")
    return list(dict.fromkeys(uuid_value(field, value) for value in values))


# At most this many users named in one message (messages_mentioned_ids_size says the same).
MENTIONS_MAX = 100


def mention_ids(field: str, values: object) -> list[uuid.UUID]:
    """The users a message mentions: ids as uuid_list takes them, at most MENTIONS_MAX."""
    ids = uuid_list(field, values)
    if len(ids) > MENTIONS_MAX:
        raise ValidationError(field, f"must name at most {MENTIONS_MAX} users")
    return ids


def keyset_cursor(field: str, value: object, cls: type[C]) -> C:
    """A keyset cursor a previous page handed out: an instance of the dataclass `cls` whose
    fields are an aware datetime and a UUID, in that order (a naive time would compare in
    the server's time zone, anything else would reach the driver)."""
    if isinstance(value, cls):
        at, key = (getattr(value, f.name) for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        if isinstance(at, datetime) and at.tzinfo is not None and isinstance(key, uuid.UUID):
            return value
    raise ValidationError(field, f"must be a {cls.__name__} from a previous page, or None")


def flag(field: str, value: object) -> bool:
    """True or False, nothing else (not 0, 1 or a string)."""
    if not isinstance(value, bool):
        raise ValidationError(field, "must be True or False")
    return value


def unicode_text(field: str, value: str) -> str:
    """Refuse lone surrogates (U+D800..U+DFFF alone). Python strings and JSON escapes can
    carry them, but UTF-8 cannot: PostgreSQL and Redis would fail to store them."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(field, NO_SURROGATES) from None
    return value


def text(
    field: str,
    value: object,
    *,
    max_chars: int,
    allow_empty: bool = False,
) -> str:
    """A string PostgreSQL and Redis can store (no NUL, which PostgreSQL text refuses, no
    lone surrogates, which UTF-8 cannot carry), non-blank unless allowed, at most max_chars
    long."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    if "\x00" in value:
        raise ValidationError(field, "must not contain NUL characters")
    unicode_text(field, value)
    if not allow_empty and not value.strip():
        raise ValidationError(field, "must not be empty")
    if len(value) > max_chars:
        raise ValidationError(field, f"must be at most {max_chars} characters")
    return value


def optional_text(field: str, value: object, *, max_chars: int) -> str | None:
    return None if value is None else text(field, value, max_chars=max_chars)


def email(value: object) -> str:
    address = text("email", value, max_chars=EMAIL_MAX).strip()
    if not EMAIL_RE.match(address):
        raise ValidationError("email", "must look like name@example.com")
    return address


def username(value: object) -> str:
    name = text("username", value, max_chars=32)
    if not USERNAME_RE.match(name):
        raise ValidationError(
            "username",
            "must be 2 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


def password(value: object, field: str = "password") -> str:
    secret = text(field, value, max_chars=PASSWORD_MAX_BYTES)
    if len(secret) < PASSWORD_MIN_CHARS:
        raise ValidationError(field, f"must be at least {PASSWORD_MIN_CHARS} characters")
    if len(secret.encode("utf-8")) > PASSWORD_MAX_BYTES:
        raise ValidationError(field, f"must be at most {PASSWORD_MAX_BYTES} bytes in UTF-8")
    return secret


def choice(field: str, value: object, allowed: Collection[T]) -> T:
    for option in allowed:
        if value == option:
            return option
    raise ValidationError(field, f"must be one of {', '.join(sorted(allowed))}")


def integer(field: str, value: object, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, "must be a whole number")
    if not low <= value <= high:
        raise ValidationError(field, f"must be between {low} and {high}")
    return value


def page_limit(value: object) -> int:
    return integer("limit", value, low=1, high=PAGE_LIMIT_MAX)


def offset(value: object) -> int:
    return integer("offset", value, low=0, high=OFFSET_MAX)


def seq(field: str, value: object) -> int:
    return integer(field, value, low=0, high=2**62)


def event_type(field: str, value: object) -> str:
    """An application's event type: lowercase dotted, at most 64 characters, outside
    chatstore's own prefixes (RESERVED_EVENT_PREFIXES)."""
    name = text(field, value, max_chars=EVENT_TYPE_MAX)
    # fullmatch: `$` alone would also accept a trailing newline.
    if not EVENT_TYPE_RE.fullmatch(name):
        raise ValidationError(
            field, "must be a lowercase dotted name such as app.poll_closed (a-z, 0-9, _)"
        )
    if name.startswith(RESERVED_EVENT_PREFIXES):
        family = name.split(".", 1)[0]
        raise ValidationError(field, f"must not start with '{family}.', which is chatstore's")
    return name


def reaction(value: object, field: str = "reaction") -> str:
    """A reaction key: 1 to 32 characters (code points), no whitespace or control
    characters. Emoji, `:thumbsup:`-style shortcodes and `+1` pass."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    unicode_text(field, value)
    if not 1 <= len(value) <= REACTION_MAX_CHARS:
        raise ValidationError(field, f"must be 1 to {REACTION_MAX_CHARS} characters long")
    if _REACTION_REFUSED.search(value):
        raise ValidationError(field, "must not contain whitespace or control characters")
    return value


def json_object(
    field: str, value: object, *, max_bytes: int = JSON_OBJECT_MAX_BYTES
) -> dict[str, Any]:
    """A mapping that JSON (and PostgreSQL's jsonb) carries unchanged, at most `max_bytes`
    as compact UTF-8 JSON. Returns a plain copy, exactly what a reader will get back."""
    if not isinstance(value, Mapping):
        raise ValidationError(field, "must be a JSON object (a dict)")
    _check_json(field, value, 0)
    encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if len(encoded.encode("utf-8")) > max_bytes:
        raise ValidationError(field, f"must be at most {max_bytes} bytes as JSON")
    copy: dict[str, Any] = json.loads(encoded)
    return copy


def _check_json(field: str, value: object, depth: int) -> None:
    """Refuse what json.dumps would change or fail on, or PostgreSQL's jsonb refuses:
    non-string keys (silently stringified), NaN and infinities, integers too long to write,
    NUL characters, lone surrogates, and other Python objects."""
    if depth > _JSON_DEPTH_MAX:
        raise ValidationError(field, f"must nest at most {_JSON_DEPTH_MAX} levels deep")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        json_integer(field, value)
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(field, "must not contain NaN or infinite numbers")
        return
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationError(field, "must not contain NUL characters")
        unicode_text(field, value)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(field, "must have string keys only")
            _check_json(field, key, depth + 1)
            _check_json(field, item, depth + 1)
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_json(field, item, depth + 1)
        return
    raise ValidationError(field, f"must hold only JSON values, not {type(value).__name__}")


def json_integer(field: str, value: int) -> int:
    """An integer json.dumps can write (see JSON_INTEGER_DIGITS_MAX)."""
    if not -_JSON_INTEGER_LIMIT < value < _JSON_INTEGER_LIMIT:
        raise ValidationError(
            field, f"must hold whole numbers of at most {JSON_INTEGER_DIGITS_MAX} digits"
        )
    return value
