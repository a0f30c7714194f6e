#!/usr/bin/env bash
# The fused checked path on a GPU machine (offline, through the device tool), in one call, the most
# telling first (a call cut short at its limit still brings back what ran):
#   1. the tensor-core kernels alone (scripts/bench/fused_tf32/kernel_bench.cu: mma.sync and, on
#      Hopper, the warp-group kernel — ms per launch and each checked row's list against float64) on
#      small shapes with every edge (d = 4 … 256, partial tiles, several row blocks per block), then
#      N = 1e7, d = 128, k = 1024 and N = 1e6, d = 256, k = 20000;
#   2. the CUDA build with the warp-group kernel on (-DKKMEANS_ENABLE_WGMMA=ON) and its unit suite;
#   3. bench.py on W2 with fused-checked, gemm-checked and 16-bit rows (--precision half: the fused
#      kernel for now) beside flash-kmeans (results file in $OUT/results), and W3 at N = 2e5 with both
#      paths (a shorter run of the same shape);
#   4. compute-sanitizer memcheck and racecheck of the warp-group kernel (both consumer shapes).
# Needs the folder of scripts/carry-deps.sh, with its copy of ../shared/peers. About 8 minutes on an
# H200.
#   bash scripts/gpu-fused.sh [ARCH]     (default HOPPER90; logs and results in ${OUT:-out/gpu-fused})
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-common.sh" gpu-fused "$@"
say "$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1)"
DATA=$(mktemp -d)
KB=$DATA/kb
nvcc -std=c++17 -O3 -gencode=arch=compute_90a,code=sm_90a -Iscripts/bench/fused_tf32 -Isrc \
  scripts/bench/fused_tf32/kernel_bench.cu -x cu src/kkmeans/kernels/assign/tpls/KKM_FusedWgmma.cpp -o "$KB" ||
  exit 1
for shape in "300 4 5 2 300" "1000 32 200 2 1000" "5000 64 1000 2 2000" "20000 100 300 2 2000" \
  "70000 128 1024 2 1500" "9000 200 300 2 1000" "20000 256 1000 2 1000" "10000000 128 1024 10 300" \
  "1000000 256 20000 3 100"; do
  # shellcheck disable=SC2086
  timeout 150 "$KB" $shape both 2>&1 | tee -a "$OUT/summary.txt"
done
say "kernel bench done"
build_targets kkmeans kkmeans_unit_Cuda -- -DKKMEANS_ENABLE_WGMMA=ON
timeout 300 "$BUILD/tests/kkmeans_unit_Cuda" >"$OUT/unit.txt" 2>&1
say "unit suite: exit $? ($(grep -E 'PASSED|FAILED' "$OUT/unit.txt" | tail -1))"
grep -E '^\[  FAILED' "$OUT/unit.txt" | tee -a "$OUT/summary.txt"
python3 scripts/bench/bench.py --kkmeans "$K" --workload W2 --iters 5 --out "$DATA" --flash "$CARRY/peers" \
  --variant "fused-checked=--assign fused-checked" --variant "gemm-checked=--assign gemm-checked" \
  --variant "half=--precision half" \
  --skip torch scikit faiss --results "$OUT/results" --machine "$MACHINE" 2>&1 | tee -a "$OUT/summary.txt"
python3 scripts/bench/bench.py --kkmeans "$K" --workload W3 --n 200000 --iters 3 --out "$DATA" \
  --variant "fused-checked=--assign fused-checked" --variant "gemm-checked=--assign gemm-checked" \
  --skip torch scikit faiss --results "" 2>&1 | tee -a "$OUT/summary.txt"
say "bench done"
for tool in memcheck racecheck; do
  for shape in "3000 64 300 1 50" "1000 256 300 1 50"; do
    # shellcheck disable=SC2086
    timeout 60 compute-sanitizer --tool $tool "$KB" $shape wgmma 2>&1 | tail -n 2 | tee -a "$OUT/summary.txt"
  done
done
rm -rf "$DATA"
say "done: $OUT"
