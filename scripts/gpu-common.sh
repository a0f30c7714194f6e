# What the GPU-machine scripts share, sourced as
#   source "$(dirname "${BASH_SOURCE[0]}")/gpu-common.sh" NAME "$@"
# the repository root as working directory, ARCH (the script's first argument, default HOPPER90),
# OUT (default out/NAME), CARRY (KKMEANS_CARRY, default .carry), the offline environment, and say
# (prints a line with the seconds since the start and appends it to $OUT/summary.txt), the default
# CUDA build's folder BUILD and application K, and MACHINE (h200 or h100, for results files' names).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ARCH=${2:-HOPPER90}
OUT=${OUT:-$ROOT/out/$1}
CARRY=${KKMEANS_CARRY:-$ROOT/.carry}
mkdir -p "$OUT"
export KKMEANS_NO_APT=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
BUILD=build-cuda-$ARCH
K=$BUILD/apps/kkmeans/kkmeans
MACHINE=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | grep -q H200 && echo h200 || echo h100)
t0=$(date +%s)
# (the device's copy of the tree may carry a stale .git: results files are named by KKMEANS_COMMIT)
[[ -n ${KKMEANS_COMMIT:-} ]] || echo "note: KKMEANS_COMMIT is not set; results are labelled with this copy's git HEAD, $(git log -1 --format=%h 2>/dev/null || echo none), which may be stale" >&2
say() { echo "$* ($(($(date +%s) - t0)) s)" | tee -a "$OUT/summary.txt"; }

# The default (Kokkos 3.4) CUDA build: the application, plus the Python module and its example metric
# where python3 has pybind11. Every script builds it with these same options, so that a second script
# in the same call finds it built.   build_default JOBS LOG
build_default() {
  local jobs=$1 log=$2 pybind py=(-DKKMEANS_ENABLE_PYTHON=OFF) targets=(--target kkmeans)
  if pybind=$(python3 -m pybind11 --cmakedir 2>/dev/null); then
    py=(-DKKMEANS_ENABLE_PYTHON=ON -DPython_EXECUTABLE="$(command -v python3)" -Dpybind11_DIR="$pybind")
    targets+=(--target kkmeans_python --target my_metrics)
  fi
  bash scripts/bootstrap.sh --no-apt --source "$CARRY/kokkos-src" --cuda "$ARCH" --jobs "$jobs" >"$log" 2>&1 &&
    bash scripts/build.sh --cuda "$ARCH" --no-bootstrap "${targets[@]}" -- \
      -DKKMEANS_THIRD_PARTY_DIR="$CARRY/third_party" "${py[@]}" >>"$log" 2>&1
}

# The default CUDA build without the Python module, of the given targets, with any further CMake
# options after --; the log in $OUT/build.log, whose tail is printed where the build fails (which
# ends the script). With KKMEANS_PREBUILT=1 and the application $K carried (built on another
# machine with the same options: `bash scripts/build.sh --cuda ARCH --target kkmeans --
# -DKKMEANS_ENABLE_PYTHON=OFF`, then carry build-cuda-ARCH/apps/kkmeans/kkmeans), nothing is built.
# (Only where the GPU machine has the shared libraries it was linked with: the lent machines lacked
# Debian's libhdf5_openmpi on 2026-12-07.)
#   build_targets TARGET... [-- CMAKE-ARGS...]
build_targets() {
  if [[ -n ${KKMEANS_PREBUILT:-} && -x $K ]]; then
    say "prebuilt: $K"
    return
  fi
  local targets=() extra=()
  while (($#)) && [[ $1 != -- ]]; do
    targets+=(--target "$1")
    shift
  done
  [[ ${1:-} == -- ]] && shift && extra=("$@")
  { bash scripts/bootstrap.sh --no-apt --source "$CARRY/kokkos-src" --cuda "$ARCH" --jobs "$(nproc)" &&
    bash scripts/build.sh --cuda "$ARCH" --no-bootstrap "${targets[@]}" -- \
      -DKKMEANS_THIRD_PARTY_DIR="$CARRY/third_party" -DKKMEANS_ENABLE_PYTHON=OFF "${extra[@]}"; } \
    >"$OUT/build.log" 2>&1 || { tail -n 60 "$OUT/build.log"; exit 1; }
  say "built"
}
