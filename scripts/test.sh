#!/usr/bin/env bash
# Run the kkmeans test suite: bootstrap if needed -> configure -> build -> ctest.
#   scripts/test.sh [build.sh options] [-- extra cmake args]
#   scripts/test.sh --sanitize      the suite (Serial backend, MPI, application) under
#                                   AddressSanitizer + UndefinedBehaviorSanitizer, in build-sanitize/
#   KKMEANS_TEST_EXCLUDE=REGEX      ctest -E: skip the tests it matches
# The exit status is ctest's: non-zero if any test failed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=$ROOT/build
args=()
sanitize=0
for a in "$@"; do
  if [[ "$a" == "--sanitize" ]]; then sanitize=1; else args+=("$a"); fi
done
for ((i = 0; i < ${#args[@]}; i++)); do
  [[ "${args[$i]}" == "--build-dir" ]] && BUILD_DIR=${args[$((i + 1))]}
  [[ "${args[$i]}" == "--cuda" ]] && BUILD_DIR=${BUILD_DIR/%\/build/\/build-cuda-${args[$((i + 1))]}}
done
exclude=${KKMEANS_TEST_EXCLUDE:-}
if [[ $sanitize == 1 ]]; then
  BUILD_DIR=$ROOT/build-sanitize
  has_dashdash=0
  for a in "${args[@]+"${args[@]}"}"; do [[ "$a" == "--" ]] && has_dashdash=1; done
  [[ $has_dashdash == 1 ]] || args+=(--)
  # -O1 -g1 (line tables: what the reports need): the instrumented kernels compile 2.4× faster than
  # at RelWithDebInfo's -O2 -g (75 s against 182 s for one test file here), and ASan wants -O1 or more.
  args=(--build-dir "$BUILD_DIR" "${args[@]}" -DKKMEANS_SANITIZE=address,undefined -DKKMEANS_TEST_BACKENDS_ONLY=SERIAL
        -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG")
  # Leak checking is valgrind's job here (ctest valgrind_fit in the normal build): every test process
  # initialises MPI, and Open MPI's plugins, unloaded at MPI_Finalize, leave leaks LeakSanitizer can
  # neither symbolise nor suppress. A failing malloc returns NULL, as outside ASan (HDF5 asks for
  # absurd sizes on corrupt files and reports the failure).
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1:detect_stack_use_after_return=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  exclude=install_find_package\|compile_fail${exclude:+\|$exclude}
fi
bash "$ROOT/scripts/build.sh" "${args[@]+"${args[@]}"}"
cd "$BUILD_DIR"
echo "[test] ctest in $BUILD_DIR" >&2
ctest --output-on-failure -j "${KKMEANS_TEST_JOBS:-2}" --timeout "${KKMEANS_TEST_TIMEOUT:-900}" ${exclude:+-E "$exclude"}
