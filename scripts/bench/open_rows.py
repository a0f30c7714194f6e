#!/usr/bin/env python3
"""How many rows the checked GEMM path leaves open on a dataset (GPU machine, PyTorch).

    python3 scripts/bench/open_rows.py DATA.h5 INIT.h5      (datasets /points and /init)

Emulates CheckedBound (src/kkmeans/kernels/assign/KKM_CheckedBound.hpp) for the given centroids:
rows and centroids shifted by the column means and rounded to TF32, the product in float64 of the
rounded values, a_j = ‖c'_j‖² − 2x'·c'_j, E = u‖x'‖ max‖c'‖ + a(‖x'‖ + max‖c'‖)², and counts per row
the centroids with a_j ≤ min a + 2E: one is decided by the product, two or more are open (measured
exactly by the second launch), more than four are rescanned from the product. An estimate (the
library's accumulation order differs), for planning; the app's labels never depend on it.
"""
import h5py, numpy as np, torch, sys
x = torch.from_numpy(h5py.File(sys.argv[1])["points"][:]).cuda()
c = torch.from_numpy(h5py.File(sys.argv[2])["init"][:]).cuda()
d = x.shape[1]
def tf32(t):
    b = t.contiguous().view(torch.int32)
    b = (b + 0x1000 + ((b >> 13) & 1) - 1) & ~0x1FFF  # round to nearest even, 10 mantissa bits
    return b.view(torch.float32)
mu = x.double().mean(0).float()
xs, cs = x - mu, c - mu
xn = xs.double().norm(dim=1); cn2 = (cs.double() ** 2).sum(1).float(); cm = cs.double().norm(dim=1).max()
rho, eps = 2.0 ** -11, 2.0 ** -24
u = 2 * (2 * rho + rho * rho + 4 * (d + 2) * eps); a = (4 * d + 16) * eps
xr, cr = tf32(xs).double(), tf32(cs).double()
hist = torch.zeros(6, dtype=torch.int64)
tot = 0
for s in range(0, x.shape[0], 100000):
    p = (xr[s:s+100000] @ cr.T).float()
    v = cn2[None, :] - 2 * p
    v1 = v.min(1).values.double()
    E = u * xn[s:s+100000] * cm + a * (xn[s:s+100000] + cm) ** 2
    thr = (v1 + 2 * E).float()
    cnt = (v <= thr[:, None]).sum(1)
    for i, lo in enumerate([1, 2, 3, 5, 9, 17]):
        hist[i] += ((cnt >= lo)).sum().item()
    tot += len(cnt)
print(f"rows {tot}: candidates >=1 {hist[0]}, >=2 (open) {hist[1]} ({100*hist[1]/tot:.2f}%), >=3 {hist[2]} ({100*hist[2]/tot:.2f}%), >=5 {hist[3]}, >=9 {hist[4]}, >=17 {hist[5]}; E median of the last 10^5 rows {float(E.median()):.3g}")
