"""UserRepository against a real database: accounts, lookups, logins, profiles, presence."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import bcrypt
import pytest

from chatstore import ChatStore
from chatstore.errors import AlreadyExists, AuthenticationFailed, NotFound, ValidationError
from chatstore.models import User
from chatstore.passwords import hash_cost
from chatstore.repositories.users import LOGIN_FAILED
from tests.dbchecks import connect, probes

PASSWORD = "correct horse battery"
INJECTION = "alice'; DROP TABLE users; --"


async def make_alice(store: ChatStore, **overrides: Any) -> User:
    fields: dict[str, Any] = {
        "email": "alice@example.com",
        "username": "alice",
        "password": PASSWORD,
        "display_name": "Alice",
    }
    return await store.users.create(**(fields | overrides))


async def stored_cost(store: ChatStore, user_id: uuid.UUID) -> int:
    async with store.db.connection() as conn:
        row = await store.db.queries.users.get_password_hash(conn, user_id=user_id)
    return hash_cost(row["password_hash"])


async def assert_no_alice(store: ChatStore) -> None:
    """Nothing was written: neither alice's email nor her username is known."""
    with pytest.raises(NotFound):
        await store.users.get_by_email("alice@example.com")
    with pytest.raises(NotFound):
        await store.users.get_by_username("alice")


# --- create and read -------------------------------------------------------------------


async def test_create_returns_the_user_and_never_the_hash(store: ChatStore) -> None:
    alice = await make_alice(store)

    assert (alice.email, alice.username, alice.display_name) == (
        "alice@example.com",
        "alice",
        "Alice",
    )
    assert alice.is_online is False
    assert alice.last_seen_at is None
    assert alice.created_at == alice.updated_at
    assert not hasattr(alice, "password_hash")
    assert {field.name for field in dataclasses.fields(User)} == {
        "id",
        "email",
        "username",
        "display_name",
        "is_online",
        "last_seen_at",
        "created_at",
        "updated_at",
    }
    assert "$2b$" not in repr(alice)
    assert await store.users.get(alice.id) == alice
    assert await store.users.get(str(alice.id)) == alice
    assert await stored_cost(store, alice.id) == store.settings.bcrypt_rounds


async def test_display_name_is_optional(store: ChatStore) -> None:
    alice = await store.users.create(email="a@example.com", username="al", password=PASSWORD)
    assert alice.display_name is None


async def test_lookups_ignore_letter_case(store: ChatStore) -> None:
    alice = await make_alice(store, email="Alice@Example.com", username="Alice")

    assert await store.users.get_by_email("ALICE@example.COM") == alice
    assert await store.users.get_by_username("aLiCe") == alice
    # Stored as given; only comparisons ignore case.
    assert (alice.email, alice.username) == ("Alice@Example.com", "Alice")


@pytest.mark.parametrize(
    ("email", "username", "field"),
    [
        ("ALICE@example.com", "bob", "email"),
        ("bob@example.com", "ALICE", "username"),
    ],
)
async def test_duplicate_in_any_case_names_the_field(
    store: ChatStore, email: str, username: str, field: str
) -> None:
    await make_alice(store)
    with pytest.raises(AlreadyExists) as caught:
        await store.users.create(email=email, username=username, password=PASSWORD)
    assert caught.value.field == field
    # The refused user left nothing behind.
    with pytest.raises(NotFound):
        await store.users.get_by_email("bob@example.com")
    with pytest.raises(NotFound):
        await store.users.get_by_username("bob")


async def test_unknown_ids_and_names_raise_not_found(store: ChatStore) -> None:
    missing = uuid.uuid4()
    with pytest.raises(NotFound):
        await store.users.get(missing)
    with pytest.raises(NotFound):
        await store.users.get_by_email("nobody@example.com")
    with pytest.raises(NotFound):
        await store.users.get_by_username("nobody")
    with pytest.raises(NotFound):
        await store.users.update_profile(missing, display_name="x")
    with pytest.raises(NotFound):
        await store.users.update_profile(missing)
    with pytest.raises(NotFound):
        await store.users.set_online(missing, True)
    with pytest.raises(NotFound):
        await store.users.delete(missing)
    with pytest.raises(NotFound):
        await store.users.change_password(
            missing, current_password=PASSWORD, new_password="another password"
        )


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", ""),
        ("email", "   "),
        ("email", "no-at-sign"),
        ("email", "alice@localhost"),
        ("email", "al ice@example.com"),
        ("email", "a" * 250 + "@example.com"),
        ("email", "alice\x00@example.com"),
        ("email", 42),
        ("username", ""),
        ("username", "a"),
        ("username", "a" * 33),
        ("username", "_alice"),
        ("username", "al ice"),
        ("username", "al\x00ice"),
        ("username", INJECTION),
        ("password", ""),
        ("password", "short"),
        ("password", " " * 12),
        ("password", "a" * 73),
        ("password", "é" * 37),  # 37 characters, 74 bytes
        ("password", "😀" * 19),  # 19 characters, 76 bytes
        ("password", "pass\x00word123"),
        ("password", None),
        ("display_name", ""),
        ("display_name", "   "),
        ("display_name", "x" * 101),
        ("display_name", "Al\x00ice"),
    ],
    ids=repr,
)
async def test_create_refuses_bad_input_and_writes_nothing(
    store: ChatStore, field: str, value: object
) -> None:
    with pytest.raises(ValidationError) as caught:
        await make_alice(store, **{field: value})
    assert caught.value.field == field
    await assert_no_alice(store)


async def test_passwords_up_to_72_bytes_work_in_full(store: ChatStore) -> None:
    password = "é" * 36  # exactly 72 bytes
    alice = await make_alice(store, password=password)
    assert await store.users.authenticate("alice", password) == alice
    # Every byte counts: nothing was cut off before hashing.
    with pytest.raises(AuthenticationFailed):
        await store.users.authenticate("alice", "é" * 35 + "e")


Call = Callable[[ChatStore], Awaitable[object]]

BAD_CALLS: list[tuple[str, Call]] = [
    ("user_id", lambda s: s.users.get("not-a-uuid")),
    ("user_id", lambda s: s.users.get("")),
    ("user_id", lambda s: s.users.delete("1; DROP TABLE users")),
    ("user_id", lambda s: s.users.set_online("123", True)),
    ("user_id", lambda s: s.users.update_profile("x", display_name="y")),
    (
        "user_id",
        lambda s: s.users.change_password("x", current_password="a", new_password="b" * 10),
    ),
    ("email", lambda s: s.users.get_by_email("not an email")),
    ("email", lambda s: s.users.get_by_email("x\x00@example.com")),
    ("username", lambda s: s.users.get_by_username(INJECTION)),
    ("login", lambda s: s.users.authenticate("", PASSWORD)),
    ("login", lambda s: s.users.authenticate("al\x00ice", PASSWORD)),
    ("login", lambda s: s.users.authenticate("a" * 255, PASSWORD)),
    ("password", lambda s: s.users.authenticate("alice", "")),
    ("password", lambda s: s.users.authenticate("alice", "a" * 73)),
    ("password", lambda s: s.users.authenticate("alice", "😀" * 19)),
    ("password", lambda s: s.users.authenticate("alice", "pass\x00word123")),
]


@pytest.mark.parametrize(("field", "call"), BAD_CALLS, ids=[f for f, _ in BAD_CALLS])
async def test_reads_and_logins_refuse_bad_input(store: ChatStore, field: str, call: Call) -> None:
    with pytest.raises(ValidationError) as caught:
        await call(store)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("email", {"email": "not an email"}),
        ("email", {"email": None}),
        ("username", {"username": "a"}),
        ("username", {"username": None}),
        ("display_name", {"display_name": ""}),
        ("display_name", {"display_name": "x" * 101}),
        # One bad field stops the whole update, including the good ones.
        ("username", {"display_name": "Changed", "email": "new@example.com", "username": "!"}),
    ],
    ids=repr,
)
async def test_update_profile_refuses_bad_input_and_changes_nothing(
    store: ChatStore, field: str, changes: dict[str, Any]
) -> None:
    alice = await make_alice(store)
    with pytest.raises(ValidationError) as caught:
        await store.users.update_profile(alice.id, **changes)
    assert caught.value.field == field
    assert await store.users.get(alice.id) == alice


async def test_set_online_refuses_a_non_boolean(store: ChatStore) -> None:
    alice = await make_alice(store)
    with pytest.raises(ValidationError) as caught:
        await store.users.set_online(alice.id, "yes")  # type: ignore[arg-type]
    assert caught.value.field == "online"
    assert await store.users.get(alice.id) == alice


async def test_injection_strings_are_stored_verbatim_and_harmless(store: ChatStore) -> None:
    alice = await make_alice(store, display_name=INJECTION)
    assert (await store.users.get(alice.id)).display_name == INJECTION

    # A well-formed email carrying a quote matches nobody instead of everybody.
    with pytest.raises(NotFound):
        await store.users.get_by_email("x'--@example.com")
    with pytest.raises(AuthenticationFailed):
        await store.users.authenticate("' OR ''='", "' OR ''='")

    # The table is still there and still takes writes.
    bob = await store.users.create(email="bob@example.com", username="bob", password=PASSWORD)
    assert await store.users.get_by_username("bob") == bob
    assert await store.users.get(alice.id) == await store.users.get_by_email("alice@example.com")


# --- authenticate ----------------------------------------------------------------------


async def test_login_by_email_or_username_in_any_case(store: ChatStore) -> None:
    alice = await make_alice(store)
    assert await store.users.authenticate("alice@example.com", PASSWORD) == alice
    assert await store.users.authenticate("ALICE", PASSWORD) == alice
    assert await store.users.authenticate("  Alice@Example.com ", PASSWORD) == alice


async def test_unknown_user_and_wrong_password_look_and_cost_the_same(
    store: ChatStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_alice(store)
    checked_costs: list[int] = []
    real_checkpw = bcrypt.checkpw

    def recording_checkpw(password: bytes, hashed_password: bytes) -> bool:
        checked_costs.append(hash_cost(hashed_password.decode()))
        return real_checkpw(password, hashed_password)

    monkeypatch.setattr(bcrypt, "checkpw", recording_checkpw)

    with pytest.raises(AuthenticationFailed) as unknown:
        await store.users.authenticate("mallory", PASSWORD)
    with pytest.raises(AuthenticationFailed) as wrong:
        await store.users.authenticate("alice", "not her password")

    assert str(unknown.value) == str(wrong.value) == LOGIN_FAILED
    assert type(unknown.value) is type(wrong.value)
    # Each path ran exactly one bcrypt check at the configured cost.
    assert checked_costs == [store.settings.bcrypt_rounds] * 2


async def test_login_upgrades_a_cheaper_hash_and_never_downgrades(
    store: ChatStore,
) -> None:
    alice = await make_alice(store)
    assert await stored_cost(store, alice.id) == 10

    stronger = dataclasses.replace(store.settings, bcrypt_rounds=11)
    async with ChatStore.open(stronger) as upgraded:
        with pytest.raises(AuthenticationFailed):
            await upgraded.users.authenticate("alice", "not her password")
        assert await stored_cost(upgraded, alice.id) == 10  # a failed login changes nothing

        assert (await upgraded.users.authenticate("alice", PASSWORD)).id == alice.id
        assert await stored_cost(upgraded, alice.id) == 11
        assert (await upgraded.users.authenticate("alice", PASSWORD)).id == alice.id

    # A store configured with the cheaper cost still accepts the stronger hash and keeps it.
    assert (await store.users.authenticate("alice", PASSWORD)).id == alice.id
    assert await stored_cost(store, alice.id) == 11


async def test_hashing_does_not_block_the_event_loop(store: ChatStore) -> None:
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.02)
    await make_alice(store)  # one hash, ~60 ms at cost 10
    await store.users.authenticate("alice", PASSWORD)  # one check, same cost
    done.set()
    await ticker

    # Inline hashing would leave a gap of at least one hash (~60 ms).
    assert max(gaps) < 0.05, max(gaps)
    assert len(gaps) >= 8


# --- change_password -------------------------------------------------------------------


async def test_change_password(store: ChatStore) -> None:
    alice = await make_alice(store)
    with pytest.raises(AuthenticationFailed):
        await store.users.change_password(
            str(alice.id), current_password="not her password", new_password="new secret 1"
        )
    assert await store.users.authenticate("alice", PASSWORD) == alice

    await store.users.change_password(
        alice.id, current_password=PASSWORD, new_password="new secret 1"
    )
    assert (await store.users.authenticate("alice", "new secret 1")).id == alice.id
    with pytest.raises(AuthenticationFailed):
        await store.users.authenticate("alice", PASSWORD)


async def test_change_password_refuses_a_bad_new_password_and_keeps_the_old(
    store: ChatStore,
) -> None:
    alice = await make_alice(store)
    for bad in ("short", "a" * 73, "é" * 37, "new\x00secret1"):
        with pytest.raises(ValidationError) as caught:
            await store.users.change_password(alice.id, current_password=PASSWORD, new_password=bad)
        assert caught.value.field == "new_password"
    with pytest.raises(ValidationError) as caught:
        await store.users.change_password(
            alice.id, current_password="a" * 73, new_password="new secret 1"
        )
    assert caught.value.field == "current_password"
    assert await store.users.authenticate("alice", PASSWORD) == alice


async def test_concurrent_password_changes_from_the_same_password_one_wins(
    store: ChatStore,
) -> None:
    alice = await make_alice(store)
    outcomes = await asyncio.gather(
        store.users.change_password(alice.id, current_password=PASSWORD, new_password="first one"),
        store.users.change_password(alice.id, current_password=PASSWORD, new_password="second one"),
        return_exceptions=True,
    )
    assert sorted(type(outcome).__name__ for outcome in outcomes) == [
        "AuthenticationFailed",
        "NoneType",
    ]
    winner, loser = (
        ("first one", "second one") if outcomes[0] is None else ("second one", "first one")
    )
    assert (await store.users.authenticate("alice", winner)).id == alice.id
    with pytest.raises(AuthenticationFailed):
        await store.users.authenticate("alice", loser)


# --- update_profile --------------------------------------------------------------------


async def test_update_profile_changes_only_the_fields_given(store: ChatStore) -> None:
    alice = await make_alice(store)

    renamed = await store.users.update_profile(alice.id, display_name="Alice A.")
    assert renamed.display_name == "Alice A."
    assert (renamed.email, renamed.username) == (alice.email, alice.username)
    assert renamed.updated_at > alice.updated_at

    moved = await store.users.update_profile(
        str(alice.id), email="alice@new.example.com", username="alice2"
    )
    assert (moved.email, moved.username, moved.display_name) == (
        "alice@new.example.com",
        "alice2",
        "Alice A.",
    )
    assert await store.users.get_by_username("ALICE2") == moved
    await assert_no_alice(store)

    cleared = await store.users.update_profile(alice.id, display_name=None)
    assert cleared.display_name is None
    assert await store.users.update_profile(alice.id) == cleared
    assert await store.users.authenticate("alice@new.example.com", PASSWORD) == cleared


async def test_update_profile_to_another_users_email_or_username(store: ChatStore) -> None:
    alice = await make_alice(store)
    bob = await store.users.create(email="bob@example.com", username="bob", password=PASSWORD)

    with pytest.raises(AlreadyExists) as caught:
        await store.users.update_profile(bob.id, email="ALICE@example.com")
    assert caught.value.field == "email"
    with pytest.raises(AlreadyExists) as caught:
        await store.users.update_profile(bob.id, display_name="Bob", username="Alice")
    assert caught.value.field == "username"
    assert await store.users.get(bob.id) == bob

    # Changing only the letter case of one's own email is not a clash.
    recased = await store.users.update_profile(alice.id, email="ALICE@example.com")
    assert recased.email == "ALICE@example.com"


# --- presence and delete ---------------------------------------------------------------


async def test_set_online_stamps_last_seen_on_both_transitions(store: ChatStore) -> None:
    alice = await make_alice(store)

    online = await store.users.set_online(alice.id, True)
    assert online.is_online is True
    assert online.last_seen_at is not None
    assert online.updated_at == alice.updated_at  # presence is not a profile edit

    offline = await store.users.set_online(str(alice.id), False)
    assert offline.is_online is False
    assert offline.last_seen_at is not None
    assert offline.last_seen_at > online.last_seen_at
    assert await store.users.get(alice.id) == offline


async def test_delete_keeps_their_messages_with_the_sender_cleared(
    store: ChatStore, database_url: str
) -> None:
    alice = await make_alice(store)
    async with connect(database_url) as conn:
        room = await probes.insert_room(
            conn,
            id=uuid.uuid4(),
            kind="public",
            name="general",
            created_by=alice.id,
            direct_user_low=None,
            direct_user_high=None,
        )
        message = await probes.insert_message(
            conn,
            id=uuid.uuid4(),
            room_id=room["id"],
            seq=1,
            sender_id=alice.id,
            kind="text",
            content="hello",
            attachment=None,
            client_id=None,
        )

    await store.users.delete(str(alice.id))

    with pytest.raises(NotFound):
        await store.users.get(alice.id)
    with pytest.raises(NotFound):
        await store.users.delete(alice.id)
    with pytest.raises(AuthenticationFailed):
        await store.users.authenticate("alice", PASSWORD)
    async with connect(database_url) as conn:
        kept = await probes.get_message(conn, id=message["id"])
    assert kept["content"] == "hello"
    assert kept["sender_id"] is None
    # The name is free again.
    again = await make_alice(store)
    assert again.id != alice.id
