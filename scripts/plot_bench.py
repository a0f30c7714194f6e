#!/usr/bin/python3
"""Bar chart of ms per Lloyd iteration, kkmeans against its peers, from results files
(docs/bench/results/<commit>_<machine>.json, schema in docs/bench/results/README.md).

    /usr/bin/python3 scripts/plot_bench.py [--only W1,W2,...] OUT.png docs/bench/results/ac5cb9e_h200.json ...

Plots the ms_per_epoch records of the benchmark workloads (W1, W2, …; not the scaling runs), one
panel per workload; the ratio next to each bar is to the default kkmeans run (no variant) of the
same workload and file. --only: just these workloads.
"""
import os
import sys

import matplotlib
import matplotlib.ticker

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
import results  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def label(r):
    """'kkmeans --pipeline off\n(fused)', 'pytorch-seed-loop\nbatch 3000', …"""
    if r["tool"] == "kkmeans":
        return "kkmeans" + (f" {r['variant']}" if r.get("variant") else "") + f"\n({r.get('assign_path', '')})"
    return r["tool"] + (f"\n{r['variant']}" if r.get("variant") else "")


def main():
    args = sys.argv[1:]
    only = None
    if args[:1] == ["--only"] and len(args) > 1:
        only = set(args[1].split(","))
        args = args[2:]
    if len(args) < 2:
        sys.exit(__doc__)
    rows = [r for r in results.load(args[1:]) if r["metric"] == "ms_per_epoch" and r["workload"] != "scaling"
            and (only is None or r["workload"] in only)]
    if not rows:
        sys.exit("plot_bench.py: no rows to plot")
    workloads = sorted({r["workload"] for r in rows})
    cols = min(2, len(workloads))
    rows_ = (len(workloads) + cols - 1) // cols
    fig, axes = plt.subplots(rows_, cols, figsize=(6.5 * cols, 3.4 * rows_), dpi=110, squeeze=False)
    axes = list(axes.flat)
    for ax in axes[len(workloads):]:
        ax.axis("off")
    for ax, w in zip(axes, workloads):
        rs = [r for r in rows if r["workload"] == w]
        base = {r["_commit"] + r["_machine"]: r["value"] for r in rs if r["tool"] == "kkmeans" and not r["variant"]}
        ms = [r["value"] for r in rs]
        colors = ["tab:green" if r["tool"] == "kkmeans" else "tab:gray" for r in rs]
        ax.barh([label(r) for r in rs], ms, color=colors)
        ax.set_xscale("log")
        ax.set_xlim(min(ms) / 4, max(ms) * 4)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.tick_params(axis="y", labelsize=9)
        ax.invert_yaxis()
        s = rs[0]["shape"]
        where = ", ".join(sorted({f"{r['_machine']} @ {r['_commit']}" for r in rs}))
        ax.set_title(f"{w}: N={s['n']:.0e}, d={s['d']}, k={s['k']}, {s['dtype']} — {where}", fontsize=9)
        ax.set_xlabel("ms per iteration (log)")
        for y, r in enumerate(rs):
            b = base.get(r["_commit"] + r["_machine"])
            if b:
                ax.text(r["value"], y, f" {r['value'] / b:.3g}×", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(args[0])
    print(f"wrote {args[0]}")


if __name__ == "__main__":
    main()
