#!/usr/bin/env bash
# Kokkos 4 on a GPU machine (offline, through the device tool): Kokkos 4.x + Kokkos Kernels 4.x for
# CUDA (scripts/kokkos4.sh, cuBLAS), kkmeans against them with its CUDA tests, then the same W1 and W2
# fits by that build and by the default Kokkos 3.4 build (scripts/bench/builds.py: equal results,
# times side by side). Needs the folder of scripts/carry-deps.sh and the two Kokkos 4 archives there.
#   bash scripts/gpu-kokkos4.sh [ARCH]     (default HOPPER90; logs and results in ${OUT:-out/gpu-kokkos4})
#   KKMEANS_K4_ONLY=1 bash scripts/gpu-kokkos4.sh    the Kokkos 4 build and its CUDA tests only
#   KKMEANS_K4_BENCH="W2" KKMEANS_K4_TESTS=0 ...       only some workloads (default "W1 W2"), no tests
# Builds already made (by an earlier run or gpu-python.sh in the same call) are reused.
# KKMEANS_CARRY: the carried folder (default .carry), with deps4/kokkos-4.6.01.tar.gz and
# deps4/kokkos-kernels-4.6.02.tar.gz (copies of ../shared/deps).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-common.sh" gpu-kokkos4 "$@"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/summary.txt"
TP=-DKKMEANS_THIRD_PARTY_DIR=$CARRY/third_party
K4=$ROOT/.deps/kokkos4/cuda-$ARCH
bash scripts/kokkos4.sh --kokkos "$CARRY/deps4/kokkos-4.6.01.tar.gz" --kernels "$CARRY/deps4/kokkos-kernels-4.6.02.tar.gz" \
  --prefix "$K4" --cuda "$ARCH" --jobs "$(nproc)" >"$OUT/kokkos4.log" 2>&1 || { tail -n 40 "$OUT/kokkos4.log"; exit 1; }
say "Kokkos 4 built"
# The Kokkos 3.4 build (with the Python module, as gpu-python.sh builds it) alongside, with few jobs,
# while the Kokkos 4 build takes the rest.
[[ "${KKMEANS_K4_ONLY:-0}" == 1 ]] || { build_default 4 "$OUT/build-3.4.log"; echo "Kokkos 3.4 build exit $?" >>"$OUT/summary.txt"; } &
Kokkos_ROOT=$K4 KokkosKernels_ROOT=$K4 bash scripts/build.sh --cuda "$ARCH" --no-bootstrap --build-dir build-k4-cuda \
  --target kkmeans --target kkmeans_unit_Cuda --target kkmeans_mpi_Cuda -- $TP -DKKMEANS_ENABLE_PYTHON=OFF >"$OUT/build-4.log" 2>&1 || { tail -n 60 "$OUT/build-4.log"; wait; exit 1; }
say "kkmeans on Kokkos 4 built, $(grep -c 'warning' "$OUT/build-4.log") warning line(s)"
if [[ "${KKMEANS_K4_TESTS:-1}" == 1 ]]; then
  (cd build-k4-cuda && ctest -R Cuda -j 2 --output-on-failure --timeout 300 >"$OUT/ctest-4.log" 2>&1)
  say "CUDA tests on Kokkos 4: exit $? ($(grep -o '[0-9]*% tests passed.*' "$OUT/ctest-4.log"))"
fi
wait
[[ "${KKMEANS_K4_ONLY:-0}" == 1 ]] && { say "done (Kokkos 4 only)"; exit 0; }
BUILDS=(--build kokkos-3.4.01=build-cuda-$ARCH/apps/kkmeans/kkmeans --build kokkos-4.6.01=build-k4-cuda/apps/kkmeans/kkmeans)
for w in ${KKMEANS_K4_BENCH:-W1 W2}; do
  # W2: 20 epochs from random rows (the Lloyd epochs through cuBLAS are what differ between the
  # builds; a default fit's initialisation and convergence would take most of a call).
  if [[ $w == W2 ]]; then extra=(--init random --repeat 2 --fit-args "--max-epochs 20 --tol 0 --no-stop-on-no-change")
  else extra=(--repeat 3); fi
  PYTHONUNBUFFERED=1 python3 scripts/bench/builds.py "${BUILDS[@]}" --workload "$w" "${extra[@]}" --out /tmp/kkm-builds \
    --results "$OUT/results" 2>&1 | tee -a "$OUT/summary.txt"
done
say "done"
