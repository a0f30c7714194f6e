#!/usr/bin/env bash
# Build Kokkos 4.x + Kokkos Kernels 4.x into a prefix, the way a cluster's module would provide them,
# so kkmeans can be built and tested against the Kokkos generation clusters have.
#
#   scripts/kokkos4.sh --kokkos KOKKOS --kernels KERNELS --prefix DIR [--cuda ARCH] [--jobs N]
#
# KOKKOS and KERNELS are release archives (kokkos-4.6.01.tar.gz, kokkos-kernels-4.6.02.tar.gz) or
# extracted source folders. The build is OpenMP + Serial (or CUDA + Serial with --cuda, Kokkos
# Kernels with cuBLAS), deprecated Kokkos 3 API switched off as strict sites do, Kokkos Kernels with
# its BLAS component only and no pre-built instantiations (kkmeans instantiates what it uses).
# Then build kkmeans against it:
#   Kokkos_ROOT=DIR KokkosKernels_ROOT=DIR scripts/test.sh --build-dir build-kokkos4
# Idempotent: a prefix already built from the same sources and options is left as it is.
set -euo pipefail

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/kokkos-common.sh
source "$ROOT/scripts/kokkos-common.sh"
say() { printf '[kokkos4] %s\n' "$*" >&2; }
die() { printf '[kokkos4] error: %s\n' "$*" >&2; exit 1; }

KOKKOS="" KERNELS="" PREFIX="" CUDA_ARCH=""
JOBS=$(nproc 2>/dev/null || echo 2)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --kokkos) KOKKOS=${2:?--kokkos needs an archive or folder}; shift 2 ;;
    --kernels) KERNELS=${2:?--kernels needs an archive or folder}; shift 2 ;;
    --prefix) PREFIX=${2:?--prefix needs a folder}; shift 2 ;;
    --cuda) CUDA_ARCH=${2:?--cuda needs an arch such as HOPPER90}; shift 2 ;;
    --jobs) JOBS=${2:?--jobs needs a number}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ -n "$KOKKOS" && -n "$KERNELS" && -n "$PREFIX" ]] || { usage >&2; die "--kokkos, --kernels and --prefix are required"; }
for s in "$KOKKOS" "$KERNELS"; do [[ -e "$s" ]] || die "$s does not exist"; done
command -v cmake >/dev/null || die "cmake is not on PATH (scripts/bootstrap.sh --packages-only installs it)"
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
WORK="$PREFIX.work"

# Sources are copied (a folder) or extracted (an archive) into WORK once, so that the CUDA 13 patches
# (scripts/patches/kokkos4/kokkos-VERSION-*.patch) never touch what was given.
source_dir() {
  local given=$1 name=$2 marker=$3 dir="$WORK/src/$2" from
  if [[ -d "$given" ]]; then from="folder $(cd "$given" && pwd)"; else from="archive $(sha256sum <"$given")"; fi
  if [[ ! -f "$dir/.from" || "$(cat "$dir/.from")" != "$from" ]]; then
    rm -rf "$dir"; mkdir -p "$dir"
    if [[ -d "$given" ]]; then cp -r "$given/." "$dir/"
    else tar -xf "$given" -C "$dir" --strip-components=1 || die "could not extract $given"; fi
    echo "$from" >"$dir/.from"
  fi
  [[ -e "$dir/$marker" ]] || die "$given holds no $name source ($marker is missing)"
  echo "$dir"
}
KOKKOS_SRC=$(source_dir "$KOKKOS" kokkos core/src/Kokkos_Core.hpp)
KERNELS_SRC=$(source_dir "$KERNELS" kokkos-kernels blas/src/KokkosBlas3_gemm.hpp)
version() { sed -nE "s/^ *[sS][eE][tT]\\($2_VERSION_(MAJOR|MINOR|PATCH) ([0-9]+)\\).*/\\2/p" "$1/CMakeLists.txt" | paste -sd.; }
KOKKOS_VERSION=$(version "$KOKKOS_SRC" Kokkos)
KERNELS_VERSION=$(version "$KERNELS_SRC" KokkosKernels)
[[ "$KOKKOS_VERSION" == 4.* ]] || die "$KOKKOS is Kokkos '$KOKKOS_VERSION', not 4.x (the default build bootstraps 3.4)"
PATCHES=("$ROOT"/scripts/patches/kokkos4/kokkos-"${KOKKOS_VERSION%.*}"-*.patch)  # by major.minor
PATCH_SUM=none
if [[ -f "${PATCHES[0]}" ]]; then
  PATCH_SUM=$(cat "${PATCHES[@]}" | sha256sum | cut -c1-16)
  if [[ "$(cat "$KOKKOS_SRC/.patched" 2>/dev/null)" != "$PATCH_SUM" ]]; then
    [[ ! -f "$KOKKOS_SRC/.patched" ]] || die "$KOKKOS_SRC was patched with other patch files; delete $WORK and rerun"
    for p in "${PATCHES[@]}"; do
      say "applying $(basename "$p")"
      patch -d "$KOKKOS_SRC" -p1 --forward --quiet <"$p" || die "patch $(basename "$p") does not apply to Kokkos $KOKKOS_VERSION"
    done
    echo "$PATCH_SUM" >"$KOKKOS_SRC/.patched"
  fi
fi

GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
COMMON=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_STANDARD=17 -DCMAKE_CXX_EXTENSIONS=OFF
  -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON)
KOKKOS_OPTS=("${COMMON[@]}" -DKokkos_ENABLE_SERIAL=ON -DKokkos_ENABLE_DEPRECATED_CODE_4=OFF
  -DKokkos_ENABLE_DEPRECATION_WARNINGS=ON)
KK_OPTS=("${COMMON[@]}" -DKokkosKernels_ENABLE_TESTS=OFF -DKokkosKernels_ENABLE_EXAMPLES=OFF
  -DKokkosKernels_ENABLE_ALL_COMPONENTS=OFF -DKokkosKernels_ENABLE_COMPONENT_BLAS=ON
  -DKokkosKernels_ADD_DEFAULT_ETI=OFF)
# kkmeans instantiates what it uses (scripts/kokkos-common.sh).
KK_OPTS+=("${KK_NO_ETI_OPTS[@]}")
if [[ -n "$CUDA_ARCH" ]]; then
  [[ "$CUDA_ARCH" =~ ^[A-Z]+[0-9]+$ ]] || die "--cuda wants a Kokkos arch name such as HOPPER90, got '$CUDA_ARCH'"
  command -v nvcc >/dev/null || die "--cuda: nvcc is not on PATH"
  # nvcc_wrapper as the compiler, as for 3.4; its default arch is too old for CUDA 13, so name it.
  export NVCC_WRAPPER_DEFAULT_ARCH
  NVCC_WRAPPER_DEFAULT_ARCH=$(echo "$CUDA_ARCH" | sed -E 's/^[A-Z]+([0-9])([0-9])$/sm_\1\2/')
  KOKKOS_OPTS+=(-DCMAKE_CXX_COMPILER="$KOKKOS_SRC/bin/nvcc_wrapper" -DKokkos_ENABLE_CUDA=ON
    "-DKokkos_ARCH_$CUDA_ARCH=ON")
  add_kk_cuda_opts "$KOKKOS_SRC/bin/nvcc_wrapper"
else
  KOKKOS_OPTS+=(-DKokkos_ENABLE_OPENMP=ON)
fi

STAMP="$PREFIX/.kkmeans-kokkos4-stamp"
WANT="kokkos-$KOKKOS_VERSION kernels-$KERNELS_VERSION patches=$PATCH_SUM src=$KOKKOS_SRC,$KERNELS_SRC opts=${KOKKOS_OPTS[*]} kk=${KK_OPTS[*]}"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  say "Kokkos $KOKKOS_VERSION + Kokkos Kernels $KERNELS_VERSION: already installed in $PREFIX"
  exit 0
fi

step() {  # step NAME LOG command...: run quietly, show the log's tail on failure
  local name=$1 log=$2; shift 2
  "$@" >"$log" 2>&1 || { tail -n 30 "$log" >&2; die "$name failed (log: $log)"; }
}
BUILD="$WORK/build"
rm -rf "$BUILD"; mkdir -p "$BUILD"
find "$PREFIX" -mindepth 1 -delete
t0=$(date +%s)
say "building Kokkos $KOKKOS_VERSION (${CUDA_ARCH:-OpenMP}) -> $PREFIX"
step "Kokkos configure" "$BUILD/kokkos-configure.log" \
  cmake -S "$KOKKOS_SRC" -B "$BUILD/kokkos" "${GEN[@]}" -DCMAKE_INSTALL_PREFIX="$PREFIX" "${KOKKOS_OPTS[@]}"
step "Kokkos build" "$BUILD/kokkos-build.log" cmake --build "$BUILD/kokkos" -j "$JOBS"
step "Kokkos install" "$BUILD/kokkos-install.log" cmake --install "$BUILD/kokkos"
say "building Kokkos Kernels $KERNELS_VERSION (BLAS, no pre-built instantiations) -> $PREFIX"
step "Kokkos Kernels configure" "$BUILD/kk-configure.log" cmake -S "$KERNELS_SRC" -B "$BUILD/kokkos-kernels" \
  "${GEN[@]}" -DCMAKE_INSTALL_PREFIX="$PREFIX" -DKokkos_ROOT="$PREFIX" "${KK_OPTS[@]}"
step "Kokkos Kernels build" "$BUILD/kk-build.log" cmake --build "$BUILD/kokkos-kernels" -j "$JOBS"
step "Kokkos Kernels install" "$BUILD/kk-install.log" cmake --install "$BUILD/kokkos-kernels"
echo "$WANT" >"$STAMP"
say "done in $(($(date +%s) - t0)) s: Kokkos_ROOT=$PREFIX"
