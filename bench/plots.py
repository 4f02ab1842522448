"""PNG plots of a results file (matplotlib, from the `bench` extra).

Two figures: history-page latency against depth, keyset against offset, per peer; and p50
latency per operation for chatstore, raw psycopg and SQLAlchemy at one concurrency.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

PEER_COLOURS = {"chatstore": "tab:blue", "raw": "tab:grey", "sqlalchemy": "tab:orange"}


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def draw(results: dict[str, Any], json_path: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    entries: list[dict[str, Any]] = results["workloads"]
    concurrencies = sorted({e["concurrency"] for e in entries})
    written = []

    figure, _ = plt.subplots(1, len(concurrencies), figsize=(5 * len(concurrencies), 4))
    for axis, concurrency in zip(list(figure.axes), concurrencies, strict=True):
        for group, style in (("history_keyset", "-"), ("history_offset", "--")):
            rows = [e for e in entries if e["group"] == group and e["concurrency"] == concurrency]
            rows.sort(key=lambda e: e["depth"])
            for peer, colour in PEER_COLOURS.items():
                points = [
                    (e["depth"], e["results"][peer]["p50_ms"]) for e in rows if peer in e["results"]
                ]
                if points:
                    xs, ys = zip(*points, strict=True)
                    label = f"{peer}, {group.split('_')[1]}"
                    axis.plot(xs, ys, style, marker="o", color=colour, label=label)
        depths = sorted({e["depth"] for e in entries if e["depth"] is not None})
        # Linear up to the first depth, logarithmic beyond: depth 0 and 100,000 both show.
        axis.set_xscale("symlog", linthresh=min((d for d in depths if d), default=1))
        axis.set_xticks(depths, [f"{d:,}" for d in depths])
        axis.minorticks_off()
        axis.set_yscale("log")
        axis.set_title(f"history page p50, {concurrency} task(s)")
        axis.set_xlabel("depth (messages from the newest)")
        axis.set_ylabel("ms")
        axis.legend(fontsize="small")
    figure.tight_layout()
    written.append(_save(figure, json_path, "depth"))
    plt.close(figure)

    concurrency = 8 if 8 in concurrencies else concurrencies[-1]
    bars = [
        e for e in entries if e["concurrency"] == concurrency and e["group"] != "history_offset"
    ]
    figure, axis = plt.subplots(figsize=(10, 0.45 * len(bars) + 1.5))
    height = 0.8 / len(PEER_COLOURS)
    for index, (peer, colour) in enumerate(PEER_COLOURS.items()):
        positions = [row + index * height for row in range(len(bars))]
        values = [e["results"].get(peer, {}).get("p50_ms") or 0 for e in bars]
        axis.barh(positions, values, height=height, color=colour, label=peer)
    axis.set_yticks([row + height for row in range(len(bars))], [e["label"] for e in bars])
    axis.invert_yaxis()
    axis.set_xscale("log")
    axis.set_xlabel(f"p50 latency, ms ({concurrency} tasks)")
    axis.legend()
    figure.tight_layout()
    written.append(_save(figure, json_path, "peers"))
    plt.close(figure)
    return written


def _save(figure: Any, json_path: Path, name: str) -> Path:
    path = json_path.with_name(f"{json_path.stem}-{name}.png")
    figure.savefig(path, dpi=110)
    return path
