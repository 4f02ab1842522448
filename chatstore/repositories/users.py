"""UserRepository: accounts, profiles, the online flag and password checks (sql/users.sql)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final
from uuid import UUID

from chatstore import passwords, validation
from chatstore.commit_outcome import run_idempotent
from chatstore.config import Settings
from chatstore.db import Database, current_connection
from chatstore.errors import AuthenticationFailed, NotFound, ValidationError
from chatstore.mapping import from_row
from chatstore.models import User
from chatstore.repositories.base import Repository

# One message for an unknown login and a wrong password, so neither reveals which it was.
LOGIN_FAILED = "wrong login or password"


class Unchanged(enum.Enum):
    """The type of UNCHANGED: a profile field update_profile leaves as it is."""

    UNCHANGED = "unchanged"


UNCHANGED: Final = Unchanged.UNCHANGED


class UserRepository(Repository):
    """Users in PostgreSQL. No method ever returns a password hash."""

    def __init__(self, db: Database, settings: Settings) -> None:
        super().__init__(db, settings)
        # Per repository, not per module: it describes the hashes of this store's database.
        self._failure_cost = passwords.FailureCost(settings.bcrypt_rounds)

    async def create(
        self,
        *,
        email: str,
        username: str,
        password: str,
        display_name: str | None = None,
    ) -> User:
        """A new user. AlreadyExists("email" / "username") when either is taken in any case."""
        address = validation.email(email)
        name = validation.username(username)
        secret = validation.password(password)
        shown = validation.optional_text(
            "display_name", display_name, max_chars=validation.DISPLAY_NAME_MAX
        )
        password_hash = await passwords.hash_password(secret, self._settings.bcrypt_rounds)
        async with self._db.transaction() as conn:
            row = await self._queries.users.create_user(
                conn,
                email=address,
                username=name,
                display_name=shown,
                password_hash=password_hash,
            )
        return _to_user(row)

    async def get(self, user_id: UUID | str) -> User:
        uid = validation.uuid_value("user_id", user_id)
        async with self._db.connection() as conn:
            row = await self._queries.users.get_user(conn, user_id=uid)
        return _found(row, uid)

    async def get_by_email(self, email: str) -> User:
        """The user with this email, in any letter case."""
        address = validation.email(email)
        async with self._db.connection() as conn:
            row = await self._queries.users.get_user_by_email(conn, email=address)
        return _found(row, address)

    async def get_by_username(self, username: str) -> User:
        """The user with this username, in any letter case."""
        name = validation.username(username)
        async with self._db.connection() as conn:
            row = await self._queries.users.get_user_by_username(conn, username=name)
        return _found(row, name)

    async def authenticate(self, login: str, password: str) -> User:
        """The user whose email or username is `login`, when the password is theirs.

        An unknown login and a wrong password raise the same AuthenticationFailed after the
        same bcrypt work, whatever the cost of the stored hash: every failure does the work
        of one check at the costliest cost in use, the configured one or the highest stored
        (passwords.FailureCost, passwords.check_login). Input no password could match (not a
        string, empty, NUL, over 72 UTF-8 bytes) raises ValidationError instead, before any
        lookup: that depends only on the input, so it reveals nothing about which accounts
        exist. A hash cheaper than settings.bcrypt_rounds is upgraded on the way; a costlier
        one is kept (see passwords.needs_rehash).
        """
        name = _login(login)
        secret = _presented_password("password", password)
        # The connection goes back to the pool before hashing: a slow hash must not hold it.
        async with self._db.connection() as conn:
            row = await self._queries.users.get_login(conn, login=name)
            # Read whether or not the login was found, on the connection already in hand, so
            # that the occasional re-read costs both kinds of failure alike.
            if self._failure_cost.stale():
                highest = await self._queries.users.max_password_cost(conn)
                self._failure_cost.refresh(highest["max_cost"])
        stored_hash: str | None = None if row is None else row["password_hash"]
        if stored_hash is not None:
            self._failure_cost.saw(stored_hash)
        if not await passwords.check_login(secret, stored_hash, self._failure_cost.cost):
            raise AuthenticationFailed(LOGIN_FAILED)
        # check_login matches only a stored hash: `row` is a found user from here on.
        await self._upgrade_hash(row["id"], row["password_hash"], secret)
        return _to_user(row)

    async def change_password(
        self, user_id: UUID | str, *, current_password: str, new_password: str
    ) -> None:
        """Replace the password. AuthenticationFailed when current_password is not theirs."""
        uid = validation.uuid_value("user_id", user_id)
        current = _presented_password("current_password", current_password)
        new = validation.password(new_password, "new_password")
        async with self._db.connection() as conn:
            row = await self._queries.users.get_password_hash(conn, user_id=uid)
        if row is None:
            raise NotFound("user", uid)
        old_hash: str = row["password_hash"]
        if not await passwords.verify_password(current, old_hash):
            raise AuthenticationFailed("current password is wrong")
        new_hash = await passwords.hash_password(new, self._settings.bcrypt_rounds)
        # Every login session ends in the same commit as the old password (their Redis
        # copies follow once it has committed: chatstore.live, chatstore.realtime.sessions).
        async with self._db.transaction() as conn:
            replaced = await self._replace_hash(uid, old_hash, new_hash)
            if replaced:
                await self._queries.sessions.delete_user_sessions(conn, user_id=uid)
        if not replaced:
            # Deleted (NotFound from get) or changed by a concurrent call since we checked:
            # the password given is then no longer the current one.
            await self.get(uid)
            raise AuthenticationFailed("current password is wrong")

    async def update_profile(
        self,
        user_id: UUID | str,
        *,
        display_name: str | Unchanged | None = UNCHANGED,
        email: str | Unchanged = UNCHANGED,
        username: str | Unchanged = UNCHANGED,
    ) -> User:
        """Change only the fields given; display_name=None clears it. AlreadyExists if taken."""
        uid = validation.uuid_value("user_id", user_id)
        new_email = None if email is UNCHANGED else validation.email(email)
        new_username = None if username is UNCHANGED else validation.username(username)
        set_display_name = display_name is not UNCHANGED
        new_display_name = (
            None
            if display_name is UNCHANGED
            else validation.optional_text(
                "display_name", display_name, max_chars=validation.DISPLAY_NAME_MAX
            )
        )
        if new_email is None and new_username is None and not set_display_name:
            return await self.get(uid)
        async with self._db.transaction() as conn:
            row = await self._queries.users.update_profile(
                conn,
                user_id=uid,
                email=new_email,
                username=new_username,
                set_display_name=set_display_name,
                display_name=new_display_name,
            )
        return _found(row, uid)

    async def set_online(self, user_id: UUID | str, online: bool) -> User:
        """Set the online flag; last_seen_at becomes now on both transitions."""
        uid = validation.uuid_value("user_id", user_id)
        if not isinstance(online, bool):
            raise ValidationError("online", "must be true or false")

        async def attempt() -> Mapping[str, Any] | None:
            async with self._db.connection() as conn:
                row: Mapping[str, Any] | None = await self._queries.users.set_online(
                    conn, user_id=uid, is_online=online
                )
            return row

        # Setting the flag twice is setting it once: a lost answer is settled by asking again.
        row = await run_idempotent(
            self._db, attempt, "set online", current_connection() is not None
        )
        return _found(row, uid)

    async def delete(self, user_id: UUID | str) -> None:
        """Delete the user. Their messages stay, with the sender cleared."""
        uid = validation.uuid_value("user_id", user_id)
        async with self._db.transaction() as conn:
            deleted: int = await self._queries.users.delete_user(conn, user_id=uid)
        if deleted == 0:
            raise NotFound("user", uid)

    async def _upgrade_hash(self, user_id: UUID, old_hash: str, password: str) -> None:
        """Re-hash at the configured cost when the stored hash is cheaper (needs the password,
        so it can only happen at a successful login)."""
        if not passwords.needs_rehash(old_hash, self._settings.bcrypt_rounds):
            return
        new_hash = await passwords.hash_password(password, self._settings.bcrypt_rounds)
        # If the hash changed meanwhile (a password change), that newer hash wins.
        await self._replace_hash(user_id, old_hash, new_hash)

    async def _replace_hash(self, user_id: UUID, old_hash: str, new_hash: str) -> bool:
        """Store new_hash if the stored hash is still old_hash; True when it was stored."""
        async with self._db.connection() as conn:
            replaced: int = await self._queries.users.replace_password_hash(
                conn, user_id=user_id, old_hash=old_hash, password_hash=new_hash
            )
        return replaced == 1


def _login(value: object) -> str:
    """An email or username as typed at login; its shape is not checked (either may match)."""
    return validation.text("login", value, max_chars=validation.EMAIL_MAX).strip()


def _presented_password(field: str, value: object) -> str:
    """A password offered for checking: only what bcrypt can take is enforced, not the
    creation policy (a stored password may predate a stricter minimum length)."""
    secret = validation.text(field, value, max_chars=validation.PASSWORD_MAX_BYTES)
    if len(secret.encode("utf-8")) > validation.PASSWORD_MAX_BYTES:
        raise ValidationError(
            field, f"must be at most {validation.PASSWORD_MAX_BYTES} bytes in UTF-8"
        )
    return secret


def _found(row: Mapping[str, Any] | None, key: object) -> User:
    if row is None:
        raise NotFound("user", key)
    return _to_user(row)


def _to_user(row: Mapping[str, Any]) -> User:
    """Only the User columns: a row that also carries password_hash leaves it behind."""
    return from_row(User, row)
