#!/usr/bin/env python3
"""Anchor boxes for an object detector, from Python: k-means with the distance 1 − IoU of box shapes.

    PYTHONPATH=build/python python3 apps/python/examples/anchor_boxes.py [N] [seed]

Makes N boxes (x, y, w, h) around YOLOv3's nine COCO anchors, clusters them with metric "iou" (only the
width and height columns count: 2 and 3 here; for (w, h) rows pass iou_column=0), and prints the anchors
found next to the planted ones.
"""
import sys

import numpy as np

import kkmeans

PLANTED = [(10, 13), (16, 30), (33, 23), (30, 61), (62, 45), (59, 119), (116, 90), (156, 198), (373, 326)]


def iou(w1, h1, w2, h2):
    inter = min(w1, w2) * min(h1, h2)
    return inter / (w1 * h1 + w2 * h2 - inter)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 90000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    rng = np.random.default_rng(seed)
    wh = np.array(PLANTED, dtype=np.float64)[np.arange(n) % len(PLANTED)] * np.exp(rng.normal(0, 0.1, (n, 2)))
    boxes = np.c_[rng.uniform(0, 416, (n, 2)), wh].astype(np.float32)

    km = kkmeans.KMeans(n_clusters=9, metric="iou", n_init=3, random_state=seed).fit(boxes)
    found = sorted(km.cluster_centers_[:, 2:4].tolist(), key=lambda c: c[0] * c[1])
    print(f"anchor boxes: {n} boxes, k = {len(found)}, {km.n_iter_} epochs, mean 1 - IoU = {km.inertia_ / n:.4f}")
    print(f"  {'found (w x h)':18} {'planted (w x h)':18} IoU")
    for (w, h), (pw, ph) in zip(found, PLANTED):
        print(f"  {w:7.1f} x {h:<7.1f}   {pw:5.0f} x {ph:<5.0f}      {iou(w, h, pw, ph):.3f}")
    return 0 if len(found) == 9 and min(iou(*f, *p) for f, p in zip(found, PLANTED)) > 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
