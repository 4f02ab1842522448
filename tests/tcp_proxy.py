"""A TCP relay on loopback for fault tests: passes traffic, stalls it, drops it, resumes it.

Put it between chatstore and a throwaway server the test started itself:

    async with TcpProxy(upstream_port=pg_server.port) as proxy:
        url = ...           # the server's URL, with proxy.port
        proxy.stall()       # a black hole: nothing passes either way, nothing is closed
        proxy.stall_open()  # only the connections open now go silent; new ones pass
        proxy.resume()      # what was held back is delivered, in order
        proxy.drop()        # every open connection is reset, both sides

While stalled, new connections are accepted (as a server's kernel completes the TCP
handshake on its own) but their upstream side is opened only on resume, so nothing reaches
the server. Only 127.0.0.1 is listened on or connected to; every wait in here ends when the
proxy closes.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from types import TracebackType

LOOPBACK = "127.0.0.1"
CHUNK = 64 * 1024
CLOSE_WAIT_SECONDS = 5.0


@dataclass
class Link:
    """One accepted client connection and its upstream connection."""

    number: int
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    closed: bool = False
    # Cleared by stall_open(): this link alone stays silent until resume().
    flowing: asyncio.Event = field(default_factory=asyncio.Event)
    # Cleared by hold_replies(): requests still reach the server, its answers are held.
    replies: asyncio.Event = field(default_factory=asyncio.Event)
    # Bytes delivered client -> server and server -> client.
    sent_up: int = 0
    sent_down: int = 0

    def __post_init__(self) -> None:
        self.flowing.set()
        self.replies.set()

    def abort(self) -> None:
        """Reset both sides (what drop() does)."""
        self.closed = True
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.transport.abort()

    def close(self) -> None:
        """Close both sides once their buffers are flushed (one side closed: pass it on)."""
        self.closed = True
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.close()


class TcpProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._numbers = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self.links: list[Link] = []

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, LOOPBACK, 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        assert self._server is not None, "use `async with TcpProxy(...)`"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def open_links(self) -> list[Link]:
        return [link for link in self.links if not link.closed]

    def stall(self) -> None:
        """Stop forwarding on every connection, new ones too, closing nothing."""
        self._flowing.clear()

    def stall_open(self) -> list[Link]:
        """Silence the connections open now (until resume); new connections pass."""
        stalled = self.open_links
        for link in stalled:
            link.flowing.clear()
        return stalled

    def hold_replies(self) -> list[Link]:
        """On the connections open now, pass requests to the server but hold its answers
        (until resume): a write is applied and its answer lost. New connections pass."""
        held = self.open_links
        for link in held:
            link.replies.clear()
        return held

    def resume(self) -> None:
        self._flowing.set()
        for link in self.links:
            link.flowing.set()
            link.replies.set()

    def drop(self) -> None:
        """Reset every open connection, on both sides."""
        for link in self.open_links:
            link.abort()

    async def close(self) -> None:
        """Stop listening, reset everything, and wait (bounded) for the relay tasks."""
        if self._server is not None:
            self._server.close()
        self.drop()
        self.resume()  # held pumps wake, find their link closed and end
        tasks = [task for task in self._tasks if not task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_WAIT_SECONDS)
        if self._server is not None:
            await asyncio.wait_for(self._server.wait_closed(), timeout=CLOSE_WAIT_SECONDS)

    async def _gate(self, link: Link) -> None:
        """Return once this link may pass traffic."""
        while not (self._flowing.is_set() and link.flowing.is_set()):
            await self._flowing.wait()
            await link.flowing.wait()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = Link(number=next(self._numbers), client=writer)
        self.links.append(link)
        current = asyncio.current_task()
        if current is not None:
            self._tasks.add(current)
        try:
            await self._gate(link)  # a stalled proxy opens nothing upstream
            if link.closed:
                return
            up_reader, up_writer = await asyncio.open_connection(LOOPBACK, self.upstream_port)
            link.upstream = up_writer
            if link.closed:  # dropped while connecting
                link.abort()
                return
            downstream = asyncio.create_task(self._pump(up_reader, writer, link, up=False))
            self._tasks.add(downstream)
            await self._pump(reader, up_writer, link, up=True)
            await downstream
        except OSError:
            link.abort()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: Link, *, up: bool
    ) -> None:
        """Copy one direction until either side closes, then close both (PostgreSQL's
        protocol has no use for a half-closed connection)."""
        try:
            while not link.closed:
                data = await reader.read(CHUNK)
                # Held here while stalled: read but not delivered, and nothing more is read,
                # so the sender's buffers fill as they would on a dead path.
                await self._gate(link)
                if not up:
                    await link.replies.wait()
                if not data or link.closed:
                    break
                writer.write(data)
                await writer.drain()
                if up:
                    link.sent_up += len(data)
                else:
                    link.sent_down += len(data)
        except OSError:
            link.abort()
        finally:
            link.close()
