#!/usr/bin/python3
"""Plot clustered data coloured by label, with the centroids.

    /usr/bin/python3 scripts/plot_clusters.py MODEL.h5 DATA.h5:/points OUT.png [--max-points 50000]

For d > 2 the points and centroids are projected on the data's first two principal axes.
"""
import argparse
import sys

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("data", help="FILE.h5:/DATASET")
    ap.add_argument("out")
    ap.add_argument("--max-points", type=int, default=50000)
    a = ap.parse_args()
    if ":/" not in a.data:
        sys.exit("plot_clusters: data must be FILE.h5:/DATASET")
    fname, dset = a.data.rsplit(":/", 1)
    with h5py.File(a.model, "r") as m:
        c = m["centroids"][:].astype(np.float64)
        labels = m["labels"][:]
        metric = m.attrs.get("metric", b"?")
        metric = metric.decode() if isinstance(metric, bytes) else str(metric)
    with h5py.File(fname, "r") as f:
        x = f[dset]
        n = x.shape[0]
        if labels.shape[0] != n:
            sys.exit(f"plot_clusters: the model labels {labels.shape[0]} rows but the data has {n}")
        step = max(1, n // a.max_points)
        xs = x[::step].astype(np.float64)
        ls = labels[::step]
    title = f"{n} points, k = {c.shape[0]}, metric {metric}"
    if xs.shape[1] > 2:
        mu = xs.mean(axis=0)
        _, _, vt = np.linalg.svd(xs - mu, full_matrices=False)
        xs = (xs - mu) @ vt[:2].T
        c = (c - mu) @ vt[:2].T
        title += " (first two principal axes)"
    elif xs.shape[1] == 1:
        xs = np.c_[xs, np.zeros(len(xs))]
        c = np.c_[c, np.zeros(len(c))]
    fig, ax = plt.subplots(figsize=(7, 6), dpi=110)
    ax.scatter(xs[:, 0], xs[:, 1], c=ls, s=1.5, cmap="tab20", alpha=0.6, linewidths=0)
    ax.scatter(c[:, 0], c[:, 1], c="black", marker="x", s=60, linewidths=2, label="centroids")
    ax.set_title(title)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
