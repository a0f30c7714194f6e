#!/usr/bin/env bash
# 16-bit rows on a GPU machine (offline, through the device tool), in one call: the CUDA build and
# its unit suite's 16-bit tests, then bench.py on W2 with float32 rows and 16-bit rows, both on auto's
# path (the checked paths widen 16-bit rows chunk by chunk), beside flash-kmeans' fp32 and fp16
# (results file in $OUT/results). Needs the folder of scripts/carry-deps.sh, with its copy of
# ../shared/peers. About 7 minutes on an H100.
#   bash scripts/gpu-half.sh [ARCH]     (default HOPPER90; logs and results in ${OUT:-out/gpu-half})
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-common.sh" gpu-half "$@"
say "$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1)"
build_targets kkmeans kkmeans_unit_Cuda
timeout 300 "$BUILD/tests/kkmeans_unit_Cuda" --gtest_filter='*half*:*float16*' >"$OUT/unit.txt" 2>&1
say "16-bit unit tests: exit $? ($(grep -E 'PASSED|FAILED' "$OUT/unit.txt" | tail -1))"
DATA=$(mktemp -d)
python3 scripts/bench/bench.py --kkmeans "$K" --workload W2 --iters 5 --out "$DATA" --flash "$CARRY/peers" \
  --variant "half=--precision half" \
  --skip torch scikit faiss --results "$OUT/results" --machine "$MACHINE" ${COMMIT:+--commit "$COMMIT"} 2>&1 |
  tee -a "$OUT/summary.txt"
rm -rf "$DATA"
say "done: $OUT"
