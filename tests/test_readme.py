"""The README's usage example runs as written, against a real database."""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
from typing import Any

import pytest

from chatstore import ChatStore, CreateMessage
from tests.servers import PROJECT, RedisServer


def usage_example() -> str:
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("## Using it", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert match, "README's 'Using it' section has no python block"
    return match.group(1)


async def test_readme_usage_runs_as_written(
    database_url: str, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ChatStore.open() with no arguments reads the environment, as the README says.
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_server.url(0))
    monkeypatch.setenv("BCRYPT_ROUNDS", "10")
    body = usage_example()
    source = "async def example():\n" + textwrap.indent(body, "    ") + "    return locals()\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    result = await namespace["example"]()

    page, edited, msg = result["page"], result["edited"], result["msg"]
    assert [m.id for m in page.messages] == [msg.id]
    assert edited.content == "hello, world"
    assert edited.edit_count == 1
    assert page.messages[0].content == "hello"


def python_blocks(heading: str) -> list[str]:
    readme = (PROJECT / "README.md").read_text()
    section = readme.split(heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


async def test_readme_smallest_program_runs_as_written(
    database_url: str,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_server.url(0))
    monkeypatch.setenv("BCRYPT_ROUNDS", "10")
    program = python_blocks("## Use chatstore from your project")[0]
    # The program ends in asyncio.run(main()); inside this test's loop, await main() instead.
    assert program.rstrip().endswith("asyncio.run(main())")
    body = program.rstrip().removesuffix("asyncio.run(main())")
    namespace: dict[str, Any] = {}
    exec(compile(body, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    await namespace["main"]()
    assert capsys.readouterr().out.strip() == "['hi']"


async def test_readme_websocket_handler_delivers_and_acts(store: ChatStore) -> None:
    (handler_source,) = python_blocks("### A WebSocket handler")
    namespace: dict[str, Any] = {}
    exec(compile(handler_source, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    alice = await store.users.create(email="a@example.com", username="alice", password="pw-alice-1")
    bob = await store.users.create(email="b@example.com", username="bob", password="pw-bob-123")
    room = await store.rooms.create(name="general", kind="public", created_by=alice.id)
    await store.rooms.add_member(room.id, bob.id)
    token, _ = await store.sessions.create(bob.id)
    inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send(text: str) -> None:
        await frames.put(json.loads(text))

    await inbox.put({"cursors": {}})
    socket = asyncio.create_task(
        namespace["chat_socket"](store, token, "bob-phone", inbox.get, send)
    )

    async def next_frame(kind: str) -> dict[str, Any]:
        async with asyncio.timeout(10):
            while (frame := await frames.get())["type"] != kind:
                pass
        return frame

    assert (await next_frame("snapshot"))["unread"] == {str(room.id): 0}
    await store.send_message(CreateMessage(room.id, alice.id, "hi bob"))
    assert (await next_frame("message.created"))["payload"]["content"] == "hi bob"
    await inbox.put({"type": "send", "room_id": str(room.id), "text": "hi alice", "id": "m-1"})
    echoed = await next_frame("message.created")
    assert (echoed["payload"]["content"], echoed["payload"]["sender_id"]) == (
        "hi alice",
        str(bob.id),
    )
    await inbox.put(None)  # the client went away
    async with asyncio.timeout(10):
        await socket
