"""Query rows to Message and MessageRevision: one set of builders for every repository that
returns messages (messages, editing, pins), so each column is turned into its field the
same way everywhere."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from chatstore.mapping import (
    ColumnsBuilder,
    message_preview,
    reaction_counts,
    row_builder,
    thread_summary,
)
from chatstore.models import Attachment, Message, MessageRevision

Row = Mapping[str, Any]


def _attachment(value: Mapping[str, Any] | None) -> Attachment | None:
    if value is None:
        return None
    return Attachment(
        url=value["url"], name=value["name"], mime_type=value["mime_type"], size=int(value["size"])
    )


# How a Message's fields that are not plain columns are built from theirs (None stays None).
MESSAGE_CONVERSIONS: Final[dict[str, Callable[[Any], Any]]] = {
    "attachment": _attachment,
    "reply_to": message_preview,
    "mentioned_ids": tuple,
    "reactions": reaction_counts,
    "thread": thread_summary,
}
# What only history pages and `get` return; other queries leave them at their defaults.
PAGE_ONLY_FIELDS: Final = frozenset({"reactions", "thread"})
# Rows by column name; on every row of every page: slots filled directly
# (chatstore.mapping), from tuples there.
message_from_row = row_builder(Message, MESSAGE_CONVERSIONS, PAGE_ONLY_FIELDS)
messages_from_tuples = ColumnsBuilder(Message, MESSAGE_CONVERSIONS, PAGE_ONLY_FIELDS)


def revision_from_row(row: Row) -> MessageRevision:
    return MessageRevision(
        message_id=row["message_id"],
        revision=int(row["revision"]),
        content=row["content"],
        edited_by=row["edited_by"],
        written_at=row["written_at"],
        replaced_at=row["replaced_at"],
    )
