"""MessageRepository."""

from __future__ import annotations

from chatstore.repositories.base import Repository


class MessageRepository(Repository):
    """To be implemented."""
