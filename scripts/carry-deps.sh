#!/usr/bin/env bash
# Packs what an offline machine without Debian's packages needs to build and test kkmeans:
# the Kokkos + Kokkos Kernels sources (patched), the third-party headers + GoogleTest sources and
# the flash-kmeans peer, into one folder (default .carry/, ignored by git). On the other machine:
#   bash scripts/bootstrap.sh --no-apt --source .carry/kokkos-src --cuda HOPPER90
#   bash scripts/test.sh --cuda HOPPER90 -- -DKKMEANS_THIRD_PARTY_DIR=$PWD/.carry/third_party
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=${1:-$ROOT/.carry}
bash "$ROOT/scripts/bootstrap.sh" --fetch-only
mkdir -p "$DEST/kokkos-src" "$DEST/third_party/include"
rm -rf "$DEST/kokkos-src/kokkos" "$DEST/kokkos-src/kokkos-kernels"
cp -r "$ROOT/.deps/src/kokkos" "$ROOT/.deps/src/kokkos-kernels" "$ROOT/.deps/src/.patched" "$DEST/kokkos-src/"
for h in CLI toml++ nlohmann fmt; do
  [[ -d /usr/include/$h ]] || { echo "carry-deps: /usr/include/$h missing (run scripts/bootstrap.sh first)" >&2; exit 1; }
  rm -rf "$DEST/third_party/include/$h"; cp -r "/usr/include/$h" "$DEST/third_party/include/"
done
rm -rf "$DEST/third_party/googletest"; cp -r /usr/src/googletest "$DEST/third_party/googletest"
# flash-kmeans and its runner, the peer of scripts/gpu-fused.sh (where this checkout has it beside it)
if [[ -d $ROOT/../shared/peers ]]; then rm -rf "$DEST/peers"; cp -r "$ROOT/../shared/peers" "$DEST/peers"; fi
du -sh "$DEST"
