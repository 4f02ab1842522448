"""The dataset's messages and their edit history, generated as they are copied.

Messages are the one part too big to hold in memory comfortably (a million rows), so they
are yielded room by room; the revisions of edited messages (a few percent) are collected on
the way and copied afterwards.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from bench.dataset import WORDS, Dataset

EDIT_DELAY = timedelta(minutes=5)
DELETE_DELAY = timedelta(hours=1)
MEDIA_SHARE = 0.03  # image and file messages, which carry an attachment


def _text(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(2, 25)))


def _attachment(rng: random.Random, kind: str, seq: int) -> str:
    name = f"{kind}-{seq}.{'png' if kind == 'image' else 'pdf'}"
    mime = "image/png" if kind == "image" else "application/pdf"
    size = rng.randint(1_000, 5_000_000)
    url = f"https://files.bench.example/{name}"
    return json.dumps({"url": url, "name": name, "mime_type": mime, "size": size})


def message_rows(data: Dataset, revisions: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """Every message, room by room in seq order; appends revision rows to `revisions`."""
    spec = data.spec
    rng = random.Random(spec.seed + 2)  # noqa: S311 - test data, not secrets
    for room, count in enumerate(data.message_counts):
        room_id = data.room_id(room)
        members = data.members[room]
        for seq in range(1, count + 1):
            sender = data.user_id(members[rng.randrange(len(members))])
            created = data.created_at(room, seq)
            roll = rng.random()
            kind = "text"
            if roll < MEDIA_SHARE:
                kind = "image" if roll < MEDIA_SHARE * 2 / 3 else "file"
            attachment = None if kind == "text" else _attachment(rng, kind, seq)
            content = _text(rng) if kind == "text" or rng.random() < 0.5 else ""
            message_id = data.message_id(room, seq)
            edits = 0
            if rng.random() < spec.edit_share:
                edits = 1 if rng.random() < 0.8 else 2
            edited_at = created + EDIT_DELAY * edits if edits else None
            for revision in range(1, edits + 1):
                written = created + EDIT_DELAY * (revision - 1)
                previous = f"{content} (draft {revision})".strip()
                revisions.append(
                    (
                        room_id,
                        message_id,
                        revision,
                        previous,
                        attachment,
                        sender,
                        written,
                        written + EDIT_DELAY,
                    )
                )
            deleted = rng.random() < spec.delete_share
            yield (
                message_id,
                room_id,
                seq,
                sender,
                kind,
                content,
                attachment,
                None,  # client_id: only the benchmark's own sends carry one
                created,
                edited_at or created,
                edited_at,
                edits,
                created + DELETE_DELAY if deleted else None,
                sender if deleted else None,
            )
