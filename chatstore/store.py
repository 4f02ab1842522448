"""ChatStore: the one object an application holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from chatstore.config import Settings
from chatstore.db import Connection, Database
from chatstore.repositories import MessageRepository, RoomRepository, UserRepository


class ChatStore:
    """Wires the pool and the repositories. Open it with `async with ChatStore.open():`."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.settings = settings
        self.db = db
        self.users = UserRepository(db, settings)
        self.rooms = RoomRepository(db, settings)
        self.messages = MessageRepository(db, settings)

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings | None = None) -> AsyncIterator[ChatStore]:
        """Settings default to the environment (see the README's table)."""
        settings = settings or Settings.from_env()
        async with Database.open(settings) as db:
            yield cls(db, settings)

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """`async with store.transaction():` makes the calls inside commit or roll back together."""
        return self.db.transaction()
