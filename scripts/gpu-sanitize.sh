#!/usr/bin/env bash
# compute-sanitizer over the CUDA build (made by scripts/gpu-check.sh): memcheck and racecheck of the
# unit tests' GPU kernels, memcheck of application fits (fused small-d, generic, GEMM paths incl. the
# checked one, which racecheck also runs) and a
# predict. Logs and a summary go to ${OUT:-out/gpu}; exit status 1 if any tool reports an error or
# racecheck reports a hazard with an access in kkmeans' code (its warnings inside Kokkos are listed).
#   bash scripts/gpu-sanitize.sh [ARCH]     (default HOPPER90; SANITIZE_TIMEOUT: seconds per run, default 900;
#   SANITIZE_UNIT_RACECHECK=0 skips the slow racecheck of the unit tests; SANITIZE_JOBS: how many racecheck
#   processes share the GPU for it, default half the cores; SANITIZE_KKMEANS, SANITIZE_UNIT: binaries
#   built elsewhere instead of the build folder's)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ARCH=${1:-HOPPER90}
OUT=${OUT:-$ROOT/out/gpu}
B=$ROOT/build-cuda-$ARCH
K=${SANITIZE_KKMEANS:-$B/apps/kkmeans/kkmeans}
U=${SANITIZE_UNIT:-$B/tests/kkmeans_unit_${UNIT_SPACE:-Cuda}}
CS=${COMPUTE_SANITIZER:-$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)}
mkdir -p "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
SUMMARY=$OUT/sanitize-summary.txt
: >"$SUMMARY"
fail=0
# run NAME TOOL CMD...: one compute-sanitizer run, its log in $OUT/sanitize-NAME.log.
run() {
  local name=$1 tool=$2
  shift 2
  local t0=$(date +%s)
  # racecheck prints every report (print limit 0), for scripts/racecheck_sites.py to sort
  local limit=50
  [[ $tool == racecheck ]] && limit=0
  timeout "${SANITIZE_TIMEOUT:-900}" "$CS" --tool "$tool" --error-exitcode 97 --print-limit $limit "$@" >"$OUT/sanitize-$name.log" 2>&1
  local rc=$?
  local errs=$(grep -m1 "ERROR SUMMARY" "$OUT/sanitize-$name.log" || echo "no summary")
  local warns=$(grep -m1 "RACECHECK SUMMARY" "$OUT/sanitize-$name.log" || true)
  # racecheck's --error-exitcode also fires on warnings (possible hazards: Kokkos 3.4's own reductions
  # draw them, see docs/PERFORMANCE.md); only its errors fail the run, its warnings are listed.
  local verdict=pass
  if [[ $rc != 0 ]]; then
    if [[ $tool == racecheck && $rc == 97 && $warns == *"(0 errors,"* ]]; then verdict="pass (warnings only)"; else verdict=FAIL; fail=1; fi
  fi
  echo "$name ($tool): $verdict, rc $rc, $(($(date +%s) - t0)) s, $errs ${warns:+| $warns}" | tee -a "$SUMMARY"
}
# Every unit test but the slow quality suite (its kernels are the ones the other tests run).
run unit-memcheck memcheck "$U" --gtest_filter='-*quality*'
# racecheck: shared-memory hazards of kkmeans' kernels, every unit test but the quality suite (whose
# kernels the others run); cuBLAS' kernels are left out (--kernel-name: names containing "kkm"). The
# tests are split into SANITIZE_JOBS gtest shards run side by side on the GPU, one log each.
if [[ ${SANITIZE_UNIT_RACECHECK:-1} != 0 ]]; then
  jobs=${SANITIZE_JOBS:-$(( ($(nproc) + 1) / 2 ))}
  for ((i = 0; i < jobs; ++i)); do
    GTEST_TOTAL_SHARDS=$jobs GTEST_SHARD_INDEX=$i run "unit-racecheck-$i" racecheck --kernel-name kns=kkm "$U" \
      --gtest_filter='-*quality*' &
  done
  wait  # the shards ran in subshells: their verdicts come back through the summary
  grep -q '^unit-racecheck-.*: FAIL' "$SUMMARY" && fail=1
fi
# Application fits through the real I/O path: d = 4 (small-d kernel, 4 rows per thread), d = 20
# (generic fused kernel), d = 64 with --assign gemm (GEMM + argmin + column sums), then predict.
D=$(mktemp -d)
"$K" generate -o "$D/a.h5:/points" --n 20000 --d 4 --k 16 --seed 3 --quiet
"$K" generate -o "$D/b.h5:/points" --n 20000 --d 20 --k 16 --seed 4 --quiet
"$K" generate -o "$D/c.h5:/points" --n 20000 --d 64 --k 40 --seed 5 --quiet
run fit-smalld memcheck "$K" fit --input "$D/a.h5:/points" --k 16 --output "$D/ma.h5" --max-epochs 20 --quiet
run fit-generic memcheck "$K" fit --input "$D/b.h5:/points" --k 16 --metric cosine --output "$D/mb.h5" --max-epochs 20 --quiet
run fit-gemm memcheck "$K" fit --input "$D/c.h5:/points" --k 40 --assign gemm --batch-size 7000 --output "$D/mc.h5" --max-epochs 20 --quiet
run fit-checked memcheck "$K" fit --input "$D/c.h5:/points" --k 40 --assign gemm-checked --batch-size 7000 --output "$D/md.h5" --max-epochs 20 --quiet
# k = 700: k × 8 bytes per column leave room for 7 of the 64 columns in a team's scratch, so a
# device takes the column sums in label order (histogram, scatter, sums: KKM_SortedSums.hpp).
run fit-checked-sorted memcheck "$K" fit --input "$D/c.h5:/points" --k 700 --assign gemm-checked --batch-size 7000 --output "$D/mf.h5" --max-epochs 10 --quiet
run fit-checked-race racecheck --kernel-name kns=kkm "$K" fit --input "$D/c.h5:/points" --k 40 --init random --assign gemm-checked --batch-size 7000 --output "$D/me.h5" --max-epochs 5 --quiet
run fit-sorted-race racecheck --kernel-name kns=kkm "$K" fit --input "$D/c.h5:/points" --k 700 --init random --assign gemm-checked --batch-size 7000 --output "$D/mg.h5" --max-epochs 3 --quiet
# The fused checked path's tensor-core kernel: 16-byte copies (d = 64), 4-byte ones (d = 33), k not a
# multiple of its 128-centroid tiles.
"$K" generate -o "$D/e.h5:/points" --n 20000 --d 33 --k 70 --seed 6 --quiet
run fit-fused-checked memcheck "$K" fit --input "$D/c.h5:/points" --k 140 --assign fused-checked --output "$D/mh.h5" --max-epochs 10 --quiet
run fit-fused-checked-odd memcheck "$K" fit --input "$D/e.h5:/points" --k 70 --assign fused-checked --output "$D/mi.h5" --max-epochs 10 --quiet
run fit-fused-checked-race racecheck --kernel-name kns=kkm "$K" fit --input "$D/e.h5:/points" --k 70 --init random --assign fused-checked --output "$D/mj.h5" --max-epochs 3 --quiet
run predict memcheck "$K" predict --model "$D/ma.h5" --input "$D/a.h5:/points" --output "$D/pa.h5" --quiet
rm -rf "$D"
# Where racecheck's reports are: any access in kkmeans' own code fails the run, warning or not (the
# CUDA build has -lineinfo; Kokkos 3.4's own reductions draw warnings, kokkos/kokkos#4482).
python3 "$ROOT/scripts/racecheck_sites.py" "$OUT"/sanitize-*race*.log | tee -a "$SUMMARY" || fail=1
exit $fail
