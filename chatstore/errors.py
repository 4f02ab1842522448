"""The one exception family chatstore raises. Driver exceptions never reach callers raw."""

from __future__ import annotations


class ChatStoreError(Exception):
    """Base class of every error chatstore raises."""


class ValidationError(ChatStoreError):
    """Input broke a rule; nothing was written. Names the field and the rule."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


class NotFound(ChatStoreError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"{what} not found: {key}")
        self.what = what
        self.key = key


class AlreadyExists(ChatStoreError):
    """A unique value is taken. Names the field."""

    def __init__(self, field: str, detail: str | None = None) -> None:
        super().__init__(detail or f"{field} is already taken")
        self.field = field


class Conflict(ChatStoreError):
    """The request contradicts what is stored (e.g. a client id reused for other content)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field


class PermissionDenied(ChatStoreError):
    """The acting user may not do this (not a member, not the sender, wrong role)."""


class AuthenticationFailed(ChatStoreError):
    """Unknown user or wrong password; deliberately does not say which."""


class Unavailable(ChatStoreError):
    """PostgreSQL or Redis could not be reached or timed out; what was asked did not happen
    (a write whose answer was lost is resolved first: see OutcomeUnknown). Safe to retry."""


class OutcomeUnknown(Unavailable):
    """A write reached PostgreSQL, its answer was lost, and PostgreSQL could not be asked
    within the bound whether it committed: it may or may not have. Reads tell; a send
    retried with the same client_id returns the first message instead of a copy."""


class ConfigurationError(ChatStoreError):
    """A setting is wrong (bad URL, refused credentials); retrying will not help."""

    def __init__(self, setting: str, detail: str) -> None:
        super().__init__(f"{setting}: {detail}")
        self.setting = setting


class ResultShapeError(ChatStoreError):
    """A query returned rows without a column chatstore reads: `sql/` and the code disagree
    (an alias renamed, a column dropped). Not the caller's fault; retrying will not help."""

    def __init__(self, column: str, columns: list[str]) -> None:
        super().__init__(
            f"a query returned no column {column!r} (it returned: {', '.join(columns) or 'none'});"
            " an edit to the sql/ files and chatstore's code disagree"
        )
        self.column = column
        self.columns = columns
