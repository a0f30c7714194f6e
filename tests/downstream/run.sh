#!/usr/bin/env bash
# ctest driver: install kkmeans from BUILD into a fresh prefix, then configure, build and run the
# downstream project against it with find_package(kkmeans).
#   run.sh BUILD_DIR SOURCE_DIR CXX_COMPILER PREFIX...   (PREFIX: where Kokkos and Kokkos Kernels are)
# The prefixes come as separate arguments: a ';' inside one ctest argument is not passed alike by
# every CMake version (4.4 broke it).
set -euo pipefail
BUILD=$1; SRC=$2; CXX=$3; shift 3
KOKKOS=$(IFS=';'; echo "$*")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cmake --install "$BUILD" --prefix "$WORK/prefix" >/dev/null
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
cmake -S "$SRC" -B "$WORK/build" "${GEN[@]}" -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$WORK/prefix;$KOKKOS" >"$WORK/configure.log" 2>&1 || { cat "$WORK/configure.log"; exit 1; }
cmake --build "$WORK/build" >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log"; exit 1; }
out=$(OMP_PROC_BIND=false "$WORK/build/downstream")
echo "$out"
grep -q "centroids 1 101" <<<"$out" || { echo "downstream: unexpected centroids" >&2; exit 1; }
# The installed Python package, where the build has one, imports and fits from the prefix alone.
PY_PACKAGES="$WORK/prefix/lib/python3/site-packages"
if [[ -d "$PY_PACKAGES/kkmeans" && -n "${KKMEANS_TEST_PYTHON:-}" ]]; then
  (cd "$WORK" && PYTHONPATH="$PY_PACKAGES" OMP_PROC_BIND=false "$KKMEANS_TEST_PYTHON" -c "
import numpy as np, kkmeans
km = kkmeans.KMeans(2, init=np.array([[0.0], [10.0]])).fit(np.array([[0.0], [1.0], [10.0], [11.0]]))
assert km.cluster_centers_.ravel().tolist() == [0.5, 10.5], km.cluster_centers_
print('installed python package: centroids', *km.cluster_centers_.ravel())")
fi
echo "downstream: all checks passed"
