# What the GPU-machine scripts share, sourced as
#   source "$(dirname "${BASH_SOURCE[0]}")/gpu-common.sh" NAME "$@"
# the repository root as working directory, ARCH (the script's first argument, default HOPPER90),
# OUT (default out/NAME), CARRY (KKMEANS_CARRY, default .carry), the offline environment, and say
# (prints a line with the seconds since the start and appends it to $OUT/summary.txt).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ARCH=${2:-HOPPER90}
OUT=${OUT:-$ROOT/out/$1}
CARRY=${KKMEANS_CARRY:-$ROOT/.carry}
mkdir -p "$OUT"
export KKMEANS_NO_APT=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
t0=$(date +%s)
say() { echo "$* ($(($(date +%s) - t0)) s)" | tee -a "$OUT/summary.txt"; }
