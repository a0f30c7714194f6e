#!/usr/bin/env python3
"""Two builds of kkmeans on the same data: are their results the same, and their times within each
other's spread? (e.g. the Kokkos 3.4 build against the Kokkos 4 one.)

For each workload: generate the data once (as bench.py does), then run a default `kkmeans fit` of each
build `--repeat` times, alternating builds so that both see the same machine state; report each
build's fastest and slowest phases and whether the two builds' centroids and labels are identical.

    python3 scripts/bench/builds.py --build kokkos-3.4.01=build-cuda-HOPPER90/apps/kkmeans/kkmeans \\
        --build kokkos-4.6.01=build-k4-cuda/apps/kkmeans/kkmeans --workload W1 W2 --out $OUT/builds
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402
from bench import WORKLOADS  # noqa: E402
from tts import generate, run_fit  # noqa: E402

PHASES = ("read", "init", "epochs", "write", "total")


def same_model(a, b):
    import h5py
    import numpy as np
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        return all(np.array_equal(fa[name][...], fb[name][...]) for name in ("centroids", "labels"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", action="append", required=True, help="LABEL=path/to/kkmeans (two or more)")
    ap.add_argument("--workload", nargs="+", default=["W1"])
    ap.add_argument("--out", default="out/builds")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--init", default="auto", help="the fits' --init (default: the application's default)")
    ap.add_argument("--fit-args", default="", help="more flags for every fit, e.g. \"--max-epochs 20 --tol 0\"")
    ap.add_argument("--results", default=results.DEFAULT_DIR, help="results directory; empty: do not write")
    ap.add_argument("--commit")
    ap.add_argument("--machine")
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.build]
    os.makedirs(a.out, exist_ok=True)
    recs, same = [], True
    print(f"{'workload':8} {'build':16} " + " ".join(f"{p:>15}" for p in PHASES) + f" {'#ep':>4} {'inertia':>16}")
    for w in a.workload:
        n, d, k, _, _ = WORKLOADS[w]
        data = os.path.join(a.out, f"{w}.h5")
        generate(builds[0][1], data, n, d, k)
        runs = {label: [] for label, _ in builds}
        for _ in range(a.repeat):
            for label, binary in builds:
                folder = os.path.join(a.out, label)
                os.makedirs(folder, exist_ok=True)
                runs[label].append(run_fit(binary, data, k, a.init, folder, a.fit_args.split())[0])
        for label, _ in builds:
            fits = runs[label]
            cells = " ".join(f"{min(f[p] for f in fits):7.3f}-{max(f[p] for f in fits):<7.3f}" for p in PHASES)
            print(f"{w:8} {label:16} {cells} {fits[0]['n_epochs']:4d} {fits[0]['inertia']:16.9g}")
            cmd = f"kkmeans fit --input {w}.h5:/points --k {k} --init {a.init} {a.fit_args} (build {label})".replace("  ", " ")
            for p in PHASES:
                recs.append(results.record(w, n, d, k, "kkmeans", f"seconds_{p}", min(f[p] for f in fits), cmd,
                                           variant=label, iterations=fits[0]["n_epochs"], inertia=fits[0]["inertia"],
                                           max=max(f[p] for f in fits)))
        models = [os.path.join(a.out, label, "tts_fit.h5") for label, _ in builds]
        identical = all(same_model(models[0], m) for m in models[1:])
        same &= identical
        print(f"{w:8} centroids and labels {'identical' if identical else 'DIFFER'} across builds")
    if a.results:
        print("results:", results.write(recs, directory=a.results, commit=a.commit, machine=a.machine))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
