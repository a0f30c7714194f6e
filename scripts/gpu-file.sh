#!/usr/bin/env bash
# Rows streamed from their file on a GPU machine (offline, through the device tool): the default CUDA
# build of the application, its end-to-end tests of --data-in file (mapped, and chunked and compressed
# rows read a block at a time) and host (results against the rows on the device, on 1–3 ranks,
# checkpoints, predict, a corrupt chunk, a file changed under the fit), then
# scripts/bench/out_of_core.py at W2's shape (device, host and file modes, the pinned-copy bound, a
# chunked copy, flash-kmeans' kmeans_largeN where the peers are carried). Needs the folder of
# scripts/carry-deps.sh.
# About 8 minutes on an H100 (the build alone about 4.5).
#   bash scripts/gpu-file.sh [ARCH]     (logs and results in ${OUT:-out/gpu-file})
# KKMEANS_GPU_UNIT=FILTER also builds the CUDA unit suite (-O1) and runs the tests the gtest filter
# names first (e.g. '*stream*': the streamed features against the rows on the device). ONLY=unit
# stops after them, ONLY=tests after the application's tests, ONLY=bench skips the tests (a second
# call on the same warm machine finds the build).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-common.sh" gpu-file "$@"
say "$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1)"
unit=${KKMEANS_GPU_UNIT:-}
if [[ -n $unit ]]; then
  build_targets kkmeans kkmeans_unit_Cuda -- -DKKMEANS_TEST_BACKENDS_ONLY=CUDA -DKKMEANS_TEST_CXX_FLAGS=-O1
  "$BUILD/tests/kkmeans_unit_Cuda" --gtest_filter="$unit" 2>&1 | tail -n 40 | tee -a "$OUT/summary.txt"
  say "unit tests done (exit ${PIPESTATUS[0]})"
  [[ ${ONLY:-} == unit ]] && exit 0
elif [[ ${ONLY:-} == bench && -x $K ]]; then
  say "built before: $K"
else
  build_targets kkmeans
fi
if [[ ${ONLY:-} != bench ]]; then
  KKMEANS_APP_TESTS=map_rows_from_the_file,read_unmappable_rows_from_the_file,stream_from_host_memory python3 tests/app/test_app.py "$K" 2>&1 |
    tail -n 30 | tee -a "$OUT/summary.txt"
  say "app tests done"
  [[ ${ONLY:-} == tests ]] && exit 0
fi
flash=()
[[ -d $CARRY/peers ]] && flash=(--flash "$CARRY/peers")
python3 scripts/bench/out_of_core.py --kkmeans "$K" --device-memory 2500M "${flash[@]}" --out "$(mktemp -d)" \
  --results "$OUT/results" 2>&1 | tee -a "$OUT/summary.txt"
say "done: $OUT"
