#!/usr/bin/env python3
"""Rows larger than the device: kkmeans with the rows in host memory (--data-in host, every epoch
streamed to the device in chunks) and mapped from their file (--data-in file, streamed from the
mapping: the page cache here, the file is read just before) against the same fit with the rows on the
device, the bound the link sets, and flash-kmeans' out-of-core kmeans_largeN on the same data and
initial centroids.

    python3 scripts/bench/out_of_core.py --kkmeans build-cuda-HOPPER90/apps/kkmeans/kkmeans \\
        [--n 10000000 --d 128 --k 1024 --epochs 10] [--flash DIR] [--out out/ooc] [--results DIR]

The bound: bytes streamed per epoch ÷ the pinned host→device bandwidth that a probe measures in the
same run (PyTorch: 1 GiB page-locked, copied 10 times; skipped without torch). Each kkmeans fit runs
--epochs epochs from the same random rows (--tol 0, --no-stop-on-no-change); ms per epoch is the
median over the epochs after the first. --flash DIR: a copy of ../shared/peers (flash_peer.py beside
flash-kmeans/) runs `flash_peer.py --large` as the peer.

A cold file: the file's pages are dropped from the page cache (posix_fadvise DONTNEED), then read
once in 64 MiB blocks: the disk's sequential read rate. Then two one-epoch fits in file mode, the file
cached and then dropped: their difference is the time kkmeans' first pass (the data summary's) takes
to bring the rows from the disk, reported as a rate beside the disk's. Where dropping does not take
(a file system in memory), it says so.

A chunked file (--chunked-rows, default 2·10⁶; 0: none): those first rows copied into a dataset stored
in chunks of 8192 rows, which --data-in file reads a block at a time through HDF5 instead of mapping;
5 epochs, against the device fit of the same file.
"""
import argparse
import ctypes
import json
import mmap
import os
import re
import statistics
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402


def pinned_bandwidth(gib=1, repeats=10):
    """GB/s of host→device copies from page-locked memory (best of `repeats`), or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    src = torch.empty(gib << 28, dtype=torch.float32).pin_memory()
    dst = torch.empty_like(src, device="cuda")
    best = 0.0
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        dst.copy_(src, non_blocking=True)
        end.record()
        torch.cuda.synchronize()
        best = max(best, src.numel() * 4 / (start.elapsed_time(end) * 1e-3) / 1e9)
    return best


def drop_from_page_cache(path):
    """Drops the file's pages from the page cache; returns the fraction still cached (mincore)."""
    size = os.path.getsize(path)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    resident = (ctypes.c_ubyte * pages)()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        p = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        libc.mincore(ctypes.c_void_p(p), size, resident)
        libc.munmap(ctypes.c_void_p(p), size)
    finally:
        os.close(fd)
    return sum(b & 1 for b in resident) / pages


def read_rate(path):
    """GB/s of one sequential read of the whole file in 64 MiB blocks."""
    block = memoryview(bytearray(1 << 26))
    t0, size = time.perf_counter(), 0
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(block):
            size += n
    return size / (time.perf_counter() - t0) / 1e9


def cold_file(a, data, init, extra):
    """Lines on reading the rows from the disk: the disk's rate, and kkmeans' first pass's."""
    still = drop_from_page_cache(data)
    if still > 0.01:
        return [f"cold file: {100 * still:.0f}% of the file stays in memory after dropping it (a file system in "
                "memory?): not measured"], None
    disk = read_rate(data)
    warm = read_rate(data)
    lines = [f"cold file: one sequential read {disk:.2f} GB/s, from the page cache {warm:.2f} GB/s"]
    secs = []
    for cold in (False, True):
        if cold:
            drop_from_page_cache(data)
        _, r, cmd = fit(a.kkmeans, data, init, a.k, 1, a.out, "file", extra)
        secs.append(r["seconds"]["fit"])
    size = os.path.getsize(data)
    rate = size / (secs[1] - secs[0]) / 1e9 if secs[1] > secs[0] else float("inf")
    lines.append(f"cold file: a one-epoch fit {secs[1]:.2f} s against {secs[0]:.2f} s cached; the rows came "
                 f"from the disk at {rate:.2f} GB/s ({rate / disk:.2f}× the disk's sequential rate)")
    return lines, results.record("out-of-core", a.n, a.d, a.k, "kkmeans", "cold_file_GBps", rate, cmd,
                                 variant="data-in file, first pass from the disk", disk_GBps=disk)


def same_fit(out, a, b):
    """Whether fits out/fit_a.h5 and out/fit_b.h5 have the same labels and centroids."""
    with h5py.File(os.path.join(out, f"fit_{a}.h5")) as p, h5py.File(os.path.join(out, f"fit_{b}.h5")) as q:
        return bool((p["labels"][:] == q["labels"][:]).all() and (p["centroids"][:] == q["centroids"][:]).all())


def chunked_file(a, data, init, extra):
    """Lines on a chunked copy of the first --chunked-rows rows (HDF5 chunks of 8192 rows, not
    compressed), which --data-in file reads a block at a time instead of mapping."""
    n = min(a.chunked_rows, a.n)
    path = os.path.join(a.out, "ooc_chunked.h5")
    with h5py.File(data) as src, h5py.File(path, "w") as dst:
        ds = dst.create_dataset("points", shape=(n, a.d), dtype="f4", chunks=(8192, a.d))
        for r in range(0, n, 1 << 20):
            ds[r:min(n, r + (1 << 20))] = src["points"][r:min(n, r + (1 << 20))]
    ms, r, cmd = fit(a.kkmeans, path, init, a.k, 5, a.out, "file", extra)
    fit(a.kkmeans, path, init, a.k, 5, a.out, "device")
    same = same_fit(a.out, "device", "file")
    rate = r["memory"]["bytes_streamed_per_epoch"] / ms / 1e6
    line = (f"chunked file ({n} rows, chunks of 8192): --data-in file {ms:.2f} ms/epoch, the rows read at "
            f"{rate:.2f} GB/s; results identical to the device fit: {same}")
    return line, results.record("out-of-core", n, a.d, a.k, "kkmeans", "ms_per_epoch", ms, cmd,
                                variant="data-in file, chunked dataset read a block at a time",
                                identical_to_device=same, read_GBps=rate)


def fit(binary, data, init, k, epochs, out, where, extra=()):
    report = os.path.join(out, f"report_{where}.json")
    cmd = [binary, "fit", "--input", f"{data}:/points", "--k", str(k), "--init-from", f"{init}:/init",
           "--max-epochs", str(epochs), "--tol", "0", "--no-stop-on-no-change", "--data-in", where,
           "--report", report, "--output", os.path.join(out, f"fit_{where}.h5"), "--overwrite", "--quiet", *extra]
    subprocess.run(cmd, check=True)
    r = json.load(open(report))
    ms = [1e3 * e["seconds"] for e in r["history"]][1:] or [1e3 * r["history"][0]["seconds"]]
    return statistics.median(ms), r, " ".join(cmd)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kkmeans", required=True)
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--k", type=int, default=1024)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--device-memory", default="", help="--device-memory for the streamed fit (default: none)")
    ap.add_argument("--flash", help="folder with flash_peer.py and flash-kmeans/ (a copy of ../shared/peers)")
    ap.add_argument("--chunked-rows", type=int, default=2_000_000,
                    help="rows of the chunked copy read a block at a time (0: none)")
    ap.add_argument("--out", default="out/ooc")
    ap.add_argument("--results", default=results.DEFAULT_DIR, help="results folder ('' writes none)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    data, init = os.path.join(a.out, "ooc.h5"), os.path.join(a.out, "ooc_init.h5")
    subprocess.run([a.kkmeans, "generate", "-o", f"{data}:/points", "--n", str(a.n), "--d", str(a.d), "--k",
                    str(a.k), "--spread", "1.0", "--box", "10", "--seed", "11", "--overwrite", "--quiet"], check=True)
    with h5py.File(data, "r") as f:
        rows = np.sort(np.random.default_rng(5).choice(a.n, size=a.k, replace=False))
        c0 = f["points"][rows, :]
    with h5py.File(init, "w") as f:
        f["init"] = c0
    gbps = pinned_bandwidth()
    shape = f"N = {a.n}, d = {a.d}, k = {a.k}"
    lines, recs = [], []
    extra = ["--device-memory", a.device_memory] if a.device_memory else []
    ms_dev, r_dev, cmd_dev = fit(a.kkmeans, data, init, a.k, a.epochs, a.out, "device")
    read_s = r_dev["seconds"]["read"]
    lines.append(f"kkmeans, rows on the device ({r_dev['assign_path']}): {ms_dev:.2f} ms/epoch; read "
                 f"{read_s:.2f} s ({os.path.getsize(data) / read_s / 1e9:.1f} GB/s of the file)")
    recs.append(results.record("out-of-core", a.n, a.d, a.k, "kkmeans", "read_seconds", read_s, cmd_dev,
                               variant="data-in device"))
    recs.append(results.record("out-of-core", a.n, a.d, a.k, "kkmeans", "ms_per_epoch", ms_dev, cmd_dev,
                               variant="data-in device"))
    bound = None
    for where in ("host", "file"):
        if where == "file":
            with open(data, "rb") as f:  # into the page cache
                while f.read(1 << 26):
                    pass
        ms, r, cmd = fit(a.kkmeans, data, init, a.k, a.epochs, a.out, where, extra)
        same = same_fit(a.out, "device", where)
        streamed = r["memory"]["bytes_streamed_per_epoch"]
        if gbps and bound is None:
            bound = streamed / (gbps * 1e9) * 1e3
            lines.append(f"pinned host→device probe: {gbps:.1f} GB/s; bound {bound:.2f} ms/epoch")
            recs.append(results.record("out-of-core", a.n, a.d, a.k, "probe", "pinned_h2d_GBps", gbps,
                                       "torch pinned 1 GiB copy, best of 10"))
        against = f", {ms / bound:.2f}× the bound" if bound else ""
        lines.append(f"kkmeans, --data-in {where}: {ms:.2f} ms/epoch{against}; {streamed / 1e9:.2f} GB streamed per "
                     f"epoch in chunks of {r['memory']['stream_chunk_rows']} rows; results identical to the device "
                     f"fit: {same}")
        recs.append(results.record("out-of-core", a.n, a.d, a.k, "kkmeans", "ms_per_epoch", ms, cmd,
                                   variant=f"data-in {where}", identical_to_device=same))
        if where == "host":
            ms_host = ms
    cold_lines, cold_rec = cold_file(a, data, init, extra)
    lines += cold_lines
    recs += [cold_rec] if cold_rec else []
    if a.chunked_rows > 0:
        line, rec = chunked_file(a, data, init, extra)
        lines.append(line)
        recs.append(rec)
    if a.flash:
        cmd = [sys.executable, os.path.join(a.flash, "flash_peer.py"), f"{data}:/points", f"{init}:/init",
               str(a.epochs), "--large"]
        out = subprocess.run(cmd, capture_output=True, text=True)
        m = re.search(r"([\d.]+) ms/iter", out.stdout)
        if m:
            ms_flash = float(m.group(1))
            lines.append(f"flash-kmeans kmeans_largeN float32: {ms_flash:.2f} ms/iter "
                         f"(kkmeans host mode {ms_flash / ms_host:.2f}× as fast)")
            recs.append(results.record("out-of-core", a.n, a.d, a.k, "flash-kmeans", "ms_per_epoch", ms_flash,
                                       " ".join(cmd), variant="kmeans_largeN float32"))
        else:
            lines.append(f"flash-kmeans kmeans_largeN failed: {(out.stdout + out.stderr).strip()[-300:]}")
    print("\n".join(lines))
    if a.results:
        print("results:", results.write(recs, directory=a.results))


if __name__ == "__main__":
    main()
