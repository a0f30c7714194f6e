#!/usr/bin/env bash
# Time to solution and the initialisations on a GPU machine (offline, through the device tool), in one
# call: the CUDA build of the application and of the k-means++ step bench, the bench at W2's and W1's
# shapes (scripts/bench/trial_bench.cpp), scripts/bench/tts.py on W1 and W2 (results file in
# $OUT/results), and where each default fit's and W2 k-means++'s host time goes, kernel by kernel
# (scripts/bench/kokkos_events.cpp: count, total, mean and slowest call). Needs the folder of
# scripts/carry-deps.sh. About 4 minutes on an H100.
#   bash scripts/gpu-init.sh [ARCH]     (default HOPPER90; logs and results in ${OUT:-out/gpu-init})
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-common.sh" gpu-init "$@"
say "$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1)"
build_targets kkmeans kkmeans_trial_bench
for shape in "10000000 128 64" "1000000 4 64"; do
  # shellcheck disable=SC2086
  "$BUILD/apps/kkmeans_trial_bench" $shape 2>&1 | tee -a "$OUT/summary.txt"
done
DATA=$(mktemp -d)
python3 scripts/bench/tts.py --kkmeans "$K" --workload W1 W2 --repeat 1 --out "$DATA" --results "$OUT/results" \
  --machine "$MACHINE" 2>&1 | tee -a "$OUT/summary.txt"
say "tts done"
# Reading stored types other than the rows' (converted by the kernels): W2 as float64 and as float16,
# read as float32, the read phase of a one-epoch fit from its report.
python3 -c "import h5py,sys; s=h5py.File(sys.argv[1])['points']; o=h5py.File(sys.argv[2],'w'); \
d=o.create_dataset('points',s.shape,'float64'); h=o.create_dataset('half',s.shape,'float16'); \
[(d.__setitem__(slice(i,i+1000000), s[i:i+1000000]), h.__setitem__(slice(i,i+1000000), s[i:i+1000000])) \
for i in range(0,s.shape[0],1000000)]" "$DATA/W2.h5" "$DATA/W2x.h5"
for set in points half; do
  cat "$DATA/W2x.h5" >/dev/null
  "$K" fit --input "$DATA/W2x.h5:/$set" --k 1024 --init random --max-epochs 1 --quiet --output "$DATA/e.h5" \
    --overwrite --report "$DATA/read.json" &&
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); t=r['seconds']['read']; \
print(f'read W2 stored as {sys.argv[2]} into float32: {t:.2f} s, {1.28e9*int(sys.argv[3])/t/1e9:.2f} GB/s of the file')" \
      "$DATA/read.json" "$([[ $set == points ]] && echo float64 || echo float16)" "$([[ $set == points ]] && echo 8 || echo 2)" |
    tee -a "$OUT/summary.txt"
done
rm -f "$DATA/W2x.h5"
g++ -O2 -shared -fPIC -o "$DATA/events.so" scripts/bench/kokkos_events.cpp
events() {  # NAME FIT-ARGUMENTS...: one epoch of a fit, its events table in $OUT/events-NAME.txt
  local name=$1
  shift
  KKM_EVENTS_OUT="$OUT/events-$name.txt" KKM_EVENTS_TOP=40 KOKKOS_TOOLS_LIBS="$DATA/events.so" \
    KOKKOS_PROFILE_LIBRARY="$DATA/events.so" "$K" fit "$@" --max-epochs 1 --quiet --output "$DATA/e.h5" --overwrite
}
events W1-default --input "$DATA/W1.h5:/points" --k 200
events W2-default --input "$DATA/W2.h5:/points" --k 1024
events W2-kmeanspp --input "$DATA/W2.h5:/points" --k 1024 --init kmeans++
rm -rf "$DATA"
say "done: $OUT"
