#!/usr/bin/env python3
"""Per-kernel-class GPU time of one kkmeans run under Nsight Compute.

Reads the CSV of `ncu --metrics gpu__time_duration.sum --csv --kernel-name-base demangled <kkmeans ...>`
and prints, per class of kernel (the product's GEMM, the assignment scan, the open rows' second launch,
the column sums, ...), the total time, the number of launches and the min / median / max per launch.

    /usr/bin/python3 scripts/bench/ncu_summary.py LABEL run.csv
"""
import collections
import csv
import sys

# (substring of the demangled kernel name, class); the first match wins
CLASSES = (("ResolveOpenRows", "open_rows"), ("AssignKernel", "scan"), ("SortedColumnSums", "col_sums"),
           ("sorted_column_sums", "col_sort"), ("InertiaFromSums", "inertia"), ("ShiftRows", "shift"),
           ("gemm", "gemm"), ("xmma", "gemm"), ("cutlass", "gemm"), ("sm90", "gemm"))
UNIT_MS = {"nsecond": 1e-6, "ns": 1e-6, "usecond": 1e-3, "us": 1e-3, "msecond": 1.0, "ms": 1.0, "second": 1e3, "s": 1e3}


def kernel_class(name):
    for key, cls in CLASSES:
        if key in name:
            return cls
    return "other"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: ncu_summary.py LABEL run.csv")
    label, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        lines = [line for line in f if line.startswith('"')]  # ncu's own messages are not quoted
    per = collections.defaultdict(list)
    for r in csv.DictReader(lines):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        unit = r["Metric Unit"]
        if unit not in UNIT_MS:
            sys.exit(f"ncu_summary.py: unknown time unit '{unit}' in {path}")
        per[kernel_class(r["Kernel Name"])].append(float(r["Metric Value"].replace(",", "")) * UNIT_MS[unit])
    if not per:
        sys.exit(f"ncu_summary.py: no gpu__time_duration.sum rows in {path}")
    total = sum(sum(v) for v in per.values())
    print(f"== {label}: total {total:.3f} ms over {sum(len(v) for v in per.values())} kernels")
    for cls in sorted(per, key=lambda c: -sum(per[c])):
        v = sorted(per[cls])
        print(f"   {cls:10s} {sum(v):8.3f} ms  n={len(v):3d}  per launch min {v[0]:.3f} med {v[len(v) // 2]:.3f} max {v[-1]:.3f}")


if __name__ == "__main__":
    main()
