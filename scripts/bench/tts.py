#!/usr/bin/env python3
"""Time to solution with default settings: what a user sees from `kkmeans fit` on a fresh data set.

For each workload: generate the data (as bench.py does), run `kkmeans fit --input … --k K` with
defaults and with each `--init`, take the phases from its report (read, init, epochs, write, total),
and on CPU workloads run scikit-learn on the same data in the same run: `KMeans(n_clusters=K,
n_init=1).fit(x)` (its defaults otherwise: k-means++ init, 300 iterations, tol 1e-4) and its
`kmeans_plusplus(x, K)` alone. Reads of the data by scikit-learn are not timed (it gets an array).
Each run is repeated (--repeat) and the fastest kept: this machine's timings vary by tens of percent.

    python3 scripts/bench/tts.py --kkmeans build/apps/kkmeans/kkmeans --workload W4 --out out/tts
    python3 scripts/bench/tts.py --kkmeans build-cuda-HOPPER90/apps/kkmeans/kkmeans --workload W1 W2 --out $OUT
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

INITS = ("default", "kmeans++", "kmeans||")  # default: no --init flag (`auto`)


def generate(binary, data, n, d, k):
    subprocess.run([binary, "generate", "-o", f"{data}:/points", "--n", str(n), "--d", str(d), "--k", str(k),
                    "--spread", "1.0", "--box", "10", "--seed", "11", "--overwrite", "--quiet"], check=True,
                   env=dict(os.environ, OMP_PROC_BIND="false"))


def run_fit(binary, data, k, init, out, extra):
    """Phases (s) of a default fit, from its report."""
    report = os.path.join(out, "tts_report.json")
    flags = (["--init", init] if init != "default" else []) + extra
    subprocess.run([binary, "fit", "--input", f"{data}:/points", "--k", str(k), "--quiet", "--report", report,
                    "--output", os.path.join(out, "tts_fit.h5"), "--overwrite"] + flags, check=True,
                   env=dict(os.environ, OMP_PROC_BIND="false"))
    with open(report) as f:
        r = json.load(f)
    s = r["seconds"]
    return {"read": s["read"], "init": s["init"], "epochs": s["epochs"], "write": s["write"], "total": s["total"],
            "n_epochs": len(r["history"]), "inertia": r["inertia"]}, " ".join(
                ["kkmeans fit --input", os.path.basename(data) + ":/points", "--k", str(k)] + flags)


def run_sklearn(data, k):
    import h5py
    from sklearn.cluster import KMeans, kmeans_plusplus
    with h5py.File(data, "r") as f:
        x = f["points"][:]
    t = time.perf_counter()
    kmeans_plusplus(x, k, random_state=0)
    t_init = time.perf_counter() - t
    t = time.perf_counter()
    km = KMeans(n_clusters=k, n_init=1, random_state=0).fit(x)
    t_fit = time.perf_counter() - t
    return {"init": t_init, "total": t_fit, "n_epochs": int(km.n_iter_), "inertia": float(km.inertia_)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kkmeans", required=True)
    ap.add_argument("--workload", nargs="+", default=["W4"])
    ap.add_argument("--out", default="out/tts")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each (the fastest is kept)")
    ap.add_argument("--kkmeans-args", default="", help="extra kkmeans fit flags")
    ap.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn on CPU workloads")
    ap.add_argument("--results", default=results.DEFAULT_DIR,
                    help="results directory (docs/bench/results); empty: do not write")
    ap.add_argument("--commit", help="commit the kkmeans binary was built from (default: this checkout's HEAD)")
    ap.add_argument("--machine", help="machine name in the results file's name")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    recs, lines = [], []
    for w in a.workload:
        n, d, k, _, where = WORKLOADS[w]
        data = os.path.join(a.out, f"{w}.h5")
        generate(a.kkmeans, data, n, d, k)
        for init in INITS:
            fits = [run_fit(a.kkmeans, data, k, init, a.out, a.kkmeans_args.split()) for _ in range(a.repeat)]
            best, cmd = min(fits, key=lambda f: f[0]["total"])
            lines.append((w, f"kkmeans {init}", best))
            for phase in ("read", "init", "epochs", "write", "total"):
                recs.append(results.record(w, n, d, k, "kkmeans", f"seconds_{phase}", best[phase], cmd, variant=init,
                                           iterations=best["n_epochs"], inertia=best["inertia"]))
        if where == "cpu" and not a.no_sklearn:
            try:
                runs = [run_sklearn(data, k) for _ in range(a.repeat)]
                sk = min(runs, key=lambda r: r["total"])
                sk["init"] = min(r["init"] for r in runs)
                lines.append((w, "scikit-learn", sk))
                cmd = f"KMeans(n_clusters={k}, n_init=1).fit(x); kmeans_plusplus(x, {k})"
                for phase in ("init", "total"):
                    recs.append(results.record(w, n, d, k, "scikit-learn", f"seconds_{phase}", sk[phase], cmd,
                                               iterations=sk["n_epochs"], inertia=sk["inertia"]))
            except ImportError as e:
                print(f"{w} scikit-learn: not run ({e})", file=sys.stderr)
    print(f"{'workload':8} {'run':20} {'read':>8} {'init':>8} {'epochs':>8} {'write':>8} {'total':>8} {'#ep':>5} "
          f"{'inertia':>16}")
    for w, name, r in lines:
        cell = lambda key: f"{r[key]:8.3f}" if key in r else f"{'':>8}"  # noqa: E731
        print(f"{w:8} {name:20} {cell('read')} {cell('init')} {cell('epochs')} {cell('write')} {cell('total')} "
              f"{r['n_epochs']:5d} {r['inertia']:16.9g}")
    with open(os.path.join(a.out, "tts.json"), "w") as f:
        json.dump([{"workload": w, "run": name, **r} for w, name, r in lines], f, indent=1)
    if a.results:
        print("results:", results.write(recs, directory=a.results, commit=a.commit, machine=a.machine))


if __name__ == "__main__":
    main()
