"""What every repository holds: the database (pool + queries) and the settings."""

from __future__ import annotations

from typing import Any

from chatstore.config import Settings
from chatstore.db import Database


class Repository:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings

    @property
    def _queries(self) -> Any:
        return self._db.queries
