"""The README's usage example runs as written, against a real database."""

from __future__ import annotations

import re
import textwrap
from typing import Any

import pytest

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
