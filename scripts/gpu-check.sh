#!/usr/bin/env bash
# The CUDA build and test suite on an offline GPU machine, from a folder made by scripts/carry-deps.sh
# (used through the device tool; see docs/PERFORMANCE.md). Writes logs to ${OUT:-out/gpu}.
#   bash scripts/gpu-check.sh [ARCH]     (default HOPPER90)
# KKMEANS_GPU_CTEST: a ctest -R regex to run only some tests, or "none" to build only.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ARCH=${1:-HOPPER90}
OUT=${OUT:-$ROOT/out/gpu}
mkdir -p "$OUT"
CARRY=${KKMEANS_CARRY:-$ROOT/.carry}
export KKMEANS_NO_APT=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s)
bash scripts/bootstrap.sh --no-apt --source "$CARRY/kokkos-src" --cuda "$ARCH" --jobs "$(nproc)" 2>&1 | tee "$OUT/bootstrap.log" || exit 1
t1=$(date +%s)
bash scripts/build.sh --cuda "$ARCH" --no-bootstrap -- -DKKMEANS_THIRD_PARTY_DIR="$CARRY/third_party" \
  -DKKMEANS_SIPU_DIR="$CARRY/sipu" >"$OUT/build.log" 2>&1 || { tail -n 60 "$OUT/build.log"; exit 1; }
t2=$(date +%s)
cd "build-cuda-$ARCH"
sel=${KKMEANS_GPU_CTEST:-}
rc=0
if [[ $sel != none ]]; then
  KKMEANS_REQUIRE_SIPU=1 ctest --output-on-failure -j 4 --timeout 600 ${sel:+-R "$sel"} >"$OUT/ctest.log" 2>&1
  rc=$?
fi
t3=$(date +%s)
tail -n 25 "$OUT/ctest.log"
echo "bootstrap $((t1 - t0)) s, build $((t2 - t1)) s, ctest $((t3 - t2)) s, ctest exit $rc" | tee "$OUT/times.txt"
exit $rc
