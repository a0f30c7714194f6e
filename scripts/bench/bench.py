#!/usr/bin/env python3
"""kkmeans against its peers on the same data and the same initial centroids (Lloyd, float32).

    python3 scripts/bench/bench.py --kkmeans build/apps/kkmeans/kkmeans --workload W4 --out out/bench
    python3 scripts/bench/bench.py --kkmeans build-cuda-HOPPER90/apps/kkmeans/kkmeans --workload W1 W2 --out $OUT

Builds nothing. For each workload: kkmeans generate writes the data, numpy picks k distinct rows as
the initial centroids (written next to the data), then every contender runs E Lloyd iterations from
those centroids, tol 0. Reported: ms per iteration (median, min, max over iterations after the first),
ratio to kkmeans, inertia after the run (each contender's own final assignment; kkmeans' from its report).
Peers, when importable: scikit-learn KMeans (lloyd), FAISS Kmeans (CPU), and on a GPU PyTorch: the
seed's batch loop (broadcast distances, argmin, index_add; batch 3000 and a large batch) and a
matmul Lloyd (‖x‖² − 2x·c + ‖c‖², TF32 off); with --flash DIR (a copy of ../shared/peers: flash_peer.py
beside flash-kmeans/), flash-kmeans in float32 (TF32) and float16. For kkmeans and flash-kmeans the
labels of the last assignment are checked against the nearest centroid in float64 on a sample of
rows ("not nearest": labels farther than the nearest by more than 1e-12 relative). Writes bench.csv and bench.json (this run's rows) to
--out, and adds its figures to the results file of the commit and machine,
docs/bench/results/<commit>_<machine>.json (schema: docs/bench/results/README.md; --results DIR
elsewhere, e.g. $OUT on the GPU machine; --commit when the binary was built from another commit or
the checkout has no .git).
"""
import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402

WORKLOADS = {
    # name: (N, d, k, iterations, where)
    "W1": (1_000_000, 4, 200, 20, "gpu"),
    "W2": (10_000_000, 128, 1024, 5, "gpu"),
    "W3": (1_000_000, 256, 20000, 25, "gpu"),
    "W4": (200_000, 16, 256, 10, "cpu"),
}
# Peers that would take minutes per iteration run fewer iterations (their time per iteration still
# compares, their inertia does not); 0: not run (the seed loop at k = 20000 materialises
# batch × k × d floats; scikit-learn needs ~10¹³ FLOP per iteration on the CPU).
PEER_ITERS = {"W3": {"torch matmul": 5, "torch seed": 0, "scikit-learn": 0}}


def stats(ms):
    body = ms[1:] if len(ms) > 1 else ms
    return statistics.median(body), min(body), max(body)


def inertia_np(x, c, chunk=65536):
    total = 0.0
    cc = (c.astype(np.float64) ** 2).sum(1)
    for s in range(0, len(x), chunk):
        xb = x[s:s + chunk].astype(np.float64)
        dist = (xb ** 2).sum(1)[:, None] - 2 * xb @ c.astype(np.float64).T + cc[None]
        total += np.maximum(dist.min(1), 0).sum()
    return total


def run_kkmeans(binary, data, init, k, iters, out, extra):
    report = os.path.join(out, "kkmeans_report.json")
    cmd = [binary, "fit", "--input", f"{data}:/points", "--k", str(k), "--init-from", f"{init}:/init",
           "--max-epochs", str(iters), "--tol", "0", "--no-stop-on-no-change", "--report", report, "--overwrite",
           "--quiet", "--output", os.path.join(out, "kkmeans_fit.h5")] + extra
    env = dict(os.environ, OMP_PROC_BIND=os.environ.get("OMP_PROC_BIND", "false"))
    subprocess.run(cmd, check=True, env=env)
    r = json.load(open(report))
    ms = [1e3 * e["seconds"] for e in r["history"]]
    # each epoch's assignment time (kernels until the sums are on the host)
    ms_assign = [1e3 * e.get("assign_seconds", 0) for e in r["history"]]
    return ms, r["inertia"], r.get("assign_path", ""), ms_assign


def labels_not_nearest(x, c, labels, sample=200_000, chunk=20_000):
    """How many of `sample` rows (drawn with a fixed seed) have a label whose centroid is farther, in
    float64, than the nearest by more than 1e-12 relative (exact ties are not counted); and the sample."""
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(x), size=min(sample, len(x)), replace=False))
    cd = np.asarray(c, dtype=np.float64)
    cn = (cd * cd).sum(1)
    wrong = 0
    for i in range(0, len(rows), chunk):
        xs = np.asarray(x[rows[i:i + chunk]], dtype=np.float64)
        dist = np.maximum((xs * xs).sum(1)[:, None] - 2 * xs @ cd.T + cn[None, :], 0)
        got = dist[np.arange(len(xs)), labels[rows[i:i + chunk]]]
        wrong += int((got > dist.min(1) * (1 + 1e-12)).sum())
    return wrong, len(rows)


def run_flash(folder, data, init, iters, fp16):
    """flash-kmeans (flash_peer.py in `folder`) on the same data and initial centroids: ms per iteration as
    [min, median, max] (it prints no more), no inertia, and its labels not the nearest (wrong, sampled)."""
    cmd = [sys.executable, os.path.join(folder, "flash_peer.py"), f"{data}:/points", f"{init}:/init", str(iters)]
    out = subprocess.run(cmd + (["--fp16"] if fp16 else []), check=True, capture_output=True, text=True).stdout
    m = re.search(r"([\d.]+) ms/iter \(min ([\d.]+) max ([\d.]+)\); labels not the nearest centroid: (\d+) of (\d+)",
                  out)
    if not m:
        raise RuntimeError(f"unexpected output of flash_peer.py: {out.strip()!r}")
    med, lo, hi = (float(v) for v in m.group(1, 2, 3))
    return [lo, med, hi], float("nan"), (int(m.group(4)), int(m.group(5)))


def run_sklearn(x, c0, iters):
    from sklearn.cluster import KMeans
    t = time.perf_counter()
    km = KMeans(n_clusters=len(c0), init=c0, n_init=1, max_iter=iters, tol=0, algorithm="lloyd").fit(x)
    total = 1e3 * (time.perf_counter() - t)
    per = total / max(1, km.n_iter_)
    return [per] * 2, float(km.inertia_)


def run_faiss(x, c0, iters):
    import faiss
    km = faiss.Kmeans(x.shape[1], len(c0), niter=iters, verbose=False, seed=1)
    km.max_points_per_centroid = x.shape[0]  # no subsampling: the same data as everyone
    t = time.perf_counter()
    km.train(x, init_centroids=c0)
    total = 1e3 * (time.perf_counter() - t)
    return [total / iters] * 2, inertia_np(x, km.centroids)


def run_torch(x, c0, iters, mode, batch=None):
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = "cuda"
    X = torch.from_numpy(x).to(dev)
    C = torch.from_numpy(c0).to(dev).clone()
    k, d = C.shape
    ms = []
    for _ in range(iters):
        torch.cuda.synchronize()
        t = time.perf_counter()
        sums = torch.zeros(k, d, device=dev)
        counts = torch.zeros(k, device=dev)
        if mode == "seed":
            for s in range(0, X.shape[0], batch):
                xb = X[s:s + batch]
                dist = ((xb[:, None, :] - C[None, :, :]) ** 2).sum(-1)
                lab = dist.argmin(1)
                sums.index_add_(0, lab, xb)
                counts.index_add_(0, lab, torch.ones_like(lab, dtype=torch.float32))
        else:
            cn = (C * C).sum(1)
            step = batch or X.shape[0]
            for s in range(0, X.shape[0], step):
                xb = X[s:s + step]
                dist = cn[None, :] - 2 * xb @ C.T
                lab = dist.argmin(1)
                sums.index_add_(0, lab, xb)
                counts.index_add_(0, lab, torch.ones_like(lab, dtype=torch.float32))
        nz = counts > 0
        C[nz] = sums[nz] / counts[nz, None]
        torch.cuda.synchronize()
        ms.append(1e3 * (time.perf_counter() - t))
    return ms, inertia_np(x, C.cpu().numpy())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kkmeans", required=True)
    ap.add_argument("--workload", nargs="+", default=["W4"])
    ap.add_argument("--out", default="out/bench")
    ap.add_argument("--iters", type=int, default=0, help="override the iteration count")
    ap.add_argument("--n", type=int, default=0, help="override N (e.g. a smaller W2)")
    ap.add_argument("--skip", nargs="*", default=[], help="contenders to skip")
    ap.add_argument("--kkmeans-args", default="", help="extra kkmeans fit flags")
    ap.add_argument("--flash", help="folder with flash_peer.py and flash-kmeans/ (a copy of ../shared/peers): "
                                    "run flash-kmeans fp32 and fp16 on the GPU workloads")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=FLAGS",
                    help="also run kkmeans with these extra fit flags, as contender 'kkmeans NAME' "
                         "(e.g. 'tf32x3=--assign gemm-tf32x3'; a failing variant is reported, not fatal)")
    ap.add_argument("--results", default=results.DEFAULT_DIR,
                    help="folder of the results files (default docs/bench/results; '' writes none)")
    ap.add_argument("--commit", help="commit the kkmeans binary was built from (default: this checkout's HEAD)")
    ap.add_argument("--machine", help="machine name in the results file's name (default: e.g. h200, h100x4, cpu2)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rows = []
    variant_of = {}  # (workload, contender) -> (tool, variant) for the results file
    for w in a.workload:
        n, d, k, iters, where = WORKLOADS[w]
        n = a.n or n
        iters = a.iters or iters
        data = os.path.join(a.out, f"{w}.h5")
        init = os.path.join(a.out, f"{w}_init.h5")
        subprocess.run([a.kkmeans, "generate", "-o", f"{data}:/points", "--n", str(n), "--d", str(d), "--k", str(k),
                        "--spread", "1.0", "--box", "10", "--seed", "11", "--overwrite", "--quiet"], check=True,
                       env=dict(os.environ, OMP_PROC_BIND="false"))
        with h5py.File(data, "r") as f:
            x = f["points"][:]
        rng = np.random.default_rng(5)
        c0 = x[np.sort(rng.choice(n, size=k, replace=False))].copy()
        with h5py.File(init, "w") as f:
            f["init"] = c0
        runs = []
        ms, inertia, path, ms_assign = run_kkmeans(a.kkmeans, data, init, k, iters, a.out, a.kkmeans_args.split())
        with h5py.File(os.path.join(a.out, "kkmeans_fit.h5"), "r") as f:
            wrong_of = {f"kkmeans ({path})": labels_not_nearest(x, f["centroids"][...], f["labels"][...])}
        runs.append((f"kkmeans ({path})", ms, inertia, iters))
        assign_of = {runs[-1][0]: ms_assign}
        variant_of[w, runs[-1][0]] = ("kkmeans", a.kkmeans_args)
        for v in a.variant:
            vname, _, flags = v.partition("=")
            try:
                ms_v, inertia_v, path_v, ms_assign_v = run_kkmeans(a.kkmeans, data, init, k, iters, a.out,
                                                                   a.kkmeans_args.split() + flags.split())
                runs.append((f"kkmeans {vname} ({path_v})", ms_v, inertia_v, iters))
                assign_of[runs[-1][0]] = ms_assign_v
                variant_of[w, runs[-1][0]] = ("kkmeans", " ".join(a.kkmeans_args.split() + flags.split()))
            except subprocess.CalledProcessError as e:
                print(f"{w} kkmeans {vname}: failed ({e})", file=sys.stderr)
        # (name, run(iterations), most iterations it runs)
        contenders = []
        if where == "cpu":
            contenders += [("scikit-learn", lambda it: run_sklearn(x, c0, it), iters),
                           ("faiss", lambda it: run_faiss(x, c0, it), iters)]
        else:
            matmul_batch = max(1, 2_000_000_000 // k) if n * k > 4_000_000_000 else None
            variant_of[w, "torch matmul"] = ("pytorch-matmul", f"batches of {matmul_batch} rows" if matmul_batch else "")
            contenders += [("torch matmul", lambda it: run_torch(x, c0, it, "matmul", batch=matmul_batch), iters),
                           ("torch seed b=3000", lambda it: run_torch(x, c0, it, "seed", 3000), 2),
                           ("torch seed b=100000", lambda it: run_torch(x, c0, it, "seed", 100000), 3),
                           ("scikit-learn", lambda it: run_sklearn(x, c0, it), 1 if n * k * d > 1e10 else 3)]
            if a.flash:
                for fp16 in (False, True):
                    name = "flash-kmeans " + ("fp16" if fp16 else "fp32")
                    variant_of[w, name] = ("flash-kmeans", "float16" if fp16 else "float32 (TF32)")
                    contenders.append((name, lambda it, h=fp16: run_flash(a.flash, data, init, it, h), iters))
        for name, fn, most in contenders:
            if any(s in name for s in a.skip):
                continue
            cap = next((v for p, v in PEER_ITERS.get(w, {}).items() if name.startswith(p)), None)
            if cap == 0:
                print(f"{w} {name}: not run (see PEER_ITERS)", file=sys.stderr)
                continue
            it = min(iters, most, cap or iters)
            try:
                ms_c, inert_c, *wrong = fn(it)
                runs.append((name, ms_c, inert_c, it))
                if wrong:
                    wrong_of[name] = wrong[0]
            except Exception as e:  # a missing peer is reported, not fatal
                print(f"{w} {name}: not run ({type(e).__name__}: {e})", file=sys.stderr)
        base = stats(runs[0][1])[0]
        for name, ms_c, inert_c, it in runs:
            med, lo, hi = stats(ms_c)
            rows.append({"workload": w, "N": n, "d": d, "k": k, "iterations": it, "contender": name,
                         "ms_median": med, "ms_min": lo, "ms_max": hi, "ratio_to_kkmeans": med / base,
                         "inertia": inert_c, "ms_total": sum(ms_c) if len(ms_c) == it else med * it,
                         "ms_each": ms_c if len(ms_c) == it else None,
                         "ms_assign_each": assign_of.get(name),
                         "labels_not_nearest": "{} of {}".format(*wrong_of[name]) if name in wrong_of else None})
    hdr = (f"{'workload':8} {'contender':24} {'ms/iter med':>12} {'min':>10} {'max':>10} {'× kkmeans':>10} "
           f"{'inertia':>16}  not nearest")
    print(hdr)
    for r in rows:
        print(f"{r['workload']:8} {r['contender']:24} {r['ms_median']:12.3f} {r['ms_min']:10.3f} {r['ms_max']:10.3f} "
              f"{r['ratio_to_kkmeans']:10.2f} {r['inertia']:16.9g}  {r['labels_not_nearest'] or ''}")
    with open(os.path.join(a.out, "bench.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(a.out, "bench.csv"), "w") as f:
        f.write(",".join(kk for kk in rows[0] if kk != "ms_each") + "\n")
        for r in rows:
            f.write(",".join(str(v) for kk, v in r.items() if kk != "ms_each") + "\n")
    if a.results:
        print("results:", write_results(a, rows, variant_of))


def tool_and_variant(w, name, variant_of):
    """('kkmeans', extra flags), ('pytorch-seed-loop', 'batch 3000'), ('scikit-learn', ''), …"""
    if (w, name) in variant_of:
        return variant_of[w, name]
    if name.startswith("torch seed b="):
        return "pytorch-seed-loop", "batch " + name.split("=", 1)[1]
    return {"faiss": "faiss"}.get(name, name), ""


def write_results(a, rows, variant_of):
    """This run's medians (with min, max, every iteration's time and the inertia) as records of the one
    results schema, added to RESULTS/<commit>_<machine>.json."""
    command = "python3 " + " ".join(shlex.quote(v) for v in sys.argv)
    recs = []
    for r in rows:
        tool, variant = tool_and_variant(r["workload"], r["contender"], variant_of)
        path = r["contender"].rsplit("(", 1)[-1].rstrip(")") if tool == "kkmeans" else None  # "kkmeans … (path)"
        recs.append(results.record(r["workload"], r["N"], r["d"], r["k"], tool, "ms_per_epoch", r["ms_median"],
                                   command, variant=variant, min=r["ms_min"], max=r["ms_max"],
                                   iterations=r["iterations"], inertia=r["inertia"], samples=r["ms_each"],
                                   assign_path=path, labels_not_nearest=r["labels_not_nearest"]))
    software = {"python": sys.version.split()[0], "numpy": np.__version__}
    try:
        with open(os.path.join(a.out, "kkmeans_report.json")) as f:
            report = json.load(f)
        software["kkmeans"] = f"{report.get('version', '')}, {report.get('backend', '')}"
    except (OSError, ValueError):
        pass
    for mod, key in (("torch", "pytorch"), ("sklearn", "scikit-learn"), ("faiss", "faiss")):
        if mod in sys.modules:
            software[key] = getattr(sys.modules[mod], "__version__", "")
    return results.write(recs, a.results, commit=a.commit, machine=a.machine, software=software)


if __name__ == "__main__":
    main()
