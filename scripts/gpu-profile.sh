#!/usr/bin/env bash
# Where an epoch's time goes, on a GPU machine (offline, through the device tool), in one call: the
# CUDA build of the application (and, with BASE=<commit>, of that commit's application beside it,
# against the same Kokkos, from the tarball `git archive -o .carry/base-<commit>.tar <commit>`), then fits of W2's data (N = 1e7,
# d = 128, k = 1024, bench.py's data and initial centroids) for each configuration, 20 epochs each,
# run twice in turn; the median epoch of each run, and per kernel where its time goes (nsys where the
# machine has it, else scripts/bench/kokkos_events.cpp with CUDA_LAUNCH_BLOCKING=1, which makes each
# launch's host time its device time). Needs the folder of scripts/carry-deps.sh.
#   [BASE=<commit>] [CONFIGS=FILE] bash scripts/gpu-profile.sh [ARCH]   (logs in ${OUT:-out/gpu-profile})
# CONFIGS: lines "NAME BUILD FIT-FLAGS...", BUILD "new" (this tree) or "base"; default: the lines below.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-common.sh" gpu-profile "$@"
say "$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1)"
default_configs() {
  cat <<'EOF'
gemm-checked new --assign gemm-checked
gemm-checked-base base --assign gemm-checked
float-auto new
half-auto new --precision half
half-262144 new --precision half --batch-size 262144
half-one-chunk new --precision half --batch-size 10000000
EOF
}
configs=$(if [[ -n "${CONFIGS:-}" ]]; then cat "$CONFIGS"; else default_configs; fi)
bash scripts/bootstrap.sh --no-apt --source "$CARRY/kokkos-src" --cuda "$ARCH" --jobs "$(nproc)" >"$OUT/build.log" 2>&1 ||
  { tail -n 60 "$OUT/build.log"; exit 1; }
PREFIX=$(bash scripts/bootstrap.sh --print-prefix --cuda "$ARCH")
BASE=${BASE:-}
BASE_K=""
if [[ -n "$BASE" ]]; then  # the base tree builds beside this one
  BASE_DIR=$(mktemp -d)
  tar -xf "$CARRY/base-$BASE.tar" -C "$BASE_DIR"
  BASE_K=$BASE_DIR/build/apps/kkmeans/kkmeans
  (cd "$BASE_DIR" && Kokkos_ROOT=$PREFIX KokkosKernels_ROOT=$PREFIX \
    bash scripts/build.sh --cuda "$ARCH" --no-bootstrap --build-dir "$BASE_DIR/build" --target kkmeans -- \
    -DKKMEANS_THIRD_PARTY_DIR="$CARRY/third_party" >"$OUT/build-base.log" 2>&1) &
fi
bash scripts/build.sh --cuda "$ARCH" --no-bootstrap --target kkmeans -- \
  -DKKMEANS_THIRD_PARTY_DIR="$CARRY/third_party" -DKKMEANS_ENABLE_PYTHON=OFF >>"$OUT/build.log" 2>&1 ||
  { tail -n 60 "$OUT/build.log"; exit 1; }
wait
[[ -z "$BASE" || -x "$BASE_K" ]] || { tail -n 60 "$OUT/build-base.log"; exit 1; }
say "built"
DATA=$(mktemp -d)
python3 scripts/bench/bench.py --kkmeans "$K" --workload W2 --iters 2 --out "$DATA" --skip torch scikit faiss \
  --results "$DATA/results" >"$OUT/data.log" 2>&1 || { tail -n 20 "$OUT/data.log"; exit 1; }
say "data ready"
NSYS=$(command -v nsys || ls /usr/local/cuda/bin/nsys 2>/dev/null || true)
g++ -O2 -shared -fPIC -o "$DATA/events.so" scripts/bench/kokkos_events.cpp
fit() {  # BINARY NAME FLAGS...: 20 epochs from bench.py's centroids, report in $DATA/NAME.json
  local bin=$1 name=$2
  shift 2
  "$bin" fit --input "$DATA/W2.h5:/points" --k 1024 --init-from "$DATA/W2_init.h5:/init" --max-epochs 20 --tol 0 \
    --no-stop-on-no-change --quiet --report "$DATA/$name.json" --output "$DATA/$name.h5" --overwrite "$@"
}
median_ms() {
  python3 -c "import json,statistics,sys; h=json.load(open(sys.argv[1]))['history'][1:]; \
print('%.2f ms/epoch (min %.2f, %s)' % (1e3*statistics.median(e['seconds'] for e in h), 1e3*min(e['seconds'] for e in h), \
json.load(open(sys.argv[1])).get('assign_path','')))" "$1"
}
for round in 1 2; do
  while read -r name which flags; do
    [[ -z "$name" ]] && continue
    bin=$K
    [[ $which == base ]] && { [[ -n "$BASE_K" ]] || continue; bin=$BASE_K; }
    # shellcheck disable=SC2086
    fit "$bin" "$name" $flags && say "$name, run $round: $(median_ms "$DATA/$name.json")"
  done <<<"$configs"
done
while read -r name which flags; do
  [[ -z "$name" ]] && continue
  bin=$K
  [[ $which == base ]] && { [[ -n "$BASE_K" ]] || continue; bin=$BASE_K; }
  if [[ -n "$NSYS" ]]; then
    # shellcheck disable=SC2086
    "$NSYS" profile -o "$DATA/$name" --force-overwrite true "$bin" fit --input "$DATA/W2.h5:/points" --k 1024 \
      --init-from "$DATA/W2_init.h5:/init" --max-epochs 5 --tol 0 --no-stop-on-no-change --quiet \
      --output "$DATA/p.h5" --overwrite $flags >/dev/null 2>&1 &&
      "$NSYS" stats -q --report cuda_gpu_kern_sum --format csv "$DATA/$name.nsys-rep" >"$OUT/kernels-$name.csv" 2>&1
  else
    # shellcheck disable=SC2086
    CUDA_LAUNCH_BLOCKING=1 KKM_EVENTS_OUT="$OUT/events-$name.txt" KKM_EVENTS_TOP=40 \
      KOKKOS_TOOLS_LIBS="$DATA/events.so" KOKKOS_PROFILE_LIBRARY="$DATA/events.so" \
      "$bin" fit --input "$DATA/W2.h5:/points" --k 1024 --init-from "$DATA/W2_init.h5:/init" --max-epochs 5 --tol 0 \
      --no-stop-on-no-change --quiet --output "$DATA/p.h5" --overwrite $flags
  fi
done <<<"$configs"
say "profiles: ${NSYS:-kokkos_events with CUDA_LAUNCH_BLOCKING=1}"
rm -rf "$DATA" "${BASE_DIR:-}"
say "done: $OUT"
