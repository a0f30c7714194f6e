#!/usr/bin/python3
"""Box data (x, y, w, h) around YOLOv3's nine COCO anchors, for inputs/anchor_boxes.toml.

    /usr/bin/python3 scripts/make_boxes.py out/anchors/boxes.h5 [N] [seed]
"""
import os
import sys

import h5py
import numpy as np

ANCHORS = [(10, 13), (16, 30), (33, 23), (30, 61), (62, 45), (59, 119), (116, 90), (156, 198), (373, 326)]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 90000
    rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    a = np.array(ANCHORS, dtype=np.float64)[np.arange(n) % len(ANCHORS)]
    wh = a * np.exp(rng.normal(0, 0.1, size=(n, 2)))
    xy = rng.uniform(0, 416, size=(n, 2))
    os.makedirs(os.path.dirname(sys.argv[1]) or ".", exist_ok=True)
    with h5py.File(sys.argv[1], "w") as f:
        f["boxes"] = np.c_[xy, wh].astype(np.float32)
    print(f"wrote {n} boxes to {sys.argv[1]}:/boxes")


if __name__ == "__main__":
    main()
