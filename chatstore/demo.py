"""`python -m chatstore.demo`: show what the development database holds."""

from __future__ import annotations

import asyncio
import sys

from chatstore.config import Settings
from chatstore.db import Database
from chatstore.errors import ChatStoreError


async def show_summary(db: Database) -> None:
    async with db.connection() as conn:
        summary = await db.queries.summary.database_summary(conn)
        rooms = [row async for row in db.queries.summary.room_overview(conn)]
    print("chatstore development database")
    print(
        f"  {summary['users_count']} users, {summary['rooms_count']} rooms, "
        f"{summary['memberships_count']} memberships"
    )
    print(
        f"  {summary['messages_count']} messages ({summary['edited_messages_count']} edited, "
        f"{summary['deleted_messages_count']} soft-deleted), "
        f"{summary['revisions_count']} revisions, {summary['read_receipts_count']} read receipts"
    )
    print()
    print(f"  {'room':<22} {'kind':<8} {'members':>7} {'last seq':>8}")
    for room in rooms:
        print(
            f"  {room['display_name']:<22} {room['kind']:<8} {room['members']:>7} "
            f"{room['last_seq']:>8}"
        )


async def run() -> None:
    async with Database.open(Settings.from_env()) as db:
        await show_summary(db)


def main() -> int:
    try:
        asyncio.run(run())
    except ChatStoreError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
