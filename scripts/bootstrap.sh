#!/usr/bin/env bash
# kkmeans bootstrap: everything kkmeans needs, from Debian alone.
#
#   1. Debian packages (MPI, HDF5, GoogleTest, CLI11, toml++, nlohmann-json, fmt, spdlog, Python peers,
#      pybind11 + pytest + mpi4py for the Python module).
#   2. Kokkos 3.4.01 + Kokkos Kernels 3.4.01 source, taken from Debian's `trilinos` 13.2 source package
#      through apt (the archive is read from this machine's own apt configuration), or from a tarball /
#      folder given with --source (air-gapped machines).
#   3. The project's patches (scripts/patches/) for CUDA 13 and Hopper.
#   4. Build + install into a prefix inside the tree that git ignores (.deps/install/<backend>).
#
# Idempotent: each step leaves a stamp and is skipped when its inputs did not change.
# A Kokkos the user already has is used instead: pass -DKokkos_ROOT=... to CMake (scripts/test.sh and
# scripts/build.sh honour KKMEANS_KOKKOS_ROOT / Kokkos_ROOT) and do not run this script's build steps.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/bootstrap.sh [options]
  --cuda ARCH       build the CUDA backend for Kokkos arch ARCH (e.g. HOPPER90, AMPERE80) with
                    nvcc_wrapper, and Kokkos Kernels with cuBLAS (default: OpenMP + Serial)
  --source PATH     use an already-downloaded trilinos_13.2.0.orig.tar.gz, an extracted Trilinos tree,
                    or a folder holding kokkos/ and kokkos-kernels/ (offline machines)
  --no-apt          do not install Debian packages (machines without apt; check them yourself);
                    also KKMEANS_NO_APT=1 in the environment
  --deps-dir DIR    where sources, builds and installs go (default: <repo>/.deps)
  --jobs N          parallel build jobs (default: nproc)
  --print-prefix    print the install prefix for the chosen backend and exit
  --fetch-only      fetch, extract and patch the sources, build nothing
  --packages-only   install the Debian packages only (you bring Kokkos)
  -h, --help        this text
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/kokkos-common.sh
source "$ROOT/scripts/kokkos-common.sh"
DEPS=${KKMEANS_DEPS_DIR:-$ROOT/.deps}
CUDA_ARCH=""
SOURCE=""
NO_APT=${KKMEANS_NO_APT:-0}
JOBS=$(nproc 2>/dev/null || echo 2)
PRINT_PREFIX=0
FETCH_ONLY=0
PACKAGES_ONLY=0

while [[ $# -gt 0 ]]; do
  case "$1" in
    --cuda) CUDA_ARCH=${2:?--cuda needs an arch such as HOPPER90}; shift 2 ;;
    --source) SOURCE=${2:?--source needs a path}; shift 2 ;;
    --no-apt) NO_APT=1; shift ;;
    --deps-dir) DEPS=${2:?--deps-dir needs a folder}; shift 2 ;;
    --jobs) JOBS=${2:?--jobs needs a number}; shift 2 ;;
    --print-prefix) PRINT_PREFIX=1; shift ;;
    --fetch-only) FETCH_ONLY=1; shift ;;
    --packages-only) PACKAGES_ONLY=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bootstrap: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [[ -n "$CUDA_ARCH" ]]; then
  if [[ ! "$CUDA_ARCH" =~ ^[A-Z]+[0-9]+$ ]]; then
    echo "bootstrap: --cuda wants a Kokkos arch name such as HOPPER90 or AMPERE80, got '$CUDA_ARCH'" >&2
    exit 2
  fi
  BACKEND="cuda-$CUDA_ARCH"
else
  BACKEND="openmp"
fi
PREFIX="$DEPS/install/$BACKEND"
if [[ $PRINT_PREFIX == 1 ]]; then echo "$PREFIX"; exit 0; fi

say() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] error: %s\n' "$*" >&2; exit 1; }
trap 'die "step failed at line $LINENO (command: $BASH_COMMAND)"' ERR

# ---------------------------------------------------------------------------------------------------
# 1. Debian packages
# ---------------------------------------------------------------------------------------------------
PACKAGES=(cmake ninja-build g++ gcc make patch pkg-config
  openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libfmt-dev libspdlog-dev
  zlib1g-dev python3-h5py python3-numpy python3-sklearn python3-faiss python3-matplotlib valgrind
  python3-dev pybind11-dev python3-pytest python3-mpi4py python3-pandas)

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then say "Debian packages: all present"; return; fi
  say "Debian packages missing: ${missing[*]}"
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "not root and no sudo: install these packages first: ${missing[*]}"
    sudo="sudo"
  fi
  say "apt-get update && apt-get install (${#missing[@]} packages)"
  $sudo apt-get update -q >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install failed for: ${missing[*]}"
}

if [[ $NO_APT == 0 ]]; then
  command -v dpkg-query >/dev/null || die "no dpkg here: rerun with --no-apt and provide MPI, HDF5, GoogleTest yourself"
  install_packages
else
  say "Debian packages: skipped (--no-apt)"
fi
[[ $PACKAGES_ONLY == 1 ]] && exit 0

# ---------------------------------------------------------------------------------------------------
# 2. Kokkos + Kokkos Kernels source
# ---------------------------------------------------------------------------------------------------
SRC="$DEPS/src"
mkdir -p "$SRC"

# The archive URI as this machine's apt knows it (deb822 .sources files or one-line sources.list).
apt_archive_uri() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    uri=$(awk '/^URIs:/{for(i=2;i<=NF;i++) if ($i !~ /security/) {print $i; exit}}' "$f")
    [[ -n "$uri" ]] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    uri=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /:\/\//) {print $i; exit}}' "$f")
    [[ -n "$uri" ]] && { echo "$uri"; return; }
  done
}

fetch_trilinos_tarball() {
  local work="$DEPS/apt"
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  local uri
  uri=$(apt_archive_uri)
  [[ -n "$uri" ]] || die "could not read a Debian archive URI from /etc/apt; download trilinos_13.2.0.orig.tar.gz yourself and pass --source"
  # Kokkos 3.4.01 ships inside trilinos 13.2.0, which is bookworm's version: ask that suite for it.
  echo "deb-src $uri bookworm main" >"$work/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Sandbox::User=root")
  say "apt-get update (private deb-src list for bookworm)"
  apt-get "${opts[@]}" update -q >"$work/update.log" 2>&1 || die "apt-get update for deb-src failed: see $work/update.log"
  say "apt-get source --download-only --tar-only trilinos (166 MB)"
  (cd "$work" && apt-get "${opts[@]}" source --download-only --tar-only trilinos >"$work/source.log" 2>&1) \
    || die "apt-get source trilinos failed: see $work/source.log"
  local tb
  tb=$(ls "$work"/trilinos_13.2.0*.orig.tar.* 2>/dev/null | head -n1)
  [[ -n "$tb" ]] || die "apt fetched no trilinos_13.2.0 tarball (is bookworm's trilinos still served?)"
  echo "$tb"
}

extract_from_tarball() {
  local tb=$1 tmp="$DEPS/extract.tmp"
  rm -rf "$tmp"; mkdir -p "$tmp"
  say "extracting packages/kokkos and packages/kokkos-kernels from $(basename "$tb")"
  tar -xf "$tb" -C "$tmp" --wildcards '*/packages/kokkos/*' '*/packages/kokkos-kernels/*' \
    || die "could not extract kokkos from $tb"
  local top
  top=$(find "$tmp" -mindepth 3 -maxdepth 3 -type d -name kokkos -path '*/packages/*' | head -n1)
  [[ -n "$top" ]] || die "$tb holds no packages/kokkos"
  rm -rf "$SRC/kokkos" "$SRC/kokkos-kernels"
  mv "$top" "$SRC/kokkos"
  mv "$(dirname "$top")/kokkos-kernels" "$SRC/kokkos-kernels"
  rm -rf "$tmp"
}

copy_from_folder() {
  local dir=$1 base
  if [[ -d "$dir/packages/kokkos" ]]; then base="$dir/packages"; else base="$dir"; fi
  [[ -d "$base/kokkos/core" && -d "$base/kokkos-kernels/src" ]] \
    || die "$dir holds neither packages/kokkos{,-kernels} nor kokkos/ and kokkos-kernels/"
  say "copying Kokkos sources from $base"
  rm -rf "$SRC/kokkos" "$SRC/kokkos-kernels" "$SRC/.patched"
  cp -r "$base/kokkos" "$SRC/kokkos"
  cp -r "$base/kokkos-kernels" "$SRC/kokkos-kernels"
  # A folder made by scripts/carry-deps.sh is patched already and says with which patches.
  if [[ -f "$base/.patched" ]]; then cp "$base/.patched" "$SRC/.patched"; fi
}

check_version() {
  grep -q 'Kokkos_VERSION_MAJOR 3' "$SRC/kokkos/CMakeLists.txt" && grep -q 'Kokkos_VERSION_MINOR 4' "$SRC/kokkos/CMakeLists.txt" \
    || die "$SRC/kokkos is not Kokkos 3.4 (the patches are made for 3.4.01)"
}

if [[ -f "$SRC/kokkos/CMakeLists.txt" && -f "$SRC/kokkos-kernels/CMakeLists.txt" && -z "$SOURCE" ]]; then
  say "Kokkos sources: present in $SRC"
else
  if [[ -n "$SOURCE" ]]; then
    [[ -e "$SOURCE" ]] || die "--source $SOURCE does not exist"
    if [[ -d "$SOURCE" ]]; then copy_from_folder "$SOURCE"; else extract_from_tarball "$SOURCE"; rm -f "$SRC/.patched"; fi
  else
    command -v apt-get >/dev/null || die "no apt-get here: pass --source with the trilinos tarball or the kokkos folders"
    extract_from_tarball "$(fetch_trilinos_tarball)"
    rm -f "$SRC/.patched"
  fi
fi
check_version

# ---------------------------------------------------------------------------------------------------
# 3. Patches
# ---------------------------------------------------------------------------------------------------
PATCH_SUM=$(cat "$ROOT"/scripts/patches/*.patch | sha256sum | cut -c1-16)
if [[ -f "$SRC/.patched" && "$(cat "$SRC/.patched")" == "$PATCH_SUM" ]]; then
  say "patches: already applied"
else
  [[ ! -f "$SRC/.patched" ]] || die "$SRC was patched with other patch files; delete $SRC and rerun"
  for p in "$ROOT"/scripts/patches/kokkos-*.patch; do
    say "applying $(basename "$p")"
    patch -d "$SRC/kokkos" -p1 --forward --quiet <"$p" || die "patch $(basename "$p") does not apply to $SRC/kokkos"
  done
  echo "$PATCH_SUM" >"$SRC/.patched"
fi
chmod +x "$SRC/kokkos/bin/nvcc_wrapper"
[[ $FETCH_ONLY == 1 ]] && { say "sources ready in $SRC"; exit 0; }

# ---------------------------------------------------------------------------------------------------
# 4. Build + install
# ---------------------------------------------------------------------------------------------------
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
KOKKOS_OPTS=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_STANDARD=17 -DCMAKE_CXX_EXTENSIONS=OFF
  -DKokkos_ENABLE_SERIAL=ON -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON)
KK_OPTS=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_STANDARD=17 -DCMAKE_CXX_EXTENSIONS=OFF
  -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DKokkosKernels_ENABLE_TESTS=OFF
  -DKokkosKernels_ENABLE_EXAMPLES=OFF)
# kkmeans instantiates what it uses (scripts/kokkos-common.sh).
KK_OPTS+=("${KK_NO_ETI_OPTS[@]}")
if [[ -n "$CUDA_ARCH" ]]; then
  command -v nvcc >/dev/null || die "--cuda: nvcc is not on PATH"
  arch_lower=$(echo "$CUDA_ARCH" | sed -E 's/^[A-Z]+([0-9])([0-9])$/sm_\1\2/')
  export NVCC_WRAPPER_DEFAULT_ARCH=$arch_lower
  WRAPPER="$SRC/kokkos/bin/nvcc_wrapper"
  KOKKOS_OPTS+=(-DCMAKE_CXX_COMPILER="$WRAPPER" -DKokkos_ENABLE_CUDA=ON -DKokkos_ENABLE_CUDA_LAMBDA=ON
    -DKokkos_ENABLE_CUDA_CONSTEXPR=ON "-DKokkos_ARCH_$CUDA_ARCH=ON")
  add_kk_cuda_opts "$WRAPPER"
else
  KOKKOS_OPTS+=(-DKokkos_ENABLE_OPENMP=ON)
fi

STAMP="$PREFIX/.kkmeans-stamp"
WANT="kokkos-3.4.01 patches=$PATCH_SUM opts=${KOKKOS_OPTS[*]} kk=${KK_OPTS[*]}"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  say "Kokkos + Kokkos Kernels: already installed in $PREFIX"
  exit 0
fi

BUILD="$DEPS/build/$BACKEND"
rm -rf "$BUILD" "$PREFIX"
mkdir -p "$BUILD"
t0=$(date +%s)
say "building Kokkos 3.4.01 ($BACKEND) -> $PREFIX"
cmake -S "$SRC/kokkos" -B "$BUILD/kokkos" "${GEN[@]}" -DCMAKE_INSTALL_PREFIX="$PREFIX" "${KOKKOS_OPTS[@]}" \
  >"$BUILD/kokkos-configure.log" 2>&1 || { tail -n 30 "$BUILD/kokkos-configure.log" >&2; die "Kokkos configure failed (log: $BUILD/kokkos-configure.log)"; }
cmake --build "$BUILD/kokkos" -j "$JOBS" >"$BUILD/kokkos-build.log" 2>&1 \
  || { tail -n 30 "$BUILD/kokkos-build.log" >&2; die "Kokkos build failed (log: $BUILD/kokkos-build.log)"; }
cmake --install "$BUILD/kokkos" >/dev/null || die "Kokkos install failed"

say "building Kokkos Kernels 3.4.01 ($BACKEND, no pre-built instantiations) -> $PREFIX"
cmake -S "$SRC/kokkos-kernels" -B "$BUILD/kokkos-kernels" "${GEN[@]}" -DCMAKE_INSTALL_PREFIX="$PREFIX" \
  -DKokkos_ROOT="$PREFIX" "${KK_OPTS[@]}" >"$BUILD/kk-configure.log" 2>&1 \
  || { tail -n 30 "$BUILD/kk-configure.log" >&2; die "Kokkos Kernels configure failed (log: $BUILD/kk-configure.log)"; }
cmake --build "$BUILD/kokkos-kernels" -j "$JOBS" >"$BUILD/kk-build.log" 2>&1 \
  || { tail -n 30 "$BUILD/kk-build.log" >&2; die "Kokkos Kernels build failed (log: $BUILD/kk-build.log)"; }
cmake --install "$BUILD/kokkos-kernels" >/dev/null || die "Kokkos Kernels install failed"

echo "$WANT" >"$STAMP"
say "done in $(($(date +%s) - t0)) s: $PREFIX"
