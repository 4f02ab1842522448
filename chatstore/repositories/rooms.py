"""RoomRepository."""

from __future__ import annotations

from chatstore.repositories.base import Repository


class RoomRepository(Repository):
    """To be implemented."""
