#!/usr/bin/env bash
# The Python package on a GPU machine (offline, through the device tool): the CUDA build of the module
# for the machine's python3 (PyTorch's), its tests (the CUDA-array tests among them) and
# scripts/bench/python_overhead.py on W1 (numpy rows and a CUDA tensor against the application).
# Needs the folder of scripts/carry-deps.sh; python3 needs numpy, scikit-learn, h5py, pytest, pybind11.
#   bash scripts/gpu-python.sh [ARCH]     (default HOPPER90; logs and results in ${OUT:-out/gpu-python})
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/gpu-common.sh" gpu-python "$@"
PY=$(command -v python3)
say "python: $PY $("$PY" -c 'import sys, numpy, sklearn, torch; print(sys.version.split()[0], "numpy", numpy.__version__, "sklearn", sklearn.__version__, "torch", torch.__version__, "cuda", torch.cuda.is_available())')"
build_default "$(nproc)" "$OUT/build.log" || { tail -n 60 "$OUT/build.log"; exit 1; }
compgen -G "$BUILD/python/kkmeans/_kkmeans*.so" >/dev/null || { echo "python3 has no pybind11: no module built"; exit 1; }
say "module built, $(grep -c 'warning' "$OUT/build.log") warning line(s)"
export PYTHONPATH=$ROOT/$BUILD/python KKMEANS_APP=$ROOT/$BUILD/apps/kkmeans/kkmeans OMP_PROC_BIND=false \
  KKMEANS_GOLDEN_DIR=$ROOT/tests/golden KKMEANS_EXAMPLE_METRICS=$ROOT/$BUILD/tests/python/custom_metric
"$PY" -m pytest -q -rs -p no:cacheprovider tests/python/test_cuda_arrays.py tests/python/test_estimator.py \
  >"$OUT/pytest.log" 2>&1
say "pytest exit $?: $(tail -n 1 "$OUT/pytest.log")"
PYTHONUNBUFFERED=1 "$PY" scripts/bench/python_overhead.py --kkmeans "$KKMEANS_APP" --workload W1 --repeat 5 \
  --out /tmp/kkm-pyoverhead --results "$OUT/results" 2>&1 | tee -a "$OUT/summary.txt"
say "done"
