#!/usr/bin/env bash
# Where an epoch's time goes, on a GPU machine (offline, through the device tool), in one call: the
# CUDA build of the application (and, with BASE=<commit>, of that commit's application beside it,
# against the same Kokkos, from the tarball `git archive -o .carry/base-<commit>.tar <commit>`), then
# fits of W1's and W2's data (bench.py's data and initial centroids) for each configuration, 20
# epochs each, run twice in turn: the median epoch of each run; the centroids and labels of the
# pairs in COMPARE ("A:B ...", default below) compared; with PROFILE=1, per kernel where the time goes (nsys where the
# machine has it, else scripts/bench/kokkos_events.cpp with CUDA_LAUNCH_BLOCKING=1, which makes each
# launch's host time its device time); with UNIT=1 the CUDA unit suite first. Needs the folder of
# scripts/carry-deps.sh.
#   [BASE=<commit>] [CONFIGS=FILE] [PROFILE=1] [UNIT=1] bash scripts/gpu-profile.sh [ARCH]
# (logs in ${OUT:-out/gpu-profile}). CONFIGS: lines "NAME BUILD WORKLOAD FIT-FLAGS...", BUILD "new"
# (this tree) or "base"; default: the lines below.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-common.sh" gpu-profile "$@"
say "$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1)"
default_configs() {
  cat <<'EOF'
W1-auto new W1
W1-auto-base base W1
gemm-checked new W2 --assign gemm-checked
gemm-checked-base base W2 --assign gemm-checked
float-auto new W2
float-w2h new W2h
half-auto new W2h --precision half
EOF
}
# (W2h: W2's values rounded to float16, stored so; widening is exact, so its 16-bit rows give the fit of
# float rows of the same values)
COMPARE=${COMPARE:-W1-auto:W1-auto-base gemm-checked:gemm-checked-base float-w2h:half-auto}
configs=$(if [[ -n "${CONFIGS:-}" ]]; then cat "$CONFIGS"; else default_configs; fi)
BASE=${BASE:-}
BASE_K=""
if [[ -z "$BASE" && -z "${UNIT:-}" ]]; then
  build_targets kkmeans  # (KKMEANS_PREBUILT=1: the carried application)
else
  bash scripts/bootstrap.sh --no-apt --source "$CARRY/kokkos-src" --cuda "$ARCH" --jobs "$(nproc)" >"$OUT/build.log" 2>&1 ||
    { tail -n 60 "$OUT/build.log"; exit 1; }
  PREFIX=$(bash scripts/bootstrap.sh --print-prefix --cuda "$ARCH")
  if [[ -n "$BASE" ]]; then  # the base tree builds beside this one
    BASE_DIR=$(mktemp -d)
    tar -xf "$CARRY/base-$BASE.tar" -C "$BASE_DIR"
    BASE_K=$BASE_DIR/build/apps/kkmeans/kkmeans
    (cd "$BASE_DIR" && Kokkos_ROOT=$PREFIX KokkosKernels_ROOT=$PREFIX \
      bash scripts/build.sh --cuda "$ARCH" --no-bootstrap --build-dir "$BASE_DIR/build" --target kkmeans -- \
      -DKKMEANS_THIRD_PARTY_DIR="$CARRY/third_party" >"$OUT/build-base.log" 2>&1) &
  fi
  targets=(--target kkmeans)
  [[ -n "${UNIT:-}" ]] && targets+=(--target kkmeans_unit_Cuda)
  bash scripts/build.sh --cuda "$ARCH" --no-bootstrap "${targets[@]}" -- \
    -DKKMEANS_THIRD_PARTY_DIR="$CARRY/third_party" -DKKMEANS_ENABLE_PYTHON=OFF >>"$OUT/build.log" 2>&1 ||
    { tail -n 60 "$OUT/build.log"; exit 1; }
  wait
  [[ -z "$BASE" || -x "$BASE_K" ]] || { tail -n 60 "$OUT/build-base.log"; exit 1; }
  say "built"
fi
if [[ -n "${UNIT:-}" ]]; then
  timeout 400 "$BUILD/tests/kkmeans_unit_Cuda" >"$OUT/unit.txt" 2>&1
  say "CUDA unit suite: exit $? ($(grep -E '^\[  (PASSED|FAILED)' "$OUT/unit.txt" | tr '\n' ' '))"
fi
DATA=$(mktemp -d)
python3 scripts/bench/bench.py --kkmeans "$K" --workload W1 W2 --iters 2 --out "$DATA" --skip torch scikit faiss \
  --results "$DATA/results" >"$OUT/data.log" 2>&1 || { tail -n 20 "$OUT/data.log"; exit 1; }
python3 -c "import h5py,sys; s=h5py.File(sys.argv[1])['points']; o=h5py.File(sys.argv[2],'w'); \
t=o.create_dataset('points',s.shape,'float16'); [t.__setitem__(slice(i,i+1000000), s[i:i+1000000].astype('float16')) \
for i in range(0,s.shape[0],1000000)]" "$DATA/W2.h5" "$DATA/W2h.h5" && cp "$DATA/W2_init.h5" "$DATA/W2h_init.h5"
say "data ready"
NSYS=$(command -v nsys || ls /usr/local/cuda/bin/nsys 2>/dev/null || true)
g++ -O2 -shared -fPIC -o "$DATA/events.so" scripts/bench/kokkos_events.cpp
fit() {  # BINARY NAME WORKLOAD EPOCHS FLAGS...: from bench.py's centroids, report in $DATA/NAME.json
  local bin=$1 name=$2 w=$3 epochs=$4 k=1024
  shift 4
  [[ $w == W1 ]] && k=200  # (W2h: W2 as float16)
  "$bin" fit --input "$DATA/$w.h5:/points" --k $k --init-from "$DATA/${w}_init.h5:/init" --max-epochs "$epochs" --tol 0 \
    --no-stop-on-no-change --quiet --report "$DATA/$name.json" --output "$DATA/$name.h5" --overwrite "$@"
}
median_ms() {
  python3 -c "import json,statistics,sys; h=json.load(open(sys.argv[1]))['history'][1:]; \
print('%.2f ms/epoch (min %.2f, %s)' % (1e3*statistics.median(e['seconds'] for e in h), 1e3*min(e['seconds'] for e in h), \
json.load(open(sys.argv[1])).get('assign_path','')))" "$1"
}
for round in 1 2; do
  while read -r name which w flags; do
    [[ -z "$name" ]] && continue
    bin=$K
    [[ $which == base ]] && { [[ -n "$BASE_K" ]] || continue; bin=$BASE_K; }
    # shellcheck disable=SC2086
    fit "$bin" "$name" "$w" 20 $flags && say "$name, run $round: $(median_ms "$DATA/$name.json")"
  done <<<"$configs"
done
for pair in $COMPARE; do
  a=$DATA/${pair%%:*}.h5 b=$DATA/${pair#*:}.h5
  [[ -f "$a" && -f "$b" ]] || continue
  v=$(python3 -c "import h5py,numpy as np,sys; a,b=h5py.File(sys.argv[1]),h5py.File(sys.argv[2]); \
print('identical' if all(np.array_equal(a[n][...],b[n][...]) for n in ('centroids','labels')) else 'DIFFERENT')" "$a" "$b")
  say "${pair%%:*} against ${pair#*:}: centroids and labels $v"
done
while [[ -n "${PROFILE:-}" ]] && read -r name which w flags; do
  [[ -z "$name" ]] && continue
  bin=$K
  [[ $which == base ]] && { [[ -n "$BASE_K" ]] || continue; bin=$BASE_K; }
  if [[ -n "$NSYS" ]]; then
    # shellcheck disable=SC2086
    "$NSYS" profile -o "$DATA/$name" --force-overwrite true bash -c "$(declare -f fit); DATA=$DATA; fit $bin p $w 5 $flags" \
      >/dev/null 2>&1 &&
      "$NSYS" stats -q --report cuda_gpu_kern_sum --format csv "$DATA/$name.nsys-rep" >"$OUT/kernels-$name.csv" 2>&1
  else
    # shellcheck disable=SC2086
    CUDA_LAUNCH_BLOCKING=1 KKM_EVENTS_OUT="$OUT/events-$name.txt" KKM_EVENTS_TOP=40 \
      KOKKOS_TOOLS_LIBS="$DATA/events.so" KOKKOS_PROFILE_LIBRARY="$DATA/events.so" fit "$bin" p "$w" 5 $flags
  fi
done <<<"$configs"
[[ -n "${PROFILE:-}" ]] && say "profiles: ${NSYS:-kokkos_events with CUDA_LAUNCH_BLOCKING=1}"
rm -rf "$DATA" "${BASE_DIR:-}"
say "done: $OUT"
