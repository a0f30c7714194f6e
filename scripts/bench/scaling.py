#!/usr/bin/env python3
"""Weak and strong scaling of kkmeans fit over GPUs (one MPI rank per GPU), W2 by default.

    python3 scripts/bench/scaling.py --kkmeans build-cuda-HOPPER90/apps/kkmeans/kkmeans --gpus 1 2 4 8 --out $OUT

Builds nothing. Writes one data file of max(P) × n rows (kkmeans generate; every row is a function
of the seed and its index, so the first R rows are the same data whatever R) and k initial
centroids (distinct rows of the first n, numpy); then for every P in --gpus that the machine has:
  strong: mpirun -np P kkmeans fit --rows n           (the same n rows split over P GPUs)
  weak:   mpirun -np P kkmeans fit --rows P·n         (n rows on each GPU)
E Lloyd epochs from the same centroids, tol 0. Per epoch (epochs 2..E, median): the whole epoch,
rank 0's assignment (compute, until its sums are on the host) and its allreduce (which includes
waiting for the slowest rank). Efficiency: weak t(1)/t(P), strong t(1)/(P·t(P)). The strong runs
write their labels; each is compared with the 1-GPU labels (count of differing rows). While a fit
runs, nvidia-smi is sampled to record which GPUs held memory (one rank per GPU means P GPUs busy).
P larger than the GPU count is listed as not run. Writes scaling.json and scaling.csv (this run) to
--out, and adds the figures to docs/bench/results/<commit>_<machine>.json, the one results schema
(docs/bench/results/README.md; --results DIR elsewhere, --commit when the binary was built from
another commit or the checkout has no .git).
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402
from results import gpu_names  # noqa: E402


def gpu_count():
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=True).stdout
        return sum(1 for ln in out.splitlines() if ln.startswith("GPU "))
    except (OSError, subprocess.CalledProcessError):
        return 0


class GpuSampler:
    """Largest memory.used (MiB) per GPU while a fit runs."""

    def __init__(self):
        self.peak, self.stop = {}, threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=index,memory.used", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, timeout=10).stdout
                for ln in out.splitlines():
                    i, m = (int(v) for v in ln.split(","))
                    self.peak[i] = max(self.peak.get(i, 0), m)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
            self.stop.wait(0.5)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def fit(a, p, rows, init, tag, labels=None):
    report = os.path.join(a.out, f"report_{tag}.json")
    cmd = shlex.split(a.mpirun) + ["-np", str(p), "--bind-to", "none", a.kkmeans, "fit", "--input", f"{a.data}:/points", "--rows",
           str(rows), "--k", str(a.k), "--init-from", f"{init}:/init", "--max-epochs", str(a.epochs), "--tol", "0",
           "--no-stop-on-no-change", "--report", report, "--overwrite", "--quiet"] + a.kkmeans_args.split()
    if labels:
        cmd += ["--output", labels]
    with GpuSampler() as s:
        t = time.perf_counter()
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - t
    r = json.load(open(report))
    h = r["history"][1:] if len(r["history"]) > 1 else r["history"]
    med = lambda key: 1e3 * statistics.median(e[key] for e in h)
    busy = sorted(i for i, m in s.peak.items() if m > a.busy_mib)
    return {"scaling": tag.split("_")[0], "gpus": p, "rows": rows, "rows_per_gpu": rows // p,
            "epoch_ms": med("seconds"), "assign_ms": med("assign_seconds"), "allreduce_ms": med("allreduce_seconds"),
            "epoch_ms_min": 1e3 * min(e["seconds"] for e in h), "epoch_ms_max": 1e3 * max(e["seconds"] for e in h),
            "inertia": r["inertia"], "assign_path": r.get("assign_path", ""), "wall_s": wall,
            "read_s": r["seconds"]["read"], "gpus_busy": busy, "command": " ".join(cmd)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kkmeans", required=True)
    ap.add_argument("--mpirun", default="mpirun", help="launcher and its flags, e.g. 'mpirun --oversubscribe'")
    ap.add_argument("--gpus", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--n", type=int, default=10_000_000, help="rows per GPU (weak) and in total (strong)")
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--k", type=int, default=1024)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", help="data file (default: OUT/scaling.h5; reused when it has the rows)")
    ap.add_argument("--generate-ranks", type=int, default=os.cpu_count())
    ap.add_argument("--kkmeans-args", default="", help="extra kkmeans fit flags")
    ap.add_argument("--busy-mib", type=int, default=1024, help="a GPU above this memory.used counts as busy")
    ap.add_argument("--skip", nargs="*", default=[], choices=["strong", "weak"])
    ap.add_argument("--devices", type=int, help="devices on this machine (default: nvidia-smi's count; CPU tests)")
    ap.add_argument("--results", default=results.DEFAULT_DIR,
                    help="folder of the results files (default docs/bench/results; '' writes none)")
    ap.add_argument("--commit", help="commit the kkmeans binary was built from (default: this checkout's HEAD)")
    ap.add_argument("--machine", help="machine name in the results file's name (default: e.g. h200x2)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    a.data = a.data or os.path.join(a.out, "scaling.h5")
    have = a.devices if a.devices is not None else gpu_count()
    run_p = [p for p in a.gpus if p <= have]
    not_run = [p for p in a.gpus if p > have]
    rows_needed = a.n * (max(run_p) if "weak" not in a.skip and run_p else 1)
    need_gen = True
    if os.path.exists(a.data):
        with h5py.File(a.data) as f:
            need_gen = not ("points" in f and f["points"].shape[0] >= rows_needed and f["points"].shape[1] == a.d)
    if need_gen:
        t = time.perf_counter()
        subprocess.run(shlex.split(a.mpirun) + ["-np", str(a.generate_ranks), "--bind-to", "none", a.kkmeans, "generate", "-o",
                        f"{a.data}:/points", "--n", str(rows_needed), "--d", str(a.d), "--k", str(a.k), "--seed", "11",
                        "--overwrite", "--quiet"], check=True)
        print(f"generated {rows_needed} × {a.d} in {time.perf_counter() - t:.1f} s", flush=True)
    init = os.path.join(a.out, "scaling_init.h5")
    with h5py.File(a.data) as f, h5py.File(init, "w") as g:
        pick = np.sort(np.random.default_rng(5).choice(a.n, size=a.k, replace=False))
        g["init"] = f["points"][pick, :]

    rows = []
    base_labels = None
    for p in run_p:
        if "strong" not in a.skip:
            lab = os.path.join(a.out, f"labels_strong_{p}.h5")
            r = fit(a, p, a.n, init, f"strong_{p}", labels=lab)
            with h5py.File(lab) as f:
                labels = f["labels"][:]
            if base_labels is None:
                base_labels = labels
            r["labels_differing_from_1gpu"] = int((labels != base_labels).sum())
            os.remove(lab)
            rows.append(r)
            print(json.dumps({k: v for k, v in r.items() if k != "command"}), flush=True)
        if "weak" not in a.skip:
            r = fit(a, p, a.n * p, init, f"weak_{p}")
            rows.append(r)
            print(json.dumps({k: v for k, v in r.items() if k != "command"}), flush=True)
    for kind in ("strong", "weak"):
        one = [r for r in rows if r["scaling"] == kind and r["gpus"] == min(run_p)]
        for r in rows:
            if r["scaling"] != kind or not one:
                continue
            t1, p1 = one[0]["epoch_ms"], one[0]["gpus"]
            r["efficiency"] = t1 / r["epoch_ms"] if kind == "weak" else (t1 * p1) / (r["gpus"] * r["epoch_ms"])
    meta = {"date": time.strftime("%Y-%m-%d"), "gpus_on_machine": have, "not_run": not_run, "n": a.n, "d": a.d,
            "k": a.k, "epochs": a.epochs,
            "gpus": gpu_names()}
    json.dump({"meta": meta, "runs": rows}, open(os.path.join(a.out, "scaling.json"), "w"), indent=1)
    cols = ["scaling", "gpus", "rows", "rows_per_gpu", "epoch_ms", "assign_ms", "allreduce_ms", "efficiency",
            "labels_differing_from_1gpu", "gpus_busy", "inertia"]
    with open(os.path.join(a.out, "scaling.csv"), "w") as f:
        f.write(",".join(cols) + "\n")
        for r in rows:
            f.write(",".join(str(r.get(c, "")).replace(",", ";") for c in cols) + "\n")
    print(f"\n{'scaling':8} {'GPUs':>4} {'rows/GPU':>10} {'epoch ms':>9} {'assign':>8} {'allreduce':>9} "
          f"{'effic.':>7} {'labels≠':>8}")
    for r in rows:
        print(f"{r['scaling']:8} {r['gpus']:4d} {r['rows_per_gpu']:10d} {r['epoch_ms']:9.2f} {r['assign_ms']:8.2f} "
              f"{r['allreduce_ms']:9.2f} {r.get('efficiency', float('nan')):7.3f} "
              f"{str(r.get('labels_differing_from_1gpu', '')):>8}")
    for p in not_run:
        print(f"not run: {p} GPUs (this machine has {have})")
    if a.results and rows:
        print("results:", write_results(a, rows, not_run))


def write_results(a, rows, not_run):
    """Each fit's medians as records of the one results schema (workload 'scaling'; the shape's n is
    the fit's total rows), added to RESULTS/<commit>_<machine>.json."""
    command = "python3 " + " ".join(shlex.quote(v) for v in sys.argv)
    recs = []
    for r in rows:
        def add(metric, value, **extra):
            recs.append(results.record("scaling", r["rows"], a.d, a.k, "kkmeans", metric, value, command,
                                       variant=a.kkmeans_args, scaling=r["scaling"], gpus=r["gpus"], **extra))
        add("ms_per_epoch", r["epoch_ms"], min=r["epoch_ms_min"], max=r["epoch_ms_max"], iterations=a.epochs,
            inertia=r["inertia"], rows_per_gpu=r["rows_per_gpu"], assign_path=r["assign_path"],
            gpus_busy=r["gpus_busy"], fit_command=r["command"])
        add("assign_ms_per_epoch", r["assign_ms"])
        add("allreduce_ms_per_epoch", r["allreduce_ms"])
        if "efficiency" in r:
            add("efficiency", r["efficiency"])
        add("read_seconds", r["read_s"])
        if "labels_differing_from_1gpu" in r:
            add("labels_differing_from_1gpu", r["labels_differing_from_1gpu"])
    notes = f"not run: {not_run} GPUs (the machine has fewer)" if not_run else None
    return results.write(recs, a.results, commit=a.commit, machine=a.machine, notes=notes,
                         software={"python": sys.version.split()[0], "numpy": np.__version__})


if __name__ == "__main__":
    main()
