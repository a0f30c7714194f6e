#!/usr/bin/python3
"""Plot scaling.json from scripts/bench/scaling.py: per-epoch time split into assignment and allreduce
(bars) and parallel efficiency (lines), weak and strong.

    /usr/bin/python3 scripts/plot_scaling.py docs/bench/scaling-h100x4.json docs/img/scaling.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src = json.load(open(sys.argv[1]))
    meta, runs = src["meta"], src["runs"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, kind in zip(axes[:2], ("weak", "strong")):
        rs = sorted((r for r in runs if r["scaling"] == kind), key=lambda r: r["gpus"])
        if not rs:
            ax.set_visible(False)
            continue
        xs = [str(r["gpus"]) for r in rs]
        assign = [r["assign_ms"] for r in rs]
        other = [max(0.0, r["epoch_ms"] - r["assign_ms"] - r["allreduce_ms"]) for r in rs]
        red = [r["allreduce_ms"] for r in rs]
        ax.bar(xs, assign, label="assign + accumulate (rank 0)")
        ax.bar(xs, red, bottom=assign, label="allreduce (incl. waiting)")
        ax.bar(xs, other, bottom=[a + b for a, b in zip(assign, red)], label="update on host")
        ax.set_xlabel("GPUs (one MPI rank each)")
        ax.set_ylabel("ms per epoch (median)")
        ax.set_title(f"{kind}: {rs[0]['rows_per_gpu'] if kind == 'weak' else rs[0]['rows']:,} rows"
                     + (" per GPU" if kind == "weak" else " in total"))
        ax.legend(fontsize=8)
    ax = axes[2]
    for kind, goal in (("weak", 0.9), ("strong", 0.8)):
        rs = sorted((r for r in runs if r["scaling"] == kind and "efficiency" in r), key=lambda r: r["gpus"])
        if rs:
            line, = ax.plot([r["gpus"] for r in rs], [r["efficiency"] for r in rs], "o-", label=f"{kind}")
            ax.axhline(goal, ls=":", color=line.get_color(), label=f"{kind} goal {goal:.0%}")
    ax.set_xscale("log", base=2)
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("GPUs")
    ax.set_ylabel("parallel efficiency")
    ax.legend(fontsize=8)
    gpu = meta.get("gpus", [""])[0] if meta.get("gpus") else ""
    fig.suptitle(f"kkmeans Lloyd, d = {meta['d']}, k = {meta['k']}, {gpu}, {meta['date']}"
                 + (f" — not run: {meta['not_run']} GPUs" if meta.get("not_run") else ""))
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
