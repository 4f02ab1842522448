"""The benchmark harness end to end, in its quick mode (issue 9).

A smoke test of the harness, not of the figures: `python -m bench --quick` starts its own
servers, loads its small dataset, measures every workload at every concurrency and writes
its results file. Every workload must appear with calls that succeeded, and every entry must
carry the ratio fields the report and the plots read. SQLAlchemy and matplotlib are optional
here (the quick mode skips what is not installed, and says so).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from bench.modes import QUICK_MODE
from tests.servers import PROJECT

RATIO_FIELDS = {
    "p50_vs_raw",
    "throughput_vs_raw",
    "p50_vs_sqlalchemy",
    "throughput_vs_sqlalchemy",
}
CHATSTORE_ONLY = {"connect"}
EXPECTED = {
    "get_user",
    "authenticate",
    "send_direct",
    "send_big",
    "catch_up",
    "mark_read",
    "unread_counts",
    "room_list",
    "connect",
    "history_rich",
    *(f"history_{kind}_{depth}" for kind in ("keyset", "offset") for depth in QUICK_MODE.depths),
}
# The quick mode takes about 80 s on a 2-core machine with SQLAlchemy installed (the
# sections included); the bound leaves room for a busy machine.
RUN_TIMEOUT_SECONDS = 200


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench-results")
    finished = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-5000:]
    written = sorted(out.glob("*.json"))
    assert [path.name for path in written] == [written[0].name]
    assert written[0].name.endswith("-quick.json")
    results: dict[str, Any] = json.loads(written[0].read_text())
    return results, finished.stdout


def test_every_workload_at_every_concurrency(quick_run: tuple[dict[str, Any], str]) -> None:
    results, _ = quick_run
    measured = {(e["workload"], e["concurrency"]) for e in results["workloads"]}
    wanted = {(name, c) for name in EXPECTED for c in QUICK_MODE.plan.concurrencies}
    assert measured == wanted


def test_every_peer_call_succeeded(quick_run: tuple[dict[str, Any], str]) -> None:
    results, _ = quick_run
    for entry in results["workloads"]:
        peers = entry["results"]
        expected = {"chatstore"} if entry["workload"] in CHATSTORE_ONLY else {"chatstore", "raw"}
        assert expected <= set(peers), entry["workload"]
        for name, figures in peers.items():
            where = f"{entry['workload']} x{entry['concurrency']} {name}"
            assert figures["errors"] == 0, f"{where}: {figures['first_error']}"
            assert figures["count"] > 0, where
            assert figures["throughput"] > 0, where
            assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"], where
            assert figures["p99_ms"] <= figures["max_ms"], where


def test_ratio_fields(quick_run: tuple[dict[str, Any], str]) -> None:
    results, _ = quick_run
    for entry in results["workloads"]:
        ratios = entry["ratios"]
        assert set(ratios) == RATIO_FIELDS, entry["workload"]
        if "raw" in entry["results"]:
            assert ratios["p50_vs_raw"] > 0
            assert ratios["throughput_vs_raw"] > 0
        if "sqlalchemy" not in entry["results"]:
            assert ratios["p50_vs_sqlalchemy"] is None


def test_machine_server_and_ceiling_recorded(quick_run: tuple[dict[str, Any], str]) -> None:
    results, stdout = quick_run
    assert results["mode"] == "quick"
    assert results["machine"]["cpu_count"] >= 1
    assert results["machine"]["python"]
    assert results["postgres"]["server_version"]
    assert results["postgres"]["fsync"] == "off"  # the quick mode says it is not durable
    assert results["dataset"]["counts"]["messages"] == QUICK_MODE.spec.messages
    ceiling = results["pgbench"]
    assert [e["concurrency"] for e in ceiling] == list(QUICK_MODE.plan.concurrencies)
    assert all(e["throughput"] > 0 for e in ceiling)
    assert "| operation | tasks | chatstore p50 / p99 ms |" in stdout
    assert "fsync off" in stdout


def test_every_section_measured_without_errors(quick_run: tuple[dict[str, Any], str]) -> None:
    """Live delivery, the open-loop load, the hot room and the round-trip counts each ran,
    lost nothing and failed no call (the figures themselves are the full run's)."""
    results, stdout = quick_run
    for rate in results["realtime"]["rates"]:
        for peer, figures in rate["peers"].items():
            assert figures["delivered"] > 0, (rate["rate"], peer)
            assert (figures["lost"], figures["send_errors"]) == (0, 0), (rate["rate"], peer)
    for step in results["load"]["steps"]:
        for peer, figures in step["peers"].items():
            assert figures["all"]["count"] > 0, (step["rate"], peer)
            assert figures["errors"] == 0, (step["rate"], peer, figures["error_kinds"])
    for step in results["hot_room"]["steps"]:
        for peer, figures in step["results"].items():
            assert figures["count"] > 0, (step["writers"], peer)
            assert figures["errors"] == 0, (step["writers"], peer, figures["first_error"])
    assert results["hot_room"]["seqs"]["gap_free"] is True
    sends = results["round_trips"]["operations"]["send_direct"]
    assert (sends["statements"], sends["round_trips"]) == (1, 1)
    for name in ("realtime", "load", "hot_room", "round_trips"):
        assert f"\n{name}:\n" in stdout


def test_replies_and_mentions_cost_the_same_in_any_room(
    quick_run: tuple[dict[str, Any], str],
) -> None:
    """A thread reply, a reply mentioning a member and a message mentioning one: one round
    trip and the same rows written in the biggest room, whose thread every member follows,
    as in a 2-member room; each timed in both rooms without errors."""
    results, stdout = quick_run
    section = results["threads"]
    big, direct = section["rooms"]["big"], section["rooms"]["direct"]
    assert big["members"] == big["followers"] == QUICK_MODE.spec.max_members
    assert direct["members"] == direct["followers"] == 2
    assert set(section["sends"]) == {"reply", "reply_mention", "mention"}
    for name, send in section["sends"].items():
        assert send["same_in_both_rooms"] is True, name
        assert send["big"]["send_round_trips"] == send["direct"]["send_round_trips"] == 1, name
        assert send["big"]["by_table"] == send["direct"]["by_table"], name
        assert send["big"]["rows_written"] == send["direct"]["rows_written"] > 0, name
        for room, figures in send["timed"].items():
            assert figures["errors"] == 0, (name, room, figures["first_error"])
            assert figures["count"] > 0, (name, room)
    mentioned = section["sends"]["reply_mention"]["big"]["by_table"]
    assert mentioned["message_mentions"]["inserted"] == 1
    assert "\nthreads:\n" in stdout


def test_rich_history_page_is_one_round_trip(quick_run: tuple[dict[str, Any], str]) -> None:
    """The page with reactions, reply previews and thread summaries holds all three, and
    comes in one round trip, as the plain page does."""
    results, _ = quick_run
    page = results["threads"]["rich_page"]
    assert page["messages"] == 50
    for what in ("with_reactions", "with_reply_preview", "with_thread_summary", "thread_replies"):
        assert page[what] > 0, what
    assert page["reaction_keys"] > 1
    assert page["reactions"] > page["with_reactions"]  # several users per message
    assert page["statements"] + page["transaction_commands"] == 1  # a pool check is not the read's
    operations = results["round_trips"]["operations"]
    assert operations["history_rich"]["round_trips"] == operations["history_keyset"]["round_trips"]
    assert operations["history_rich"]["round_trips"] == 1
