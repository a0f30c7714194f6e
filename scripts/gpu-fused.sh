#!/usr/bin/env bash
# The fused checked path on a GPU machine (offline, through the device tool), in one call: the
# tensor-core kernels alone (scripts/bench/fused_tf32/kernel_bench.cu: mma.sync and, on Hopper, the
# warp-group kernel — ms per launch and each checked row's list against float64), then the CUDA build
# with the warp-group kernel on (-DKKMEANS_ENABLE_WGMMA=ON), bench.py on W2 with fused-checked and
# gemm-checked beside flash-kmeans (results file in $OUT/results), each path's per-kernel host times
# (scripts/bench/kokkos_events.cpp), and the CUDA unit suite. Needs the folder of scripts/carry-deps.sh
# and a copy of ../shared/peers in $CARRY/peers. About 6 minutes on an H200.
#   bash scripts/gpu-fused.sh [ARCH]     (default HOPPER90; logs and results in ${OUT:-out/gpu-fused})
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-common.sh" gpu-fused "$@"
say "$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1)"
DATA=$(mktemp -d)
KB=$DATA/kb
nvcc -std=c++17 -O3 -gencode=arch=compute_90a,code=sm_90a -Iscripts/bench/fused_tf32 -Isrc \
  scripts/bench/fused_tf32/kernel_bench.cu -x cu src/kkmeans/kernels/assign/tpls/KKM_FusedWgmma.cpp -o "$KB" ||
  exit 1
# Shapes: d a multiple of 4 from 4 to 128, partial tiles, several row blocks per block, then W2's.
for shape in "1000 32 200 2 1000" "300 4 5 2 300" "5000 64 1000 2 2000" "20000 100 300 2 2000" \
  "70000 128 1024 2 1500" "10000000 128 1024 5 200"; do
  # shellcheck disable=SC2086
  timeout 120 "$KB" $shape both 2>&1 | tee -a "$OUT/summary.txt"
done
say "kernel bench done"
{ bash scripts/bootstrap.sh --no-apt --source "$CARRY/kokkos-src" --cuda "$ARCH" --jobs "$(nproc)" &&
  bash scripts/build.sh --cuda "$ARCH" --no-bootstrap --target kkmeans --target kkmeans_unit_Cuda -- \
    -DKKMEANS_THIRD_PARTY_DIR="$CARRY/third_party" -DKKMEANS_ENABLE_PYTHON=OFF -DKKMEANS_ENABLE_WGMMA=ON; } \
  >"$OUT/build.log" 2>&1 || { tail -n 60 "$OUT/build.log"; exit 1; }
say "built"
python3 scripts/bench/bench.py --kkmeans "$K" --workload W2 --iters 5 --out "$DATA" --flash "$CARRY/peers" \
  --variant "fused-checked=--assign fused-checked" --variant "gemm-checked=--assign gemm-checked" \
  --skip torch scikit faiss --results "$OUT/results" --machine "$MACHINE" 2>&1 | tee -a "$OUT/summary.txt"
say "bench done"
g++ -O2 -shared -fPIC -o "$DATA/events.so" scripts/bench/kokkos_events.cpp
for path in fused-checked gemm-checked; do
  KKM_EVENTS_OUT="$OUT/events-W2-$path.txt" KKM_EVENTS_TOP=20 KOKKOS_TOOLS_LIBS="$DATA/events.so" \
    KOKKOS_PROFILE_LIBRARY="$DATA/events.so" "$K" fit --input "$DATA/W2.h5:/points" \
    --init-from "$DATA/W2_init.h5:/init" --k 1024 --assign "$path" --max-epochs 5 --quiet --output "$DATA/e.h5" --overwrite
done
say "events done"
timeout 300 "$BUILD/tests/kkmeans_unit_Cuda" >"$OUT/unit.txt" 2>&1
say "unit suite: exit $? ($(grep -E 'PASSED|FAILED' "$OUT/unit.txt" | tail -1))"
rm -rf "$DATA"
say "done: $OUT"
