#!/usr/bin/env bash
# One end-to-end fit (k-means++, Lloyd, output + report) and a predict under valgrind memcheck:
# no invalid access, no use of uninitialised values, no leak of kkmeans' own (MPI's are suppressed).
#   valgrind_fit.sh KKMEANS_BINARY
set -euo pipefail
BIN=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OMP_NUM_THREADS=1 OMP_PROC_BIND=false OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$BIN" generate -o "$WORK/b.h5:/points" --n 3000 --d 3 --k 5 --seed 2 --quiet
VG=(valgrind --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --suppressions="$HERE/valgrind.supp" --suppressions=/usr/share/openmpi/openmpi-valgrind.supp)
[[ -f /usr/share/openmpi/openmpi-valgrind.supp ]] || VG=("${VG[@]:0:5}")
"${VG[@]}" "$BIN" fit --input "$WORK/b.h5:/points" --k 5 --empty farthest --output "$WORK/m.h5" \
  --report "$WORK/r.json" --quiet
"${VG[@]}" "$BIN" predict --model "$WORK/m.h5" --input "$WORK/b.h5:/points" --output "$WORK/p.h5" --distances --quiet
echo "valgrind: fit and predict clean"
