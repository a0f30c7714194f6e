#!/usr/bin/python3
"""Plot inertia per epoch from a kkmeans output file.

    /usr/bin/python3 scripts/plot_history.py MODEL.h5 OUT.png
"""
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with h5py.File(sys.argv[1], "r") as m:
        epoch = m["history/epoch"][:]
        inertia = m["history/inertia"][:]
        changed = m["history/changed"][:]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    ax.plot(epoch, inertia, "o-", label="inertia")
    ax.set_xlabel("epoch")
    ax.set_ylabel("inertia (before the epoch's update)")
    ax2 = ax.twinx()
    ax2.semilogy(epoch, [max(c, 0.5) for c in changed], "s--", color="tab:orange", label="labels changed")
    ax2.set_ylabel("labels changed")
    ax.set_title(sys.argv[1])
    fig.tight_layout()
    fig.savefig(sys.argv[2])
    print(f"wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
