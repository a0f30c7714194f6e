#!/usr/bin/python3
"""Plot the scaling runs of a results file (written by scripts/bench/scaling.py; schema in
docs/bench/results/README.md): per-epoch time split into assignment and allreduce (bars) and
parallel efficiency (lines), weak and strong.

    /usr/bin/python3 scripts/plot_scaling.py docs/bench/results/f1a2e73_h100x4.json docs/img/scaling.png
"""
import os
import sys

import matplotlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
import results  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    recs = [r for r in results.load([sys.argv[1]]) if r["workload"] == "scaling"]
    if not recs:
        sys.exit(f"plot_scaling.py: no scaling records in {sys.argv[1]}")
    runs = {}  # (scaling, gpus) -> {metric: value, ...}: one fit
    for r in recs:
        run = runs.setdefault((r["scaling"], r["gpus"]), {"scaling": r["scaling"], "gpus": r["gpus"],
                                                         "rows": r["shape"]["n"]})
        run[r["metric"]] = r["value"]
    runs = [r for r in runs.values() if "ms_per_epoch" in r]
    first = recs[0]
    gpu = first["_hardware"].split(" of ")[0].split(",")[0]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, kind in zip(axes[:2], ("weak", "strong")):
        rs = sorted((r for r in runs if r["scaling"] == kind), key=lambda r: r["gpus"])
        if not rs:
            ax.set_visible(False)
            continue
        xs = [str(r["gpus"]) for r in rs]
        assign = [r["assign_ms_per_epoch"] for r in rs]
        red = [r["allreduce_ms_per_epoch"] for r in rs]
        other = [max(0.0, r["ms_per_epoch"] - a - b) for r, a, b in zip(rs, assign, red)]
        ax.bar(xs, assign, label="assign + accumulate (rank 0)")
        ax.bar(xs, red, bottom=assign, label="allreduce (incl. waiting)")
        ax.bar(xs, other, bottom=[a + b for a, b in zip(assign, red)], label="update on host")
        ax.set_xlabel("GPUs (one MPI rank each)")
        ax.set_ylabel("ms per epoch (median)")
        ax.set_title(f"{kind}: {rs[0]['rows'] // rs[0]['gpus'] if kind == 'weak' else rs[0]['rows']:,} rows"
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
    fig.suptitle(f"kkmeans Lloyd, d = {first['shape']['d']}, k = {first['shape']['k']}, {gpu}, "
                 f"{first['_date']} (commit {first['_commit']})")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
