"""The workloads: what each peer calls, with which arguments, for every operation measured.

Arguments are chosen from the call's task and number, the same way for every peer, so the
peers do the same work. Reads come first and writes last, so every read sees the dataset as
loaded (the history depths are counted from the hot room's newest message).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol
from uuid import UUID

from bench.dataset import PASSWORD
from bench.fixtures import MAX_TASKS, RICH_DEPTH, Fixtures
from bench.peers import ChatstorePeer
from bench.runner import Op

CATCH_UP_BEHIND = 100  # a reconnecting client is this many messages behind
RICH_PEERS = ("chatstore", "raw")  # the peers that read a page's reactions and threads


class Peer(Protocol):
    name: str

    def get_user(self, user_id: UUID) -> Awaitable[object]: ...
    def authenticate(self, login: str, password: str) -> Awaitable[object]: ...
    def page_before(self, room_id: UUID, user_id: UUID, before_seq: int) -> Awaitable[object]: ...
    def page_offset(self, room_id: UUID, user_id: UUID, offset: int) -> Awaitable[object]: ...
    def catch_up(self, room_id: UUID, user_id: UUID, after_seq: int) -> Awaitable[object]: ...
    def unread_counts(self, user_id: UUID) -> Awaitable[object]: ...
    def room_list(self, user_id: UUID) -> Awaitable[object]: ...
    def send(self, room_id: UUID, sender_id: UUID, content: str) -> Awaitable[object]: ...
    def mark_read(self, message_id: UUID, user_id: UUID) -> Awaitable[object]: ...


# A workload's call for one peer: (peer, task, n) -> the peer's operation.
Call = Callable[[Peer, int, int], Awaitable[object]]


@dataclass
class Workload:
    name: str  # key in the results file
    label: str  # for people: the table and the plots
    group: str  # workloads plotted together (history pages by depth)
    ops: dict[str, Op]  # peer name -> operation
    depth: int | None = None


def _pick(items: Sequence[UUID], index: int) -> UUID:
    return items[index % len(items)]


def _each(peers: Sequence[Peer], call: Call) -> dict[str, Op]:
    return {peer.name: partial(call, peer) for peer in peers}


# -- the calls: fixtures (and the workload's own arguments) bound first with partial ---------


def _get_user(fx: Fixtures, p: Peer, task: int, n: int) -> Awaitable[object]:
    return p.get_user(_pick(fx.users, n * 7919))  # a stride through the users


def _keyset(fx: Fixtures, before: int, p: Peer, task: int, n: int) -> Awaitable[object]:
    return p.page_before(fx.hot_room, _pick(fx.readers, task), before)


def _offset(fx: Fixtures, depth: int, p: Peer, task: int, n: int) -> Awaitable[object]:
    return p.page_offset(fx.hot_room, _pick(fx.readers, task), depth)


def _catch_up(fx: Fixtures, after: int, p: Peer, task: int, n: int) -> Awaitable[object]:
    return p.catch_up(fx.hot_room, _pick(fx.readers, task), after)


def _unread(fx: Fixtures, p: Peer, task: int, n: int) -> Awaitable[object]:
    return p.unread_counts(_pick(fx.probes, n))


def _room_list(fx: Fixtures, p: Peer, task: int, n: int) -> Awaitable[object]:
    return p.room_list(_pick(fx.probes, n))


def _authenticate(fx: Fixtures, p: Peer, task: int, n: int) -> Awaitable[object]:
    return p.authenticate(fx.usernames[n % len(fx.usernames)], PASSWORD)


def _send_direct(fx: Fixtures, p: Peer, task: int, n: int) -> Awaitable[object]:
    return p.send(fx.direct_room, fx.direct_users[n % 2], f"{p.name} says {n}")


def _send_big(fx: Fixtures, p: Peer, task: int, n: int) -> Awaitable[object]:
    return p.send(fx.hot_room, _pick(fx.readers, n), f"{p.name} says {n}")


def _mark_read(fx: Fixtures, peers: Sequence[Peer]) -> dict[str, Op]:
    """Each peer marks messages read as users of its own, each task walking forward through
    the hot room's newest messages, so every call records a new receipt and moves a marker."""

    def make(peer: Peer, slot: int) -> Op:
        walked: dict[int, int] = {}

        def op(task: int, n: int) -> Awaitable[object]:
            step = walked.get(task, 0)
            walked[task] = step + 1
            user = _pick(fx.markers, slot * MAX_TASKS + task)
            return peer.mark_read(_pick(fx.newest, step), user)

        return op

    return {peer.name: make(peer, slot) for slot, peer in enumerate(peers)}


def _rich_page(peers: Sequence[Peer], fx: Fixtures) -> Workload:
    """The keyset page bench/fixtures.py decorated: its messages carry reactions, quotes and
    thread summaries (the same query and parameters as the plain pages)."""
    rich = [peer for peer in peers if peer.name in RICH_PEERS]
    return Workload(
        "history_rich",
        f"history page with reactions, replies and threads (depth {RICH_DEPTH})",
        "history_rich",
        _each(rich, partial(_keyset, fx, fx.rich_before_seq)),
    )


def build(
    peers: Sequence[Peer], fx: Fixtures, depths: Sequence[int], probe_rooms: int
) -> list[Workload]:
    top = fx.hot_last_seq
    chatstore = next(p for p in peers if isinstance(p, ChatstorePeer))
    workloads = [Workload("get_user", "get user", "read", _each(peers, partial(_get_user, fx)))]
    for depth in depths:
        keyset = partial(_keyset, fx, top - depth + 1)  # the page just older than `depth`
        offset = partial(_offset, fx, depth)
        workloads.append(
            Workload(
                f"history_keyset_{depth}",
                f"history page, keyset, depth {depth:,}",
                "history_keyset",
                _each(peers, keyset),
                depth,
            )
        )
        if depth == depths[0]:  # beside the newest plain page, the decorated one
            workloads.append(_rich_page(peers, fx))
        workloads.append(
            Workload(
                f"history_offset_{depth}",
                f"history page, offset, depth {depth:,}",
                "history_offset",
                _each(peers, offset),
                depth,
            )
        )

    def connect(task: int, n: int) -> Awaitable[object]:
        return chatstore.connect(_pick(fx.probes, n), f"bench-{task}")

    rooms = f"{probe_rooms} rooms"
    catch_up = partial(_catch_up, fx, top - CATCH_UP_BEHIND)
    return [
        *workloads,
        Workload(
            "catch_up", f"catch-up, {CATCH_UP_BEHIND} messages", "read", _each(peers, catch_up)
        ),
        Workload(
            "unread_counts", f"unread counts, {rooms}", "read", _each(peers, partial(_unread, fx))
        ),
        Workload("room_list", f"room list, {rooms}", "read", _each(peers, partial(_room_list, fx))),
        # chatstore only: a client connecting (its snapshot of rooms, unread and presence).
        Workload("connect", "connect (snapshot)", "chatstore", {"chatstore": connect}),
        Workload(
            "authenticate",
            "authenticate (bcrypt)",
            "auth",
            _each(peers, partial(_authenticate, fx)),
        ),
        Workload("mark_read", "mark read", "write", _mark_read(fx, peers)),
        Workload(
            "send_direct",
            "send, 2-member room",
            "write",
            _each(peers, partial(_send_direct, fx)),
        ),
        Workload(
            "send_big",
            f"send, {fx.hot_members:,}-member room",
            "write",
            _each(peers, partial(_send_big, fx)),
        ),
    ]
