"""The open-loop load's PNG: latency against offered load, one panel per operation.

p99 solid, p50 dashed, chatstore and raw psycopg in bench/plots.py's colours; the 50 ms knee
and the 5 ms target as dotted lines. Log scales: the curve's bend is what matters.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.loadmix import LABELS, MIX
from bench.plots import PEER_COLOURS


def draw_curves(section: dict[str, Any], stem: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    panels = ["all", *MIX]
    columns = 3
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False)
    steps: list[dict[str, Any]] = section["steps"]
    for axis, op in zip(axes.flat, panels, strict=False):
        for peer in ("chatstore", "raw"):
            colour = PEER_COLOURS[peer]
            for key, style in (("p99_ms", "-"), ("p50_ms", "--")):
                points = []
                for step in steps:
                    figures = step["peers"].get(peer)
                    if figures is None:
                        continue
                    f = figures["all"] if op == "all" else figures["ops"].get(op)
                    if f is not None and f.get(key) is not None:
                        points.append((step["rate"], f[key]))
                if points:
                    xs, ys = zip(*points, strict=True)
                    label = f"{peer} {key.split('_')[0]}"
                    axis.plot(xs, ys, style, marker="o", color=colour, label=label)
        axis.axhline(50.0, color="tab:red", linestyle=":", linewidth=1)
        axis.axhline(5.0, color="tab:green", linestyle=":", linewidth=1)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title("all operations" if op == "all" else LABELS[op])
        axis.set_xlabel("offered operations / s")
        axis.set_ylabel("latency, ms")
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    axes.flat[0].legend(fontsize="small")
    figure.suptitle(f"open-loop load, pool of {section['pool_max']}: p99 (solid), p50 (dashed)")
    figure.tight_layout()
    path = stem.with_name(f"{stem.name}.png")
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
