#!/usr/bin/env bash
# Run the kkmeans test suite: bootstrap if needed -> configure -> build -> ctest.
#   scripts/test.sh [build.sh options] [-- extra cmake args]
# The exit status is ctest's: non-zero if any test failed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=$ROOT/build
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [[ "${args[$i]}" == "--build-dir" ]] && BUILD_DIR=${args[$((i + 1))]}
  [[ "${args[$i]}" == "--cuda" ]] && BUILD_DIR=${BUILD_DIR/%\/build/\/build-cuda-${args[$((i + 1))]}}
done
bash "$ROOT/scripts/build.sh" "$@"
cd "$BUILD_DIR"
echo "[test] ctest in $BUILD_DIR" >&2
ctest --output-on-failure -j "${KKMEANS_TEST_JOBS:-2}" --timeout "${KKMEANS_TEST_TIMEOUT:-900}"
