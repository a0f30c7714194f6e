"""kkmeans.KMeans(comm=...) over mpi4py: each rank passes its own rows (an uneven split, the last rank
possibly empty); the fit must equal, bit for bit, the one-process fit of all rows on every rank.

    mpirun -np P python3 tests/python/mpi_fit.py
"""
import sys

import numpy as np
from mpi4py import MPI

from kkmeans import KMeans

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
rng = np.random.default_rng(0)
x = np.ascontiguousarray((rng.uniform(-10, 10, (6, 3))[np.arange(3001) % 6] + rng.normal(0, 1, (3001, 3))),
                         dtype=np.float32)
w = rng.uniform(0.5, 2, 3001)
# Uneven: rank r takes a share growing with r; the last of 3+ ranks gets nothing.
cuts = np.r_[0, np.cumsum([r + 1 for r in range(size)])] / (size * (size + 1) / 2)
cuts = (cuts * len(x)).astype(int)
if size >= 3:
    cuts[-2] = cuts[-1] = len(x)
lo, hi = cuts[rank], cuts[rank + 1]

failures = []
for init in ("kmeans++", "kmeans||"):
    whole = KMeans(6, init=init, random_state=5, assign="fused").fit(x, sample_weight=w)
    part = KMeans(6, init=init, random_state=5, assign="fused", comm=comm).fit(x[lo:hi], sample_weight=w[lo:hi])
    if not np.array_equal(whole.cluster_centers_, part.cluster_centers_):
        failures.append(f"{init}: centroids differ")
    if not np.array_equal(whole.labels_[lo:hi], part.labels_):
        failures.append(f"{init}: labels differ")
    if whole.n_iter_ != part.n_iter_:
        failures.append(f"{init}: {whole.n_iter_} vs {part.n_iter_} epochs")
# A rank whose input is refused (NaN here) makes every rank raise, instead of leaving the others
# waiting in the collective fit.
bad = x[lo:hi].copy()
if rank == 0:
    bad[0, 0] = np.nan
try:
    KMeans(6, comm=comm).fit(bad)
    failures.append("a NaN on rank 0 was accepted")
except ValueError as e:
    if rank > 0 and "rank 0 refused its input" not in str(e):
        failures.append(f"unexpected error: {e}")
# Ranks passing different parameters are refused on every rank, naming the parameter.
try:
    KMeans(6 + rank, comm=comm).fit(x[lo:hi])
    if size > 1:
        failures.append("ranks with different n_clusters were accepted")
except ValueError as e:
    if size == 1 or "ranks disagree on the fit's parameters: k ranges from 6 to" not in str(e):
        failures.append(f"unexpected error: {e}")
everyone = comm.allgather(failures)
if rank == 0:
    bad = [f"rank {r}: {f}" for r, fs in enumerate(everyone) for f in fs]
    print("\n".join(bad) if bad else f"np {size}: distributed fits identical to the one-process fit")
sys.exit(1 if any(everyone) else 0)
