#!/usr/bin/env bash
# The README example end to end: build the kkmeans application if needed (bootstrapping Kokkos on a
# fresh machine; only the `kkmeans` target, not the test suite: scripts/test.sh builds everything),
# generate 200,000 points in 12 blobs, fit k = 12 from inputs/example.toml, plot the result.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/build.sh --target kkmeans "$@"
BIN=${KKMEANS_BIN:-$ROOT/build/apps/kkmeans/kkmeans}
OUT=out/example
mkdir -p "$OUT"
export OMP_PROC_BIND=${OMP_PROC_BIND:-false}
echo "== generate: 200000 points, d = 2, 12 blobs"
"$BIN" generate -o "$OUT/blobs.h5:/points" --n 200000 --d 2 --k 12 --spread 0.4 --seed 8 --overwrite
echo "== fit: kkmeans fit inputs/example.toml"
"$BIN" fit inputs/example.toml
if /usr/bin/python3 -c "import h5py, matplotlib" 2>/dev/null; then
  /usr/bin/python3 scripts/plot_clusters.py "$OUT/model.h5" "$OUT/blobs.h5:/points" "$OUT/clusters.png"
  /usr/bin/python3 scripts/plot_history.py "$OUT/model.h5" "$OUT/history.png"
fi
echo "== done: model $OUT/model.h5, report $OUT/run.json"
