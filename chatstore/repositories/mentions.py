"""MentionRepository: `@username` tokens resolved to a room's members, and a user's mentions
inbox (store.mentions). The queries live in `sql/mentions.sql`.

What a message mentions is decided by the send and by edits (CreateMessage.mention_ids and
mentions_room, messages.update): members only (anyone else is dropped, never refused),
never the sender, and @room only from owners and admins or a direct room's users. This
module only reads.

Resolving text (`resolve`):

- A token is `@` followed by a run of username characters (letters, digits, `.`, `_`, `-`,
  starting with a letter or digit: chatstore.validation.username's rule), not preceded by
  a word character or `@` (so `bob@example.com` mentions nobody) and not followed by one
  (`@bob@host`, `@bobé` neither). A run longer than a username can be is no mention.
- A `.` ending the run may be the sentence's: `@bob.` names the member `bob.` when there is
  one, else `bob`.
- `@room`, in any letter case, always mentions the whole room and never a user: `room` is
  a valid username, but a user called `room` cannot be named in text (a client can still
  pass their id in mention_ids). Whether the writer may mention the room is the send's
  decision, not this one's.
- Names match usernames in any letter case, compared by PostgreSQL as users.sql compares
  them, among the room's members now, in one query. Ids come in the order first written,
  each once; the names that matched no member (unknown users, users not in the room) come
  in `unmatched`, each once (first spelling kept). The caller's own name is dropped from
  both: a send drops the sender anyway, and their name is no unknown user.

The inbox (`inbox`): the user's mentions, newest first, across the rooms they are a member
of now, keyset-paged on (created_at, message_id): messages that name them (by_name) and
messages that mention a whole room, sent there after they joined it, neither deleted nor
their own. A message doing both is listed once, by name. Leaving a room takes its mentions
out of the inbox (their rows go with the membership), deleting a message takes it out.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final
from uuid import UUID

from chatstore import validation
from chatstore.errors import NotFound
from chatstore.repositories.base import Repository
from chatstore.repositories.message_rows import message_from_row
from chatstore.repositories.receipts import require_member_flag
from chatstore.rows import Row, all_rows
from chatstore.thread_models import Mention, MentionCursor, MentionPage, ResolvedMentions

# `@` and a run of username characters, taken whole (possessive: never a shorter run that
# would end inside a longer one), with no word character or `@` on either side.
_TOKEN: Final = re.compile(r"(?<![\w@])@([A-Za-z0-9][A-Za-z0-9_.-]*+)(?![\w@])")
# The whole room, never a username (lowercased, as a token is compared).
ROOM_TOKEN: Final = "room"  # noqa: S105 (a word, not a password)
# Before every mention: where the first (newest) page starts.
_NEWEST: Final = MentionCursor(
    created_at=datetime.max.replace(tzinfo=UTC), message_id=UUID(int=2**128 - 1)
)


def _is_username(name: str) -> bool:
    return validation.USERNAME_RE.fullmatch(name) is not None


def mention_tokens(text: str) -> tuple[list[tuple[str, ...]], bool]:
    """The `@username` tokens of `text` in order, each as the names it may mean (the run as
    written first, then without a trailing `.`), and whether `@room` appears."""
    tokens: list[tuple[str, ...]] = []
    mentions_room = False
    for match in _TOKEN.finditer(text):
        run = match.group(1)
        bare = run.rstrip(".")
        if bare.lower() == ROOM_TOKEN:
            mentions_room = True
            continue
        names = tuple(dict.fromkeys(name for name in (run, bare) if _is_username(name)))
        if names:
            tokens.append(names)
    return tokens, mentions_room


def resolved(
    tokens: list[tuple[str, ...]], members: dict[str, UUID | None], caller: UUID
) -> tuple[tuple[UUID, ...], tuple[str, ...]]:
    """Member ids in the order first written, each once, and the names that matched no
    member, each once in any letter case (the name without its trailing `.`); the caller
    is in neither."""
    ids: dict[UUID, None] = {}
    unmatched: dict[str, str] = {}
    for names in tokens:
        member = next((found for name in names if (found := members.get(name))), None)
        if member is None:
            unmatched.setdefault(names[-1].lower(), names[-1])
        elif member != caller:
            ids[member] = None
    return tuple(ids), tuple(unmatched.values())


class MentionRepository(Repository):
    """Mentions: resolving them in text, and each user's inbox of them."""

    async def resolve(
        self, room_id: UUID | str, text: str, *, user_id: UUID | str
    ) -> ResolvedMentions:
        """The members `text` names with `@username` (ids in the order first written, each
        once, the caller's own left out), whether it writes `@room`, and the names that
        match no member of the room. Text is checked as message content is (at most 10,000
        characters, may be empty). Raises ValidationError, NotFound (room),
        PermissionDenied (the caller is not a member)."""
        room = validation.uuid_value("room_id", room_id)
        caller = validation.uuid_value("user_id", user_id)
        body = validation.text("text", text, max_chars=validation.CONTENT_MAX, allow_empty=True)
        tokens, mentions_room = mention_tokens(body)
        names = list(dict.fromkeys(name for token in tokens for name in token))
        async with self._db.connection() as conn:
            rows = await all_rows(
                self._queries.mentions.resolve_mentions_cursor,
                conn,
                room_id=room,
                user_id=caller,
                names=names,
            )
        if not rows:
            raise NotFound("room", room)
        require_member_flag(rows[0]["is_member"])
        members = {row["name"]: row["member_id"] for row in rows if row["name"] is not None}
        user_ids, unmatched = resolved(tokens, members, caller)
        return ResolvedMentions(user_ids=user_ids, mentions_room=mentions_room, unmatched=unmatched)

    async def inbox(
        self,
        user_id: UUID | str,
        *,
        before: MentionCursor | None = None,
        limit: int = 50,
    ) -> MentionPage:
        """The user's mentions, newest first, up to `limit` (1..200) older than the cursor
        `before` (the previous page's next_cursor; None for the newest): messages naming
        them (by_name) or mentioning a whole room of theirs, as normal reads return them.
        An unknown user has none."""
        reader = validation.uuid_value("user_id", user_id)
        cursor = (
            _NEWEST if before is None else validation.keyset_cursor("before", before, MentionCursor)
        )
        size = validation.page_limit(limit)
        async with self._db.connection() as conn:
            rows = await all_rows(
                self._queries.mentions.mention_inbox_cursor,
                conn,
                user_id=reader,
                before_at=cursor.created_at,
                before_message_id=cursor.message_id,
                limit=size + 1,
            )
        more = len(rows) > size
        mentions = [_mention(row) for row in rows[:size]]
        last = mentions[-1].message if more else None
        return MentionPage(
            mentions=tuple(mentions),
            next_cursor=None if last is None else MentionCursor(last.created_at, last.id),
        )


def _mention(row: Row) -> Mention:
    return Mention(message=message_from_row(row), by_name=bool(row["by_name"]))


__all__ = ["MentionRepository", "mention_tokens"]
