"""Fuzzing the public API against the real servers: only chatstore errors ever escape, and a
call that raised left PostgreSQL and Redis exactly as they were.

Every public method of ChatStore and of what it hands out (users, rooms, messages,
reactions, pins, mentions, sessions, presence, typing, log, plus
`chatstore.realtime.publish`) is called with arguments drawn from a mix of valid values (the
ids of a small world of users, rooms and messages, well formed text) and hostile ones: lone
surrogates, NUL, None, numbers, bools, bytes, lists, dicts, huge strings, malformed UUIDs,
negative and huge numbers, valid text with a surrogate or NUL slipped in, and
CreateMessage, Attachment, Event and page cursor records with one bad field. Most calls get
exactly one hostile argument, so each rule is reached past the checks before it.

A problem is: a raw (non-chatstore) exception, a hang, a chatstore error after which a row
count or digest (db/checks/fuzz.sql) or the Redis keys and values differ, a bare
ChatStoreError, or a ValidationError that PostgreSQL raised (a rule the checks missed).

How hypothesis meets asyncio here: pytest-asyncio 1.x does run `@given` on an async test
(each example through its runner, on the session's loop; tried), but a failure there stops
the search and shrinks that one example with many more real-server calls. This test wants a
census instead: every distinct problem in one run, each with a call that reproduces it. So
hypothesis only generates: a plain `@given` function per method collects its cases (a fixed
seed per method: the same cases every run), and the async test replays them one by one and
fails listing every distinct problem. The hostile values are small by construction, so
shrinking would add little.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import traceback
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, timedelta
from typing import Any

import aiosql
import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from chatstore import (
    Attachment,
    ChatStore,
    ChatStoreError,
    CreateMessage,
    MentionCursor,
    NotFound,
    PinCursor,
    PublicRoomCursor,
    ReactorCursor,
    ValidationError,
)
from chatstore.realtime import Event, publish
from chatstore.realtime.presence import DUE_KEY, presence_key
from chatstore.realtime.tasks import stop_task
from chatstore.thread_models import FollowedThreadCursor
from tests.conftest import settings_for
from tests.dbchecks import CHECKS, connect
from tests.servers import RedisServer, flushed_redis

REDIS_DB = 13  # away from the Redis databases other test modules use: DBSIZE is ours alone
# About 3,900 calls in all, about 20 s (cases per method: 6 + 20 per argument, a record
# argument counting as several).
CASES_PER_METHOD = 6
CASES_PER_ARGUMENT = 20
WEIGHTS = {"create_message": 6, "event": 3, "data": 2, "payload": 2}
CALL_TIMEOUT = 10.0  # a call that takes this long counts as hung
states: Any = aiosql.from_path(CHECKS / "fuzz.sql", "apsycopg")
# The reaction and pin tables, condensed the way db/checks/fuzz.sql condenses the others.
conversation_states: Any = aiosql.from_str(
    """
-- name: table_states()
-- Row count and md5 of every row of the conversation tables.
SELECT 'message_reactions' AS table_name, count(*) AS row_count,
    md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS digest
FROM message_reactions AS t
UNION ALL
SELECT 'message_pins' AS table_name, count(*) AS row_count,
    md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS digest
FROM message_pins AS t
UNION ALL
SELECT 'threads' AS table_name, count(*) AS row_count,
    md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS digest
FROM threads AS t
UNION ALL
SELECT 'thread_follows' AS table_name, count(*) AS row_count,
    md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS digest
FROM thread_follows AS t
UNION ALL
SELECT 'message_mentions' AS table_name, count(*) AS row_count,
    md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS digest
FROM message_mentions AS t;
""",
    "apsycopg",
)

# Every key's name and DUMPed value, condensed on the server: one round trip per snapshot.
# (DUMP leaves TTLs out; a refused call that only slid an expiry goes unnoticed.)
_REDIS_DIGEST = """
local keys = redis.call('KEYS', '*')
table.sort(keys)
local parts = {}
for _, key in ipairs(keys) do
    parts[#parts + 1] = key
    parts[#parts + 1] = redis.call('DUMP', key)
end
return {#keys, redis.sha1hex(table.concat(parts, '\\0'))}
"""

HUGE = "x" * 100_001
HOSTILE_CONSTANTS: list[object] = [
    *(None, True, False, 0, 1, -1, 2**31, 2**63, 2**64, -(2**63) - 1, 10**100),
    *(0.0, 1.5, -2.5, math.nan, math.inf, -math.inf),
    *(b"", b"bytes", b"\xff\xfe", bytearray(b"x"), [], ["a"], [None], (), {}, {"a": 1}, set()),
    *("", " ", "\t\n", "\x00", "a\x00b", "\ud800", "\udfff", "a\ud83db", HUGE, "é" * 80),
    *("not-a-uuid", "00000000-0000-0000-0000-00000000000g", "\ud800" * 32, "1" * 33),
    *(uuid.UUID(int=0), timedelta(hours=1), object()),
]
HOSTILE_JSON: list[object] = [
    {"k": "\ud800"},
    {"\udfff": 1},
    {"k": ["ok", "a\ud83d"]},
    {"k": "a\x00b"},
    {"\x00": 1},
    {1: "an int key"},
    {"k": math.nan},
    {"k": -math.inf},
    {"k": b"bytes"},
    {"k": {1, 2}},
    {"k": uuid.UUID(int=1)},
    {"k": HUGE},
    {"k": 10**400},
    {"k": 10**5000},  # too long for json.dumps
]
_NESTED: dict[str, object] = {}
for _ in range(40):  # deeper than JSON payloads may nest
    _NESTED = {"k": _NESTED}
HOSTILE_JSON.append(_NESTED)

_surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
HOSTILE = st.one_of(
    st.sampled_from(HOSTILE_CONSTANTS),
    st.tuples(st.text(max_size=5), _surrogates, st.text(max_size=5)).map("".join),
    st.text(max_size=10).map(lambda text: text + "\x00"),
    st.integers(),
    st.floats(),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_HASHABLE = st.sampled_from([h for h in HOSTILE_CONSTANTS if h.__hash__ is not None])
_POISON = st.sampled_from(["\ud800", "\udfff", "\ud83d", "\udc80\udc80", "\x00"])


def either(*strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """One of the strategies, each as likely (`|` would weigh each by its own branches)."""
    return st.sampled_from(strategies).flatmap(lambda chosen: chosen)


def tainted(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    """A valid string with a lone surrogate or a NUL slipped in: it passes shape checks
    (an email, a name) and reaches the drivers unless the text rules catch it."""
    return st.tuples(valid.filter(lambda v: isinstance(v, str)), _POISON, st.integers(0, 40)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
    )


@dataclasses.dataclass(frozen=True)
class Kind:
    valid: st.SearchStrategy[Any]
    hostile: st.SearchStrategy[Any]


def text_kind(valid: st.SearchStrategy[Any]) -> Kind:
    return Kind(valid, either(HOSTILE, tainted(valid)))


def value_kind(valid: st.SearchStrategy[Any], *specific: object) -> Kind:
    return Kind(valid, either(HOSTILE, st.sampled_from(specific)) if specific else HOSTILE)


def record_kind(build: Callable[..., object], fields: dict[str, Kind]) -> Kind:
    """Records (CreateMessage, Attachment, Event): valid ones, and hostile wholes or records
    with exactly one bad field."""
    valid = st.builds(build, **{name: kind.valid for name, kind in fields.items()})

    @st.composite
    def one_bad(draw: st.DrawFn) -> object:
        bad = draw(st.sampled_from(sorted(fields)))
        return build(**{n: draw(k.hostile if n == bad else k.valid) for n, k in fields.items()})

    return Kind(valid, either(HOSTILE, one_bad()))


@dataclasses.dataclass(frozen=True)
class World:
    users: list[uuid.UUID]
    rooms: list[uuid.UUID]
    messages: list[uuid.UUID]
    emails: list[str]
    usernames: list[str]
    passwords: list[str]
    tokens: list[str]


def _ids(known: list[uuid.UUID]) -> Kind:
    """Known ids or unknown ones, as UUIDs or text; hostile: ids in the wrong form."""
    # Mostly known ones, so calls get past the existence checks to the deeper rules.
    ids = either(st.sampled_from(known), st.sampled_from(known), st.sampled_from(known), st.uuids())
    valid = ids.flatmap(lambda u: st.sampled_from([u, str(u)]))
    wrong = ids.flatmap(
        lambda u: st.sampled_from([u.bytes, u.int, [str(u)], f"{u}\x00", f"{u}\ud800"])
    )
    return Kind(valid, either(HOSTILE, wrong))


def kinds(world: World) -> dict[str, Kind]:
    user, room = _ids(world.users), _ids(world.rooms)
    words = st.text(min_size=1, max_size=20).filter(str.strip)
    json_value = st.one_of(st.none(), st.booleans(), st.integers(-99, 99), st.text(max_size=5))
    payload = st.dictionaries(st.text(max_size=5), json_value, max_size=3)
    bad_json = either(
        st.sampled_from(HOSTILE_JSON),
        st.dictionaries(st.text(max_size=3), tainted(st.text(max_size=5)), min_size=1, max_size=2),
        st.dictionaries(tainted(st.text(max_size=5)), json_value, min_size=1, max_size=2),
    )
    size = value_kind(st.integers(0, 2**40), True, -1, 2**64, 1.0, "9", None)
    attachment = record_kind(
        Attachment,
        {
            "url": text_kind(st.just("https://files.example.com/a.png")),
            "name": text_kind(words),
            "mime_type": text_kind(st.sampled_from(["image/png", "application/pdf"])),
            "size": size,
        },
    )
    message_id = _ids(world.messages)
    message = {
        "room_id": room,
        "sender_id": user,
        "content": text_kind(words),
        "kind": value_kind(st.just("text"), "system", "TEXT"),
        "attachment": value_kind(st.none()),
        "client_id": text_kind(st.none() | words),
        "reply_to_id": Kind(st.none() | message_id.valid, message_id.hostile),
        "thread_root_id": Kind(st.none() | message_id.valid, message_id.hostile),
        "also_to_room": value_kind(st.booleans(), None, 1, "yes"),
        "mention_ids": Kind(
            st.lists(user.valid, max_size=3).map(tuple),
            either(HOSTILE, st.lists(HOSTILE | user.hostile, min_size=1, max_size=2)),
        ),
        "mentions_room": value_kind(st.booleans(), None, 0, "no"),
    }
    text_message = record_kind(CreateMessage, message)
    media = {
        **message,
        "content": text_kind(st.text(max_size=10)),
        "kind": value_kind(st.sampled_from(["image", "file"]), "video"),
        "attachment": attachment,
    }
    media_message = record_kind(CreateMessage, media)
    instant = st.datetimes(timezones=st.just(UTC))
    mention_tokens = [f"@{name}" for name in world.usernames] + ["@room", "@Nobody."]

    def cursor_kind(build: Callable[..., object], key: st.SearchStrategy[Any]) -> Kind:
        """A page cursor (or None): an aware time and an id; hostile: a naive time, a
        wrong field, or something else altogether."""
        valid = st.none() | st.builds(build, instant, key)
        wrong = either(
            st.builds(build, st.datetimes(), key),
            st.builds(build, HOSTILE, key),
            st.builds(build, instant, HOSTILE),
        )
        return Kind(valid, either(HOSTILE, wrong))

    table = {
        "user": user,
        "user?": Kind(st.none() | user.valid, user.hostile),
        "room": room,
        "room?": Kind(st.none() | room.valid, room.hostile),
        "message": message_id,
        "message_ids": Kind(
            st.lists(message_id.valid, max_size=3),
            either(HOSTILE, st.lists(HOSTILE | message_id.hostile, min_size=1, max_size=2)),
        ),
        "reaction": Kind(
            st.sampled_from(["👍", ":thumbsup:", "+1", "🇫🇷"]),
            either(
                HOSTILE,
                tainted(st.sampled_from([":tada:", "+1"])),
                st.sampled_from(["thumbs up", "x" * 33, "\t", "a\u3000b", "\x85"]),
            ),
        ),
        "reactor_cursor?": cursor_kind(ReactorCursor, st.uuids()),
        "pin_cursor?": cursor_kind(PinCursor, st.uuids()),
        "mention_cursor?": cursor_kind(MentionCursor, st.uuids()),
        # Text to resolve mentions in: tokens naming the world's users, @room, and others.
        "mention_text": text_kind(
            st.lists(st.sampled_from(mention_tokens) | words, max_size=4).map(" ".join)
        ),
        "followed_cursor?": cursor_kind(FollowedThreadCursor, st.uuids()),
        # The directory's cursor: a lowercased name and a room id.
        "public_cursor?": Kind(
            st.none() | st.builds(PublicRoomCursor, st.text(max_size=10), st.uuids()),
            either(
                HOSTILE,
                st.builds(PublicRoomCursor, HOSTILE, st.uuids()),
                st.builds(PublicRoomCursor, tainted(st.text(max_size=5)), st.uuids()),
                st.builds(PublicRoomCursor, st.text(max_size=5), HOSTILE),
            ),
        ),
        "ids": Kind(
            st.lists(user.valid | room.valid, max_size=3),
            either(HOSTILE, st.lists(HOSTILE | user.hostile, min_size=1, max_size=2)),
        ),
        "email": text_kind(
            st.sampled_from(world.emails)
            | st.from_regex(r"[a-z]{1,8}@example\.com", fullmatch=True)
        ),
        "username": text_kind(
            st.sampled_from(world.usernames)
            | st.from_regex(r"[a-z][a-z0-9_]{2,12}", fullmatch=True)
        ),
        "password": text_kind(st.sampled_from(world.passwords) | st.text(min_size=8, max_size=20)),
        "login": text_kind(st.sampled_from(world.usernames + world.emails)),
        "text?": text_kind(st.none() | st.text(max_size=30)),
        "words": text_kind(words),
        "room_kind": value_kind(st.sampled_from(["public", "private", "direct"]), "PUBLIC", "dm"),
        "role": value_kind(st.sampled_from(["owner", "admin", "member"]), "root", "Member"),
        "bool": value_kind(st.booleans(), 0, 1, "true"),
        "limit": value_kind(st.integers(1, 200), 0, 201, True, 1.0, "5"),
        "offset": value_kind(st.integers(0, 100), -1, 10**7, False),
        "seq": value_kind(st.integers(0, 50), -1, 2**62 + 1, True, 1.5),
        "seq?": value_kind(st.none() | st.integers(0, 50), -1, 2**63, "3"),
        "token": text_kind(st.sampled_from(world.tokens) | st.text(max_size=30)),
        "device": text_kind(st.sampled_from(["phone", "laptop"]) | words),
        "data": Kind(st.none() | payload, either(HOSTILE, bad_json)),
        "payload": Kind(payload, either(HOSTILE, bad_json)),
        "event_type": text_kind(
            st.sampled_from(["app.poll_closed", "app.vote", "message.created"])
        ),
        "older_than": value_kind(
            st.timedeltas(min_value=timedelta(0)), timedelta(-1), timedelta.max
        ),
        "batch": value_kind(st.integers(1, 1000), 0, 10**6),
        "interval": value_kind(st.floats(0.001, 0.01), 0, -1.0, math.nan),
        "cursors": Kind(
            st.dictionaries(room.valid, st.integers(0, 50), max_size=3),
            either(HOSTILE, st.builds(lambda k, v: {k: v}, room.valid | _HASHABLE, HOSTILE)),
        ),
        "channel": text_kind(room.valid.map(lambda r: f"room:{{{r}}}")),
    }
    table["create_message"] = Kind(
        either(text_message.valid, media_message.valid),
        either(text_message.hostile, media_message.hostile),
    )
    event = {
        "type": table["event_type"],
        "room_id": table["room?"],
        "payload": table["payload"],
        "at": value_kind(st.datetimes(timezones=st.just(UTC)), "2026-01-01", 0),
    }
    table["event"] = record_kind(Event, event)
    return table


@dataclasses.dataclass(frozen=True)
class Param:
    kind: str
    name: str | None = None  # None: passed by position
    optional: bool = False  # sometimes left out


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    params: tuple[Param, ...]
    # Run after the others: a valid call would take the world's users or rooms away.
    destructive: bool = False

    def target(self, store: ChatStore) -> Callable[..., Awaitable[object]]:
        special = SPECIAL.get(self.name)
        if special is not None:
            return special(store)
        owner, method = self.name.split(".")
        return getattr(store if owner == "store" else getattr(store, owner), method)  # type: ignore[no-any-return]


def parse(line: str) -> Method:
    """`name kind key=kind key=kind? ...`: positional kinds, keyword kinds, `?` for optional
    arguments, a leading `!` for destructive methods."""
    name, *words = line.split()
    params = []
    for word in words:
        key, _, kind = word.rpartition("=")
        optional = kind.endswith("?")
        params.append(Param(kind.removesuffix("?") if optional else kind, key or None, optional))
    return Method(name.lstrip("!"), tuple(params), name.startswith("!"))


async def _connect(store: ChatStore, *args: Any, **kwargs: Any) -> None:
    async with store.connect(*args, **kwargs):
        pass


async def _briefly(run: Awaitable[None]) -> None:
    """A sweeper loop: an error shows at once; a loop still running after a moment is fine."""
    task = asyncio.ensure_future(run)
    await asyncio.wait([task], timeout=0.05)
    if task.done():
        task.result()
    else:
        await stop_task(task)


Target = Callable[[ChatStore], Callable[..., Awaitable[object]]]
SPECIAL: dict[str, Target] = {
    "store.connect": lambda s: lambda *a, **k: _connect(s, *a, **k),
    "presence.run_sweeper": lambda s: lambda *a: _briefly(s.presence.run_sweeper(*a)),
    "typing.run_sweeper": lambda s: lambda *a: _briefly(s.typing.run_sweeper(*a)),
    "realtime.publish": lambda s: lambda *a: publish(s.redis, *a),
}
# Every public method with the kinds of its arguments (see `parse`): `key=kind` is passed
# by keyword, and `user??` is an optional argument whose valid values include None.
METHODS = [
    parse(line)
    for line in """
users.create email=email username=username password=password display_name=text??
users.get user
users.get_by_email email
users.get_by_username username
users.authenticate login password
users.change_password user current_password=password new_password=password
users.update_profile user display_name=text?? email=email? username=username?
users.set_online user bool
!users.delete user
rooms.create name=words kind=room_kind created_by=user description=text??
rooms.get room
rooms.update room acting_user_id=user name=words? description=text??
!rooms.delete room acting_user_id=user
rooms.rooms_of_user user
rooms.get_or_create_direct user user
rooms.require_member room user
rooms.add_member room user role=role? acting_user_id=user??
!rooms.remove_member room user acting_user_id=user??
!rooms.set_role room user role acting_user_id=user
rooms.list_members room user_id=user?? limit=limit? offset=offset?
rooms.public_rooms search=text?? after=public_cursor?? limit=limit?
messages.create create_message
messages.get message user_id=user
messages.find_by_room room limit=limit? offset=offset? user_id=user??
messages.page_before room user_id=user before_seq=seq?? limit=limit?
messages.page_after room user_id=user after_seq=seq limit=limit?
messages.catch_up room user_id=user after_seq=seq limit=limit?
messages.update message words editor_id=user
messages.history message user_id=user
messages.delete message acting_user_id=user
messages.mark_as_read message user
messages.receipts message user_id=user
messages.unread_counts user
messages.mark_read_up_to room user seq=seq??
messages.mark_all_read user
reactions.add message reaction user_id=user
reactions.remove message reaction user_id=user
reactions.reactions message user_id=user
reactions.reaction_counts message_ids user_id=user
reactions.reactors message reaction user_id=user after=reactor_cursor?? limit=limit?
pins.pin message user_id=user
pins.unpin message user_id=user
pins.pins room user_id=user before=pin_cursor?? limit=limit?
mentions.resolve room mention_text user_id=user
mentions.inbox user before=mention_cursor?? limit=limit?
threads.page message user_id=user before_thread_seq=seq?? limit=limit?
threads.replies_after message user_id=user after_thread_seq=seq limit=limit?
threads.follow message user_id=user
threads.unfollow message user_id=user
threads.mark_read message user_id=user thread_seq=seq??
threads.followed user before=followed_cursor?? limit=limit?
sessions.create user data=data?
sessions.get token
sessions.touch token
!sessions.revoke token
!sessions.revoke_all user
presence.connect user device
presence.heartbeat user device
presence.disconnect user device
presence.is_online user
presence.online_devices user
presence.online_many ids
presence.snapshot ids
presence.sweep
presence.run_sweeper interval
typing.start room user
typing.stop room user
typing.typers room
typing.sweep
typing.run_sweeper interval
log.after room seq limit=limit?
log.after_many cursors limit=limit?
log.heads ids
log.head_numbers ids
log.membership_versions ids
log.memberships user
log.append room event_type payload actor_id=user
log.prune older_than batch=batch?
store.send_message create_message
store.unread_counts user
store.mark_all_read user
store.append_event room event_type payload actor_id=user
store.publish_ephemeral room event_type payload user_id=user
store.connect user device cursors=cursors? follow=ids?
realtime.publish event channel
""".strip().splitlines()
]
BY_NAME = {method.name: method for method in METHODS}


@dataclasses.dataclass(frozen=True)
class Case:
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def __str__(self) -> str:
        shown = [_short(a) for a in self.args] + [
            f"{k}={_short(v)}" for k, v in self.kwargs.items()
        ]
        return f"{self.method}({', '.join(shown)})"


def _short(value: object) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int too long to write out
        return f"<a {type(value).__name__} repr refuses>"
    return text if len(text) <= 80 else f"{text[:60]}...<{len(text)} chars>"


def cases_of(method: Method, table: dict[str, Kind]) -> st.SearchStrategy[Case]:
    @st.composite
    def case(draw: st.DrawFn) -> Case:
        params = method.params
        # Mostly one hostile argument among valid ones (each rule is reached past the checks
        # before it); sometimes anything goes, sometimes all valid (the state moves on).
        mode = draw(st.sampled_from(["one", "one", "one", "mixed", "valid"])) if params else ""
        bad = draw(st.integers(0, len(params) - 1)) if mode == "one" else -1
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for index, param in enumerate(params):
            kind = table[param.kind]
            if param.optional and index != bad and draw(st.booleans()):
                continue
            if mode == "mixed":
                value = draw(either(kind.valid, kind.hostile))
            else:
                value = draw(kind.hostile if index == bad else kind.valid)
            if param.name is None:
                args.append(value)
            else:
                kwargs[param.name] = value
        return Case(method.name, tuple(args), kwargs)

    return case()


def generate(world: World) -> list[Case]:
    """The cases, the same every run (a fixed seed per method), destructive methods last.
    Each method gets cases in proportion to its arguments (a record counts for its fields)."""
    table = kinds(world)
    found: list[Case] = []
    for method in METHODS:
        weight = sum(WEIGHTS.get(param.kind, 1) for param in method.params)

        @seed(zlib.crc32(method.name.encode()))
        @settings(
            max_examples=CASES_PER_METHOD + CASES_PER_ARGUMENT * weight,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(cases_of(method, table))
        def collect(case: Case) -> None:
            found.append(case)

        collect()
    return sorted(found, key=lambda case: BY_NAME[case.method].destructive)


@pytest.fixture
async def fuzz_store(database_url: str, redis_server: RedisServer) -> AsyncIterator[ChatStore]:
    """A ChatStore on a fresh database and its own emptied Redis database. Presence and
    typing live for an hour, so no sweeper changes Redis between two snapshots."""
    url = redis_server.url(REDIS_DB)
    async with flushed_redis(url):
        pass
    config = dataclasses.replace(
        settings_for(database_url, url), presence_ttl_seconds=3600.0, typing_ttl_seconds=3600.0
    )
    async with ChatStore.open(config) as opened:
        yield opened


async def build_world(store: ChatStore) -> World:
    names = ["alice", "bob", "carol"]
    passwords = [f"{name}-fuzz-password" for name in names]
    emails = [f"{name}@example.com" for name in names]
    users = [
        (await store.users.create(email=e, username=n, password=p)).id
        for n, e, p in zip(names, emails, passwords, strict=True)
    ]
    alice, bob, _ = users
    public = await store.rooms.create(name="general", kind="public", created_by=alice)
    private = await store.rooms.create(name="staff", kind="private", created_by=alice)
    await store.rooms.add_member(public.id, bob)
    direct = await store.rooms.get_or_create_direct(alice, bob)
    sent = [
        await store.send_message(CreateMessage(room_id=public.id, sender_id=alice, content="hi")),
        await store.send_message(
            CreateMessage(
                room_id=public.id,
                sender_id=bob,
                kind="image",
                attachment=Attachment("https://files.example.com/a.png", "a.png", "image/png", 9),
            )
        ),
        await store.send_message(CreateMessage(room_id=direct.id, sender_id=bob, content="yo")),
    ]
    await store.reactions.add(sent[0].id, "👍", user_id=bob)
    await store.pins.pin(sent[0].id, user_id=alice)
    token, _ = await store.sessions.create(alice, {"device": "phone"})
    await store.presence.connect(alice, "phone")
    await store.typing.start(public.id, bob)
    return World(
        users=users,
        rooms=[public.id, private.id, direct.id],
        messages=[message.id for message in sent],
        emails=emails,
        usernames=names,
        passwords=passwords,
        tokens=[token],
    )


Snapshot = tuple[tuple[object, ...], ...]


async def run(
    store: ChatStore, case: Case, snapshot: Callable[[], Awaitable[Snapshot]]
) -> str | None:
    """What went wrong with one call, or None: a raw exception (named by its type and the
    last chatstore line it passed), a hang, or a chatstore error after a change."""
    call = BY_NAME[case.method].target(store)
    before = await snapshot()
    try:
        await asyncio.wait_for(call(*case.args, **case.kwargs), CALL_TIMEOUT)
    except ChatStoreError as error:
        after = await snapshot()
        if after != before:
            changed = sorted({str(b[0]) for b, a in zip(before, after, strict=True) if a != b})
            return f"{case.method}: {type(error).__name__} but changed {', '.join(changed)}"
        if type(error) is ChatStoreError:
            return f"{case.method}: unclassified ChatStoreError: {str(error)[:60]}"
        if isinstance(error, ValidationError) and isinstance(error.__cause__, psycopg.Error):
            # Input the checks let through, refused by PostgreSQL: the checks missed a rule.
            return f"{case.method}: ValidationError from PostgreSQL: {str(error)[:60]}"
    except TimeoutError:
        return f"{case.method}: no answer within {CALL_TIMEOUT} s"
    except Exception as error:
        frames = [
            f"{frame.filename.rsplit('/chatstore/', 1)[1]}:{frame.name}"
            for frame in traceback.extract_tb(error.__traceback__)
            if "/chatstore/" in frame.filename
        ]
        where = frames[-1] if frames else "?"
        return f"{case.method}: raw {type(error).__name__} from {where}"
    return None


async def test_public_api_refuses_bad_input_cleanly(
    fuzz_store: ChatStore, database_url: str
) -> None:
    store = fuzz_store
    world = await build_world(store)
    cases = generate(world)
    digest = store.redis.register_script(_REDIS_DIGEST)
    async with connect(database_url) as conn:

        async def snapshot() -> Snapshot:
            tables = [
                (row["table_name"], row["row_count"], row["digest"])
                for query in (states, conversation_states)
                async for row in query.table_states(conn)
            ]
            keys, value_digest = await digest(keys=[], args=[])
            return (*tables, ("redis", keys, value_digest))

        problems: dict[str, str] = {}
        for case in cases:
            problem = await run(store, case, snapshot)
            if problem is not None:
                problems.setdefault(problem, str(case))
    report = "\n".join(
        f"{problem}\n    e.g. {example}" for problem, example in sorted(problems.items())
    )
    assert not problems, f"{len(problems)} distinct problems in {len(cases)} calls:\n{report}"


# The review's examples, each pinned: a ValidationError naming the field.
REPORTED: list[tuple[str, Callable[[ChatStore, uuid.UUID, uuid.UUID], Awaitable[object]]]] = [
    (
        "email",
        lambda s, u, r: s.users.create(email="a\ud800@x.com", username="ab", password="p" * 8),
    ),
    ("login", lambda s, u, r: s.users.authenticate("\ud800", "password")),
    (
        "content",
        lambda s, u, r: s.send_message(CreateMessage(room_id=r, sender_id=u, content="\ud800")),
    ),
    ("name", lambda s, u, r: s.rooms.update(r, acting_user_id=u, name="a\udfff")),
    ("device_id", lambda s, u, r: s.presence.heartbeat(u, "phone\ud800")),
    ("payload", lambda s, u, r: s.publish_ephemeral(r, "app.x", {"k": "\ud800"}, user_id=u)),
    ("data", lambda s, u, r: s.sessions.create(u, {"k": "\ud800"})),
    ("event", lambda s, u, r: publish(s.redis, "x", "room:{x}")),  # type: ignore[arg-type]
    ("user_ids", lambda s, u, r: s.presence.online_many(7)),  # type: ignore[arg-type]
    ("user_ids", lambda s, u, r: s.presence.snapshot([uuid.uuid4() for _ in range(1001)])),
    ("search", lambda s, u, r: s.rooms.public_rooms(search="a\ud800")),
    ("seq", lambda s, u, r: s.messages.mark_read_up_to(r, u, -1)),
    ("older_than", lambda s, u, r: s.log.prune(timedelta.max)),
    ("reaction", lambda s, u, r: s.reactions.add(uuid.uuid4(), "\ud83d", user_id=u)),
    ("before", lambda s, u, r: s.pins.pins(r, user_id=u, before="newest")),  # type: ignore[arg-type]
    (
        "attachment.url",
        lambda s, u, r: s.send_message(
            CreateMessage(
                room_id=r,
                sender_id=u,
                kind="image",
                attachment=Attachment("https://x/\ud800", "a.png", "image/png", 1),
            )
        ),
    ),
]


@pytest.mark.parametrize(("field", "call"), REPORTED, ids=[field for field, _ in REPORTED])
async def test_reported_failures_are_validation_errors(
    store: ChatStore,
    field: str,
    call: Callable[[ChatStore, uuid.UUID, uuid.UUID], Awaitable[object]],
) -> None:
    user = await store.users.create(email="a@example.com", username="alice", password="p" * 8)
    room = await store.rooms.create(name="general", kind="public", created_by=user.id)
    with pytest.raises(ValidationError) as raised:
        await call(store, user.id, room.id)
    assert raised.value.field == field


@pytest.mark.parametrize("method", ["connect", "heartbeat"])
async def test_presence_of_a_missing_user_leaves_nothing(store: ChatStore, method: str) -> None:
    """The write-through finds no such user: the claim in Redis is taken back, so the user
    is not online and neither the presence key nor a due entry is left."""
    ghost = uuid.uuid4()
    with pytest.raises(NotFound):
        await getattr(store.presence, method)(ghost, "phone")
    assert not await store.presence.is_online(ghost)
    assert not await store.redis.exists(presence_key(ghost))
    assert await store.redis.zscore(DUE_KEY, str(ghost)) is None
    # A real user still goes online, once.
    user = await store.users.create(email="a@example.com", username="alice", password="p" * 8)
    assert await getattr(store.presence, method)(user.id, "phone") is True
    assert (await store.users.get(user.id)).is_online
