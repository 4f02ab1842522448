"""UserRepository."""

from __future__ import annotations

from chatstore.repositories.base import Repository


class UserRepository(Repository):
    """To be implemented."""
