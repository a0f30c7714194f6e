#!/usr/bin/python3
"""Golden inertias for tests/unit/tstQuality.hpp: scikit-learn's KMeans on Fränti's sipu sets.

Run with Debian's python3 (python3-sklearn):
    /usr/bin/python3 scripts/golden/sipu_sklearn.py ../shared/data/sipu tests/golden/sipu_sklearn.json
Each set: k = number of ground-truth clusters, k-means++ init, N_INIT restarts, Lloyd, float64.
A best-of-N_INIT inertia is itself random (on A2 single runs range over ±10%), so each set is fitted
with random_state 0..N_STATES-1 and the test compares against the median of those best-of-N_INIT
inertias: kkmeans' best-of-N_INIT must be within 1% of scikit-learn's typical best-of-N_INIT.
"""
import datetime
import gzip
import json
import platform
import sys

import numpy as np
import sklearn
from sklearn.cluster import KMeans

SETS = ["s1", "s2", "s3", "s4", "a1", "a2", "a3", "unbalance", "birch1", "d31", "r15"]
N_INIT = 20
N_STATES = 5


def load(folder, name):
    with gzip.open(f"{folder}/{name}.data.gz", "rt") as f:
        x = np.loadtxt(f, dtype=np.float64)
    with gzip.open(f"{folder}/{name}.labels0.gz", "rt") as f:
        y = np.loadtxt(f, dtype=np.int64)
    return x, y


def main(folder, out):
    result = {
        "provenance": {
            "script": "scripts/golden/sipu_sklearn.py",
            "command": " ".join(["/usr/bin/python3"] + sys.argv),
            "date": datetime.date.today().isoformat(),
            "sklearn": sklearn.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "estimator": f"KMeans(n_clusters=k, init='k-means++', n_init={N_INIT}, algorithm='lloyd', random_state=s)"
                         f" for s in 0..{N_STATES - 1}; 'inertia' is the median over s",
        },
        "n_init": N_INIT,
        "sets": {},
    }
    for name in SETS:
        x, y = load(folder, name)
        k = len(np.unique(y))
        runs = [float(KMeans(n_clusters=k, init="k-means++", n_init=N_INIT, algorithm="lloyd",
                             random_state=s).fit(x).inertia_) for s in range(N_STATES)]
        result["sets"][name] = {"n": int(x.shape[0]), "d": int(x.shape[1]), "k": int(k),
                                "inertia": float(np.median(runs)), "best_of_n_init_by_state": runs}
        print(name, result["sets"][name], flush=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
