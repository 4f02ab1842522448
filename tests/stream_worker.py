"""One application process for the multi-process delivery test (tests/test_stream_processes.py).

Run as `python -m tests.stream_worker PLAN.json`. It opens its own ChatStore, connects its
share of the clients, and on the parent's "go" runs its senders: messages into the plan's
rooms, 2 % of them retried with the same client id, some edits and deletes, and a share of
its publishes dropped on purpose (as if Redis had lost them). On "finish" it waits until
every client has reached its rooms' log heads, then writes a JSON report of what each
client received and what the process's feed absorbed, and prints "done". Bounded: every
wait has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from chatstore import ChatStore, CreateMessage, Settings
from chatstore.models import LogEntry
from chatstore.realtime.stream import ClientStream

FINISH_TIMEOUT = 60.0


async def collect(stream: ClientStream, received: list[list[Any]]) -> None:
    async for event in stream:
        if event.event_seq is not None:
            received.append([str(event.room_id), event.event_seq, event.type])


async def send_all(store: ChatStore, plan: dict[str, Any], worker: int) -> dict[str, int]:
    rng = random.Random(1000 + worker)
    counts = {"sent": 0, "retries": 0, "edits": 0, "deletes": 0}
    senders = plan["senders"][worker]

    async def sender(number: int, user: str) -> None:
        mine: list[Any] = []
        for n in range(plan["messages_per_sender"]):
            room = UUID(rng.choice(plan["rooms"]))
            message = CreateMessage(
                room, UUID(user), f"w{worker} s{number} m{n}", client_id=f"w{worker}-{number}-{n}"
            )
            sent = await store.send_message(message)
            counts["sent"] += 1
            mine.append(sent)
            if rng.random() < 0.02:
                again = await store.send_message(message)  # a client retrying
                assert again.id == sent.id
                counts["retries"] += 1
            if rng.random() < 0.05 and len(mine) > 1:
                target = rng.choice(mine[:-1])
                await store.messages.update(
                    target.id, f"{target.content} (edited)", editor_id=UUID(user)
                )
                counts["edits"] += 1
            elif rng.random() < 0.03 and len(mine) > 1:
                target = mine.pop(rng.randrange(len(mine) - 1))
                await store.messages.delete(target.id, acting_user_id=UUID(user))
                counts["deletes"] += 1
            await asyncio.sleep(rng.uniform(0, 0.01))

    await asyncio.gather(*(sender(n, user) for n, user in enumerate(senders)))
    return counts


async def main(plan: dict[str, Any], worker: int) -> None:
    settings = Settings.from_env()
    async with ChatStore.open(settings) as store:
        publisher = store.db.log_publisher
        assert publisher is not None
        rng = random.Random(worker)
        dropped = 0

        async def flaky(entries: Sequence[LogEntry]) -> None:
            nonlocal dropped
            if rng.random() < plan["drop_rate"]:
                dropped += 1
                return
            await publisher(entries)

        store.db.log_publisher = flaky
        clients = plan["clients"][worker]
        streams: list[ClientStream] = []
        received: dict[str, list[list[Any]]] = {}
        tasks = []
        exits = contextlib.AsyncExitStack()
        for n, user in enumerate(clients):
            cursors = {UUID(room): 0 for room in plan["rooms"]}
            stream = await exits.enter_async_context(
                store.connect(UUID(user), f"device-{worker}-{n}", cursors=cursors)
            )
            streams.append(stream)
            key = f"{user}#{worker}-{n}"
            received[key] = []
            tasks.append(asyncio.create_task(collect(stream, received[key])))
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # "go"
        counts = await send_all(store, plan, worker)
        print("sent", flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # "finish": every process has sent
        heads = await store.log.heads([UUID(room) for room in plan["rooms"]])
        async with asyncio.timeout(FINISH_TIMEOUT):
            # Cursors move as clients consume; there is no event to wait on, so look often.
            while any(  # noqa: ASYNC110
                stream.cursors.get(room, head.last_event_seq) < head.last_event_seq
                for stream in streams
                for room, head in heads.items()
            ):
                await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        stats = store.feed.stats
        report = {
            "received": received,
            "counts": counts,
            "dropped_publishes": dropped,
            "feed": {
                "inversions": stats.inversions,
                "duplicates": stats.duplicates,
                "gap_fills": stats.gap_fills,
                "fill_queries": stats.fill_queries,
                "quiet_fills": stats.quiet_fills,
                "delivered": stats.delivered,
            },
            "stream_log_reads": sum(stream.log_reads for stream in streams),
            "hub_reconnects": store.events.reconnects,
        }
        await exits.aclose()
        # A file, not stdout: fifty clients' entries would overflow a pipe's line buffer.
        await asyncio.to_thread(
            Path(plan["reports"], f"{worker}.json").write_text, json.dumps(report)
        )
        print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text()), int(sys.argv[2])))
