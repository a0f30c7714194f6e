#!/usr/bin/env bash
# Fuzz the TOML deck loader and the HDF5 input/model readers with libFuzzer (clang, ASan + UBSan).
#   bash scripts/fuzz.sh [SECONDS] [deck] [hdf5]      (default: 600 seconds, both, in parallel)
# Builds build-fuzz/ (clang; installs clang and libomp from Debian if missing), then runs each
# harness for SECONDS from the seeds in tests/fuzz/corpus/<harness>/, growing out/fuzz/<harness>/corpus.
# A crash leaves its input in out/fuzz/<harness>/ (crash-*, leak-*, timeout-*); after the fix, copy it
# into tests/fuzz/regressions/<harness>/, where every build's `fuzz_replay_<harness>` test replays it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_EACH=${1:-600}
shift || true
HARNESSES=("$@")
[[ ${#HARNESSES[@]} -gt 0 ]] || HARNESSES=(deck hdf5)
if ! command -v clang++ >/dev/null || [[ ! -e /usr/lib/llvm-14/lib/libomp.so && ! -e /usr/lib/x86_64-linux-gnu/libomp.so ]]; then
  [[ -n "${KKMEANS_NO_APT:-}" ]] && { echo "fuzz: needs clang and libomp (apt-get install clang libomp-dev)" >&2; exit 1; }
  apt-get install -y -qq clang libomp-dev >/dev/null
fi
targets=()
for h in "${HARNESSES[@]}"; do targets+=(--target "kkmeans_fuzz_$h"); done
CC=clang CXX=clang++ bash "$ROOT/scripts/build.sh" --build-dir "$ROOT/build-fuzz" "${targets[@]}" -- \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKKMEANS_SANITIZE=address,undefined -DKKMEANS_ENABLE_FUZZ=ON -DKKMEANS_TEST_BACKENDS_ONLY=SERIAL
# allocator_may_return_null: HDF5 asks for absurd sizes on corrupt headers and handles the NULL (as
# outside ASan); LeakSanitizer stays on (the harnesses need no MPI).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/fuzz/lsan.supp:print_suppressions=0}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
pids=()
for h in "${HARNESSES[@]}"; do
  out=$ROOT/out/fuzz/$h
  mkdir -p "$out/corpus"
  rm -f "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*
  echo "[fuzz] $h for $SECONDS_EACH s -> $out/log.txt" >&2
  (cd "$out" && "$ROOT/build-fuzz/tests/fuzz/kkmeans_fuzz_$h" -max_total_time="$SECONDS_EACH" -timeout=20 \
     -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/" \
     "$out/corpus" "$ROOT/tests/fuzz/corpus/$h" >"$out/log.txt" 2>&1; echo "exit $?" >>"$out/log.txt") &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
status=0
for h in "${HARNESSES[@]}"; do
  out=$ROOT/out/fuzz/$h
  echo "[fuzz] $h: $(grep -E '^stat::number_of_executed_units' "$out/log.txt" | tail -1), $(tail -1 "$out/log.txt")" >&2
  if ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* >/dev/null 2>&1; then
    echo "[fuzz] $h: FAILED inputs in $out" >&2
    status=1
  fi
done
exit $status
