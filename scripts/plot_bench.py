#!/usr/bin/python3
"""Bar chart of ms per Lloyd iteration, kkmeans against its peers, from bench.json files.

    /usr/bin/python3 scripts/plot_bench.py [--only W1,W2,...] OUT.png docs/bench/gpu_*.json docs/bench/cpu_*.json

--only: plot just these workloads (e.g. when a file's other rows were not measured on the final code).
"""
import json
import sys

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    args = sys.argv[1:]
    only = None
    if args[:1] == ["--only"] and len(args) > 1:
        only = set(args[1].split(","))
        args = args[2:]
    if len(args) < 2:
        sys.exit(__doc__)
    rows = []
    for f in args[1:]:
        rows += [r for r in json.load(open(f)) if only is None or r["workload"] in only]
    if not rows:
        sys.exit("plot_bench.py: no rows to plot")
    workloads = sorted({r["workload"] for r in rows})
    cols = min(2, len(workloads))
    rows_ = (len(workloads) + cols - 1) // cols
    fig, axes = plt.subplots(rows_, cols, figsize=(6.5 * cols, 3.2 * rows_), dpi=110, squeeze=False)
    axes = list(axes.flat)
    for ax in axes[len(workloads):]:
        ax.axis("off")
    for ax, w in zip(axes, workloads):
        rs = [r for r in rows if r["workload"] == w]
        names = [r["contender"].replace(" (", "\n(") for r in rs]
        ms = [r["ms_median"] for r in rs]
        colors = ["tab:green" if n.startswith("kkmeans") else "tab:gray" for n in names]
        ax.barh(names, ms, color=colors)
        ax.set_xscale("log")
        ax.set_xlim(min(ms) / 4, max(ms) * 4)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.invert_yaxis()
        r0 = rs[0]
        ax.set_title(f"{w}: N={r0['N']:.0e}, d={r0['d']}, k={r0['k']}", fontsize=10)
        ax.set_xlabel("ms per iteration (log)")
        for y, (v, r) in enumerate(zip(ms, rs)):
            ax.text(v, y, f" {r['ratio_to_kkmeans']:.3g}×", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(args[0])
    print(f"wrote {args[0]}")


if __name__ == "__main__":
    main()
