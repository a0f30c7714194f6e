#!/usr/bin/env bash
# Configure and build kkmeans (bootstrapping Kokkos first when no Kokkos is given).
#   scripts/build.sh [--cuda ARCH] [--build-dir DIR] [--debug] [--no-bootstrap] [--no-apt] [--target T]... [-- extra cmake args]
# A Kokkos you already have wins: set Kokkos_ROOT (and KokkosKernels_ROOT) in the environment, or
# pass -DKokkos_ROOT=... after --.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CUDA_ARCH=""
BUILD_DIR=""
TYPE=Release
BOOTSTRAP=1
EXTRA=()
TARGETS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cuda) CUDA_ARCH=${2:?--cuda needs an arch such as HOPPER90}; shift 2 ;;
    --build-dir) BUILD_DIR=${2:?}; shift 2 ;;
    --debug) TYPE=Debug; shift ;;
    --no-bootstrap) BOOTSTRAP=0; shift ;;
    --target) TARGETS+=(--target "${2:?--target needs a name}"); shift 2 ;;
    --no-apt) export KKMEANS_NO_APT=1; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "build: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
say() { printf '[build] %s\n' "$*" >&2; }

user_kokkos=0
[[ -n "${Kokkos_ROOT:-}${Kokkos_DIR:-}" ]] && user_kokkos=1
for a in "${EXTRA[@]+"${EXTRA[@]}"}"; do [[ "$a" == -DKokkos_ROOT=* || "$a" == -DKokkos_DIR=* ]] && user_kokkos=1; done

BS_ARGS=()
[[ -n "$CUDA_ARCH" ]] && BS_ARGS+=(--cuda "$CUDA_ARCH")
CMAKE_ARGS=()
if [[ $user_kokkos == 1 ]]; then
  say "using your Kokkos (${Kokkos_ROOT:-${Kokkos_DIR:-from the cmake arguments}})"
  if [[ $BOOTSTRAP == 1 ]]; then bash "$ROOT/scripts/bootstrap.sh" --packages-only "${BS_ARGS[@]+"${BS_ARGS[@]}"}"; fi
else
  if [[ $BOOTSTRAP == 1 ]]; then bash "$ROOT/scripts/bootstrap.sh" "${BS_ARGS[@]+"${BS_ARGS[@]}"}"; fi
  PREFIX=$(bash "$ROOT/scripts/bootstrap.sh" --print-prefix "${BS_ARGS[@]+"${BS_ARGS[@]}"}")
  [[ -f "$PREFIX/.kkmeans-stamp" ]] || { echo "build: no Kokkos in $PREFIX: run scripts/bootstrap.sh" >&2; exit 1; }
  CMAKE_ARGS+=(-DKokkos_ROOT="$PREFIX" -DKokkosKernels_ROOT="$PREFIX")
fi
if [[ -n "$CUDA_ARCH" ]]; then
  arch=$(echo "$CUDA_ARCH" | sed -E 's/^[A-Z]+([0-9])([0-9])$/sm_\1\2/')
  export NVCC_WRAPPER_DEFAULT_ARCH=$arch
  wrapper="${PREFIX:-${Kokkos_ROOT:-}}/bin/nvcc_wrapper"
  [[ -x "$wrapper" ]] && CMAKE_ARGS+=(-DCMAKE_CXX_COMPILER="$wrapper")
  BUILD_DIR=${BUILD_DIR:-$ROOT/build-cuda-$CUDA_ARCH}
fi
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
GEN=()
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]] && command -v ninja >/dev/null; then GEN=(-G Ninja); fi
say "configure -> $BUILD_DIR ($TYPE)"
mkdir -p "$BUILD_DIR"
LOG=$BUILD_DIR/configure.log
cmake -S "$ROOT" -B "$BUILD_DIR" "${GEN[@]+"${GEN[@]}"}" -DCMAKE_BUILD_TYPE="$TYPE" "${CMAKE_ARGS[@]+"${CMAKE_ARGS[@]}"}" \
  "${EXTRA[@]+"${EXTRA[@]}"}" >"$LOG" 2>&1 || { cat "$LOG" >&2; echo "build: cmake configure failed (log: $LOG)" >&2; exit 1; }
say "build ($(nproc) jobs)"
cmake --build "$BUILD_DIR" -j "$(nproc)" "${TARGETS[@]+"${TARGETS[@]}"}"
say "built: $BUILD_DIR/apps/kkmeans/kkmeans"
