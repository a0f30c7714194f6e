#!/usr/bin/env python3
"""What the Python package costs on top of the C++ library: the same fit (same data, seed and
options) through `kkmeans fit` and through `kkmeans.KMeans(...).fit(x)` on a numpy array: the time of
the fit less its initialisation, per epoch (the application's from its report: the library call;
Python's from its wall clock around fit()), and their ratio. Reading the file is not counted, nor (on a
GPU) copying the numpy rows to the device, its counterpart: the module times that copy. Where PyTorch
sees a GPU and the module is a CUDA build, the same fit of a CUDA tensor (no copy at all) is measured too.

    PYTHONPATH=build/python /usr/bin/python3 scripts/bench/python_overhead.py --kkmeans build/apps/kkmeans/kkmeans \\
        --workload W1 --out out/pyoverhead
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402
from bench import WORKLOADS  # noqa: E402
from tts import generate  # noqa: E402


def cuda_torch(kkmeans):
    """PyTorch, where it and this module can share a GPU; else None."""
    if kkmeans._kkmeans.host_rows_in_place:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kkmeans", required=True)
    ap.add_argument("--workload", default="W1")
    ap.add_argument("--out", default="out/pyoverhead")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each (the fastest is kept)")
    ap.add_argument("--results", default=results.DEFAULT_DIR, help="results directory; empty: do not write")
    ap.add_argument("--commit")
    ap.add_argument("--machine")
    a = ap.parse_args()
    import h5py
    import kkmeans

    n, d, k, _, _ = WORKLOADS[a.workload]
    os.makedirs(a.out, exist_ok=True)
    data = os.path.join(a.out, f"{a.workload}.h5")
    generate(a.kkmeans, data, n, d, k)
    with h5py.File(data, "r") as f:
        x = f["points"][...]
    env = dict(os.environ, OMP_PROC_BIND="false")
    inputs = {"float32 numpy array": x}
    torch = cuda_torch(kkmeans)
    if torch is not None:
        inputs["float32 CUDA tensor"] = torch.from_numpy(x).cuda()
    app, py = [], {variant: [] for variant in inputs}
    for _ in range(a.repeat):
        report = os.path.join(a.out, "report.json")
        subprocess.run([a.kkmeans, "fit", "--input", f"{data}:/points", "--k", str(k), "--quiet", "--report", report,
                        "--output", os.path.join(a.out, "fit.h5"), "--overwrite"], check=True, env=env)
        with open(report) as f:
            r = json.load(f)
        s = r["seconds"]  # "fit" is the library call: data checks, init, epochs, final assignment
        app.append(((s["fit"] - s["init"]) / len(r["history"]), len(r["history"]), r["inertia"]))
        for variant, rows in inputs.items():
            t = time.perf_counter()
            km = kkmeans.KMeans(k).fit(rows)
            wall = time.perf_counter() - t
            py[variant].append(((wall - km._seconds["init"] - km._seconds["upload"]) / km.n_iter_, km.n_iter_,
                                km.inertia_, km._seconds["upload"]))
    a_best = min(app)
    cmd_app = f"kkmeans fit --input {a.workload}.h5:/points --k {k}"
    recs = [results.record(a.workload, n, d, k, "kkmeans", "ms_per_epoch", a_best[0] * 1e3, cmd_app,
                           variant="application", iterations=a_best[1], inertia=a_best[2])]
    print(f"{a.workload}: kkmeans fit {a_best[0] * 1e3:.3f} ms/epoch ({a_best[1]} epochs)")
    for variant, runs in py.items():
        best = min(runs)
        print(f"{a.workload}: Python, {variant}: {best[0] * 1e3:.3f} ms/epoch ({best[1]} epochs; upload "
              f"{best[3] * 1e3:.2f} ms once, not counted): Python / C++ = {best[0] / a_best[0]:.3f}")
        cmd_py = (f"kkmeans.KMeans({k}).fit(x) (x: {variant}; wall clock less init and upload, per epoch; "
                  f"upload {best[3] * 1e3:.3f} ms)")
        recs.append(results.record(a.workload, n, d, k, "kkmeans", "ms_per_epoch", best[0] * 1e3, cmd_py,
                                   variant="python-" + ("cuda-tensor" if "CUDA" in variant else "numpy"), iterations=best[1], inertia=best[2]))
    if a.results:
        print("results:", results.write(recs, directory=a.results, commit=a.commit, machine=a.machine))


if __name__ == "__main__":
    main()
