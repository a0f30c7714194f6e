#!/usr/bin/env bash
# k-means‖'s rounds and the fused checked path by k, on a GPU machine (offline, through the device
# tool): W2's data (N = 1e7, d = 128, 1024 blobs), the init of `--init kmeans||` with the rounds on
# the checked GEMM (auto) and the fused checked path, and 10 Lloyd epochs of `--assign fused-checked`
# and `gemm-checked` from random rows at k = 1000 and 1024 (median epoch, from the report);
# 10 epochs of each checked path where about 8 centroids share each of 128 blobs; W1's default init,
# twice.
# Needs the folder of scripts/carry-deps.sh. About 5 minutes on an H100; KPAR_PART=crowded runs only
# the crowded-centroid fits (about 1 minute after another script's build).
#   bash scripts/gpu-kpar.sh [ARCH]     (logs in ${OUT:-out/gpu-kpar})
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-common.sh" gpu-kpar "$@"
say "$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1)"
build_targets kkmeans
DATA=$(mktemp -d)
fit() {  # NAME ARGS...: one fit's init seconds, median epoch and inertia
  local name=$1
  shift
  "$K" fit --input "$DATA/W2.h5:/points" --quiet --output "$DATA/o.h5" --overwrite --report "$DATA/r.json" "$@" &&
    python3 -c "import json,sys,statistics as st; r=json.load(open(sys.argv[1])); h=r.get('history',[]); \
e=[x['seconds'] for x in h][1:] or [0]; print(f\"{sys.argv[2]:34s} init {r['seconds']['init']:7.3f} s  epoch {1e3*st.median(e):8.2f} ms  \
inertia {r['inertia']:.9g}  path {r.get('assign_path', r.get('path'))}\")" "$DATA/r.json" "$name" | tee -a "$OUT/summary.txt"
}
[[ ${KPAR_PART:-all} == crowded ]] || {
"$K" generate -o "$DATA/W2.h5:/points" --n 10000000 --d 128 --k 1024 --spread 1.0 --box 10 --seed 11 --quiet
say "generated"
fit "kmeans|| rounds auto" --k 1024 --init 'kmeans||' --max-epochs 1
"$K" generate -o "$DATA/W1.h5:/points" --n 1000000 --d 4 --k 200 --spread 1.0 --box 10 --seed 11 --quiet
for i in 1 2; do
  "$K" fit --input "$DATA/W1.h5:/points" --k 200 --quiet --output "$DATA/o.h5" --overwrite --report "$DATA/r.json" &&
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f\"W1 default init {r['seconds']['init']*1e3:.1f} ms, \
{r['epochs']} epochs, inertia {r['inertia']:.9g}\")" "$DATA/r.json" | tee -a "$OUT/summary.txt"
done
for k in 1024 1000; do
  for a in fused-checked gemm-checked; do fit "k $k $a" --k "$k" --init random --max-epochs 10 --tol 0 --assign "$a"; done
done
fit "kmeans|| rounds fused-checked" --k 1024 --init 'kmeans||' --max-epochs 1 --assign fused-checked
}
# Many centroids near each other: W2's shape with 128 blobs, k = 1024 (about 8 centroids a blob)
"$K" generate -o "$DATA/W2.h5:/points" --n 10000000 --d 128 --k 128 --spread 1.0 --box 10 --seed 11 --quiet --overwrite
for a in fused-checked gemm-checked; do fit "128 blobs, k 1024 $a" --k 1024 --init random --max-epochs 10 --tol 0 --assign "$a"; done
rm -rf "$DATA"
say "done: $OUT"
