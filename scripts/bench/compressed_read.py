#!/usr/bin/env python3
"""Rows streamed from a deflate-compressed dataset (--data-in file): the epoch time of a fit whose
rows are read a block at a time from a gzip (level 4, shuffle) copy in chunks of 8192 rows, with the
chunks inflated by 1 thread and by T threads (KKMEANS_COPY_THREADS; default: one per core, at most
16), against the same fit from the uncompressed file; optionally a second kkmeans binary (--baseline,
e.g. one built before the inflation ran on several threads) on the same files. A small k, so that
the read is most of an epoch.

    /usr/bin/python3 scripts/bench/compressed_read.py --kkmeans build/apps/kkmeans/kkmeans \\
        [--n 1000000 --d 128 --k 8 --epochs 4] [--threads T] [--baseline OTHER_KKMEANS] [--results DIR]

ms per epoch: the median of the epochs after the first. GB/s: the rows' bytes (uncompressed) per
epoch over that time. Each fit's labels and centroids are checked against the uncompressed file's.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402


def fit(binary, data, a, name, threads=None):
    report, out = os.path.join(a.out, f"report_{name}.json"), os.path.join(a.out, f"fit_{name}.h5")
    cmd = [binary, "fit", "--input", f"{data}:/points", "--k", str(a.k), "--init", "random", "--seed", "5",
           "--max-epochs", str(a.epochs), "--tol", "0", "--no-stop-on-no-change", "--data-in", "file",
           "--report", report, "--output", out, "--overwrite", "--quiet"]
    env = dict(os.environ, OMP_PROC_BIND="false")
    if threads:
        env["KKMEANS_COPY_THREADS"] = str(threads)
    subprocess.run(cmd, check=True, env=env)
    r = json.load(open(report))
    ms = statistics.median([1e3 * e["seconds"] for e in r["history"]][1:])
    prefix = f"KKMEANS_COPY_THREADS={threads} " if threads else ""
    return ms, r["memory"]["bytes_streamed_per_epoch"], prefix + " ".join(cmd), out


def same(p, q):
    with h5py.File(p) as x, h5py.File(q) as y:
        return bool((x["labels"][:] == y["labels"][:]).all() and (x["centroids"][:] == y["centroids"][:]).all())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kkmeans", required=True)
    ap.add_argument("--baseline", help="another kkmeans binary measured the same way")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0, help="the several threads (default: the program's own)")
    ap.add_argument("--out", default="out/compressed")
    ap.add_argument("--results", default=results.DEFAULT_DIR, help="results folder ('' writes none)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    plain, packed = os.path.join(a.out, "plain.h5"), os.path.join(a.out, "gzip.h5")
    subprocess.run([a.kkmeans, "generate", "-o", f"{plain}:/points", "--n", str(a.n), "--d", str(a.d), "--k", "64",
                    "--seed", "3", "--overwrite", "--quiet"], check=True)
    with h5py.File(plain) as src, h5py.File(packed, "w") as dst:
        ds = dst.create_dataset("points", shape=(a.n, a.d), dtype="f4", chunks=(8192, a.d), compression="gzip",
                                compression_opts=4, shuffle=True)
        for r in range(0, a.n, 1 << 18):
            ds[r:min(a.n, r + (1 << 18))] = src["points"][r:min(a.n, r + (1 << 18))]
    ratio = os.path.getsize(plain) / os.path.getsize(packed)
    ms_plain, _, _, ref = fit(a.kkmeans, plain, a, "plain")
    shape = f"N = {a.n}, d = {a.d}, k = {a.k}"
    print(f"{shape}; gzip copy {ratio:.2f}× smaller; uncompressed file (mapped): {ms_plain:.2f} ms/epoch")
    runs = [("kkmeans", a.kkmeans, 1), ("kkmeans", a.kkmeans, a.threads or None)]
    if a.baseline:
        runs.append(("baseline", a.baseline, None))
    recs = []
    for label, binary, threads in runs:
        ms, streamed, cmd, out = fit(binary, packed, a, f"{label}_{threads or 'default'}", threads)
        rate = streamed / ms / 1e6
        ok = same(ref, out)
        who = f"{label}, {threads} thread{'s' if threads != 1 else ''}" if threads else f"{label}, default threads"
        print(f"{who}: {ms:.2f} ms/epoch, {rate:.3f} GB/s of rows; results identical to the uncompressed fit: {ok}")
        recs.append(results.record("compressed-read", a.n, a.d, a.k, label, "ms_per_epoch", ms, cmd,
                                   variant=f"data-in file, gzip 4 + shuffle, chunks of 8192 rows, {who}",
                                   read_GBps=rate, identical_to_uncompressed=ok))
    if a.results:
        print("results:", results.write(recs, directory=a.results))


if __name__ == "__main__":
    main()
