"""TLS as settings: verified TLS to PostgreSQL and Redis end to end, a wrong CA or host name
refused with a chatstore error that says TLS, and CHATSTORE_REQUIRE_TLS refusing anything
weaker, whichever URL parameter or environment variable asks for it.

This module's own servers: a PostgreSQL with ssl=on and a Redis with a TLS port (client
certificates required), both with a certificate for `localhost` only, from a CA made by
openssl in a temporary folder.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chatstore import ChatStore, ConfigurationError, CreateMessage, Settings
from chatstore.config import PgTls
from chatstore.dbmate import MigrationTarget, run_dbmate
from chatstore.health import check
from chatstore.pg_connection import tls_options
from chatstore.realtime.connection import open_redis
from tests.conftest import settings_for
from tests.servers import TEMPLATE_DB, PgServer, RedisServer, ServerTls, start_postgres, start_redis
from tests.tls_certs import Certs, make_certs

# Starting the two servers counts against the first test's bound.
pytestmark = pytest.mark.timeout(60)
WAIT = 10.0


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_pg(certs: Certs) -> Iterator[PgServer]:
    server = start_postgres(tls=ServerTls(certs.server_cert, certs.server_key, certs.ca))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def tls_redis(certs: Certs) -> Iterator[RedisServer]:
    server = start_redis(tls=ServerTls(certs.server_cert, certs.server_key, certs.ca))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def verified(certs: Certs, tls_pg: PgServer, tls_redis: RedisServer) -> Settings:
    """Verified TLS to both servers (client certificates too), required."""
    return dataclasses.replace(
        settings_for(tls_pg.tls_url(TEMPLATE_DB), tls_redis.tls_url()),
        pg_sslmode="verify-full",
        pg_sslrootcert=certs.ca,
        pg_sslcert=certs.client_cert,
        pg_sslkey=certs.client_key,
        redis_tls_ca=certs.ca,
        redis_tls_cert=certs.client_cert,
        redis_tls_key=certs.client_key,
        require_tls=True,
    )


async def refused(settings: Settings) -> ConfigurationError:
    """The error ChatStore.open fails with, promptly."""
    async with asyncio.timeout(WAIT):
        with pytest.raises(ConfigurationError) as caught:
            async with ChatStore.open(settings):
                pass
    return caught.value


async def test_verified_tls_end_to_end(verified: Settings) -> None:
    async with ChatStore.open(verified) as store:
        async with store.db.connection() as conn:
            assert conn.pgconn.ssl_in_use
        alice, bob = [
            await store.users.create(
                email=f"{name}@example.com", username=name, password=f"{name}-password-1"
            )
            for name in ("alice", "bob")
        ]
        room = await store.rooms.create(name="tls", kind="public", created_by=alice.id)
        await store.rooms.add_member(room.id, bob.id)
        async with store.connect(bob.id, "phone") as stream:
            sent = await store.send_message(CreateMessage(room.id, alice.id, "over TLS"))
            async with asyncio.timeout(WAIT):
                async for event in stream:
                    if event.type == "message.created":
                        break
        assert (event.seq, event.payload["content"]) == (sent.seq, "over TLS")


async def test_wrong_ca_is_refused_by_postgres_connection(verified: Settings, certs: Certs) -> None:
    error = await refused(dataclasses.replace(verified, pg_sslrootcert=certs.wrong_ca))
    assert error.setting == "CHATSTORE_PG_SSLROOTCERT"
    assert "TLS" in str(error)
    assert "certificate verify failed" in str(error)


async def test_wrong_ca_is_refused_by_redis_connection_without_retrying(
    verified: Settings, certs: Certs
) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigurationError) as caught:
        await open_redis(dataclasses.replace(verified, redis_tls_ca=certs.wrong_ca))
    assert time.monotonic() - started < 1.0  # no backoff and retries as for an outage
    assert caught.value.setting == "CHATSTORE_REDIS_TLS_CA"
    assert "TLS" in str(caught.value)
    assert "certificate verify failed" in str(caught.value)


async def test_a_host_name_the_certificate_does_not_cover_is_refused(
    verified: Settings, tls_pg: PgServer, tls_redis: RedisServer
) -> None:
    # The certificate names localhost only; the same servers, reached as 127.0.0.1.
    pg_error = await refused(
        dataclasses.replace(verified, database_url=tls_pg.tls_url(TEMPLATE_DB, "127.0.0.1"))
    )
    assert pg_error.setting == "DATABASE_URL"
    assert "does not match host name" in str(pg_error)
    with pytest.raises(ConfigurationError) as caught:
        await open_redis(
            dataclasses.replace(verified, redis_url=tls_redis.tls_url(host="127.0.0.1"))
        )
    assert caught.value.setting == "REDIS_URL"
    assert "mismatch" in str(caught.value)


async def test_settings_win_over_the_urls(
    verified: Settings, certs: Certs, tls_pg: PgServer, tls_redis: RedisServer
) -> None:
    weak = dataclasses.replace(
        verified,
        database_url=tls_pg.tls_url(TEMPLATE_DB) + f"?sslmode=disable&sslrootcert={certs.wrong_ca}",
        redis_url=tls_redis.tls_url() + f"?ssl_ca_certs={certs.wrong_ca}",
    )
    async with ChatStore.open(weak) as store:
        async with store.db.connection() as conn:
            assert conn.pgconn.ssl_in_use
        assert await store.redis.ping()


Weaken = Callable[[Settings, RedisServer], Settings]


def _query(field: str, query: str) -> Weaken:
    # Without CHATSTORE_PG_SSLMODE, which would win over the URL's sslmode.
    return lambda s, _: dataclasses.replace(
        s, pg_sslmode=None, **{field: getattr(s, field) + query}
    )


@pytest.mark.parametrize(
    ("weaken", "setting", "words"),
    [
        (_query("database_url", "?sslmode=require"), "DATABASE_URL", "sslmode=require"),
        (_query("database_url", "?sslmode=prefer"), "DATABASE_URL", "sslmode=prefer"),
        (
            lambda s, _: dataclasses.replace(s, pg_sslmode="verify-ca"),
            "CHATSTORE_PG_SSLMODE",
            "host name",
        ),
        (
            lambda s, _: dataclasses.replace(s, pg_sslmode=None, pg_sslrootcert=None),
            "CHATSTORE_PG_SSLMODE",
            "unset",
        ),
        (_query("redis_url", "?ssl_cert_reqs=none"), "REDIS_URL", "ssl_cert_reqs=none"),
        (_query("redis_url", "?ssl_check_hostname=false"), "REDIS_URL", "ssl_check_hostname"),
        (lambda s, r: dataclasses.replace(s, redis_url=r.url()), "REDIS_URL", "rediss://"),
    ],
    ids=[
        "sslmode=require",
        "sslmode=prefer",
        "verify-ca",
        "no-sslmode",
        "cert_reqs=none",
        "no-hostname-check",
        "redis://",
    ],
)
async def test_require_tls_refuses_anything_weaker(
    verified: Settings, tls_redis: RedisServer, weaken: Weaken, setting: str, words: str
) -> None:
    error = await refused(weaken(verified, tls_redis))
    assert error.setting == setting
    assert words in str(error)
    assert "CHATSTORE_REQUIRE_TLS" in str(error)


def test_require_tls_reads_libpq_environment_and_pins_the_mode() -> None:
    url = "postgresql://chatstore@db.example/chatstore"
    with pytest.raises(ConfigurationError) as caught:
        tls_options(url, PgTls(require=True), environ={"PGSSLMODE": "require"})
    assert caught.value.setting == "PGSSLMODE"
    # Set in the environment too, verify-full is pinned, so a later PGSSLMODE cannot change it.
    pinned = tls_options(url, PgTls(require=True), environ={"PGSSLMODE": "verify-full"})
    assert pinned == {"sslmode": "verify-full", "gssencmode": "disable"}
    # A root certificate with no sslmode anywhere means verifying against it.
    root = Path("/etc/ssl/ca.pem")
    assert tls_options(url, PgTls(rootcert=root), environ={})["sslmode"] == "verify-full"
    assert tls_options(url + "?sslmode=require", PgTls(rootcert=root), environ={}) == {
        "sslrootcert": str(root)
    }


async def test_require_tls_refuses_a_unix_socket(verified: Settings, tls_pg: PgServer) -> None:
    # libpq never uses TLS over a Unix socket, whatever sslmode says.
    socket_url = f"postgresql://chatstore@/{TEMPLATE_DB}?host={tls_pg.base}&port={tls_pg.port}"
    error = await refused(dataclasses.replace(verified, database_url=socket_url))
    assert error.setting == "DATABASE_URL"
    assert "not TLS" in str(error)


async def test_check_reports_tls_failures(verified: Settings, certs: Certs) -> None:
    lines: list[str] = []
    wrong = dataclasses.replace(
        verified, pg_sslrootcert=certs.wrong_ca, redis_tls_ca=certs.wrong_ca
    )
    async with asyncio.timeout(WAIT):
        assert not await check(wrong, lines.append)
    assert [line.split(":")[0] for line in lines] == ["FAIL  PostgreSQL TLS", "FAIL  Redis TLS"]
    lines.clear()
    async with asyncio.timeout(WAIT):
        assert await check(verified, lines.append), lines


def test_migrate_uses_the_tls_settings(certs: Certs, tls_pg: PgServer) -> None:
    verified = PgTls("verify-full", certs.ca, certs.client_cert, certs.client_key, require=True)
    target = MigrationTarget(database_url=tls_pg.tls_url("chatstore_tls_migrated"), tls=verified)
    assert run_dbmate(target, "up") == 0
    wrong = dataclasses.replace(target, tls=dataclasses.replace(verified, rootcert=certs.wrong_ca))
    assert run_dbmate(wrong, "status") != 0
    weak = dataclasses.replace(target, database_url=target.database_url + "?sslmode=require")
    with pytest.raises(ConfigurationError, match="sslmode=require"):
        run_dbmate(dataclasses.replace(weak, tls=PgTls(require=True)), "status")


def test_tls_variables_are_read_and_checked(certs: Certs) -> None:
    base = {"DATABASE_URL": "postgresql://db.example/chatstore", "REDIS_URL": "rediss://r.example"}
    settings = Settings.from_env(
        base
        | {
            "CHATSTORE_PG_SSLMODE": "Verify-Full",
            "CHATSTORE_PG_SSLROOTCERT": "system",
            "CHATSTORE_REDIS_TLS_CA": str(certs.ca),
            "CHATSTORE_REDIS_TLS_CERT": str(certs.client_cert),
            "CHATSTORE_REQUIRE_TLS": "true",
        }
    )
    assert settings.pg_tls == PgTls("verify-full", Path("system"), require=True)
    assert (settings.redis_tls_ca, settings.redis_tls_key) == (certs.ca, None)
    for variable, value in [
        ("CHATSTORE_PG_SSLMODE", "verify"),
        ("CHATSTORE_PG_SSLROOTCERT", "/nonexistent/ca.pem"),
        ("CHATSTORE_REDIS_TLS_KEY", str(certs.client_key)),  # a key without its certificate
        ("CHATSTORE_REQUIRE_TLS", "maybe"),
    ]:
        with pytest.raises(ConfigurationError) as caught:
            Settings.from_env(base | {variable: value})
        assert caught.value.setting == variable
