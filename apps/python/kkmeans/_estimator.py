"""kkmeans.KMeans: the library's fit as a scikit-learn estimator."""
import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import _check_sample_weight, check_array, check_is_fitted

from . import _checks, _kkmeans

try:  # scikit-learn ≥ 1.6 has the function; older ones the method
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - depends on the installed scikit-learn

    def _validate_data(estimator, X, **kwargs):
        return estimator._validate_data(X, **kwargs)


class KMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """k-means by batch on Kokkos (OpenMP, CUDA) and MPI, with exact labels.

    Parameters mean what the command line's flags of the same names mean (README, "kkmeans fit"), with
    the same defaults:

    n_clusters : int, default 8 (--k)
    metric : "sqeuclidean", "euclidean", "cosine", "manhattan", "iou", or a compiled Metric
        (kkm::python::export_metric), default "sqeuclidean"
    init : "auto", "kmeans++", "kmeans||", "random", or an array (n_clusters, n_features) of initial
        centroids (--init-from), default "auto" (k-means‖ on GPUs, k-means++ on CPUs)
    n_init : int, default 1; runs with seeds random_state, random_state + 1, …; the lowest inertia wins
    max_iter : int, default 300 (--max-epochs)
    tol : float, default 1e-4
    random_state : int ≥ 0, default 0 (--seed); None or a numpy RandomState draws a seed
    batch_size : "auto" or rows per batch, default "auto"
    empty : "drop", "split", "farthest" or "keep", default "drop" (empty clusters are dropped:
        cluster_centers_ may have fewer than n_clusters rows)
    mode : "lloyd", "minibatch" or "seed" (the per-batch update of the PyTorch snippet), default "lloyd"
    precision : "float", "double", "half" or "bfloat16", the rows' precision, default "float". "half":
        the rows are kept as float16 (half the memory; float16 arrays used in place, others rounded once
        to float16, a value beyond ±65504 an error), centroids, weights and distances float32; the labels
        are exact for the float16 values. "bfloat16" the same with bfloat16 rows (float32's range, 8
        bits of mantissa; numpy arrays rounded once, PyTorch's bfloat16 tensors and ml_dtypes' arrays
        used as they are)
    assign : "auto", "fused", "gemm", "gemm-checked", "fused-checked" or "gemm-tf32x3", default "auto"
    iou_column : int or None, the width column of boxes for metric "iou" (None: 2 when there are at
        least 4 columns, else 0)
    device_memory : "auto", bytes, or a size such as "8G" (--device-memory): the most the fit may use on
        the device (rows, labels, work buffers); default "auto" (the device's free memory)
    data_in : "auto", "device" or "host" (--data-in): where the rows stay in the Lloyd epochs. "host": numpy
        rows stay in host memory (on a GPU pinned where they are, without a copy) and each epoch streams
        them to the device in chunks within device_memory, so X may be larger than the GPU; the results
        are those of "device" bit for bit. "auto": "device" if the rows fit the device, else (GPU
        builds) "host". CUDA arrays are always read where they are.
    comm : an mpi4py communicator, default None. Each rank passes its own rows; the result is the fit of
        all ranks' rows together (centroids on every rank, labels_ for the rank's own rows).

    Attributes: cluster_centers_, labels_, inertia_, n_iter_, n_features_in_, plus stop_reason_, init_
    (the initialisation used), assign_path_ (the assignment path used) and data_in_ (where the rows
    stayed in the Lloyd epochs: "device" or "host").

    Inputs: C-contiguous numpy arrays of the working precision's dtype are used in place (float32 for
    "float", float64 for "double", float16 for "half"); other arrays are converted once. With a CUDA
    build, CUDA arrays (PyTorch, CuPy: __cuda_array_interface__; PyTorch's bfloat16 tensors) stay on
    the GPU, and labels come back as such arrays.
    """

    def __init__(self, n_clusters=8, *, metric="sqeuclidean", init="auto", n_init=1, max_iter=300, tol=1e-4,
                 random_state=0, batch_size="auto", empty="drop", mode="lloyd", precision="float", assign="auto",
                 iou_column=None, device_memory="auto", data_in="auto", comm=None):
        self.n_clusters = n_clusters
        self.metric = metric
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.batch_size = batch_size
        self.empty = empty
        self.mode = mode
        self.precision = precision
        self.assign = assign
        self.iou_column = iou_column
        self.device_memory = device_memory
        self.data_in = data_in
        self.comm = comm

    # --- fit -------------------------------------------------------------------------------------

    def fit(self, X, y=None, sample_weight=None):
        """Cluster X (n_samples, n_features); sample_weight: one weight ≥ 0 per row. With comm, every
        rank calls fit with its own rows (a rank may have none)."""
        handle = _checks.comm_handle(self.comm)
        try:
            metric, rows, weights, init, options, labels_out = self._prepare_fit(X, sample_weight)
            refused = None
        except (TypeError, ValueError) as e:
            refused = e
        if self.comm is not None:
            # The fit is collective: every rank enters it, or none (a rank alone would wait forever).
            verdicts = self.comm.allgather(None if refused is None else f"{type(refused).__name__}: {refused}")
            first = next((r for r, v in enumerate(verdicts) if v), None)
            if refused is None and first is not None:
                raise ValueError(f"rank {first} refused its input: {verdicts[first]}")
        if refused is not None:
            raise refused
        out = 0 if labels_out is None else _checks.device_rows(labels_out, np.int32, "labels")[0][1]
        res = metric.fit(rows, weights, init, options, handle, out)
        self.cluster_centers_ = res["centroids"]
        self._precision = self.precision  # (the rows' dtype of predict and transform)
        self.labels_ = labels_out if labels_out is not None else res["labels"]
        self.inertia_ = float(res["inertia"])
        self.n_iter_ = int(res["epochs"])
        self.stop_reason_ = res["stop_reason"]
        self.init_ = res["init"]
        self.assign_path_ = res["path"]
        self.data_in_ = res["data_in"]
        self._rows_address = res["rows_address"]  # where the fit read X (tests check it is X's own buffer)
        # The library's own clock; "upload": copying host rows to the device (0 where they are used in place).
        self._seconds = {"init": res["seconds_init"], "epochs": res["seconds_epochs"],
                         "upload": res["seconds_upload"]}
        return self

    def _prepare_fit(self, X, sample_weight):
        """Everything fit checks and converts before the library runs."""
        dtype = _checks.working_dtype(self.precision)
        metric = _checks.metric_object(self.metric)
        options = self._options(dtype)
        wtype = _checks.compute_dtype(self.precision)
        if _checks.is_cuda_array(X):
            rows, _ = _checks.device_rows(X, dtype)
            n, d = rows[2], rows[3]
            self.n_features_in_ = d
            labels_out = _checks.empty_like_device(X, n, np.int32)
        else:
            # Under MPI a rank may hold no rows; the library checks that the ranks have some together.
            rows = _validate_data(self, _checks.narrowed(X, dtype), dtype=dtype, order="C", reset=True,
                                  ensure_min_samples=0 if self.comm is not None else 1)
            (n, d), labels_out = rows.shape, None
        options["iou_column"] = self._iou_column(d)
        if self.comm is None and n < options["n_clusters"]:
            raise ValueError(f"k = {options['n_clusters']} exceeds the number of rows (n_samples = {n})")
        weights = None
        if sample_weight is not None:
            if _checks.is_cuda_array(sample_weight):
                weights, _ = _checks.device_rows(sample_weight, wtype, "sample_weight")
            elif n == 0:  # a rank without rows (scikit-learn's check wants one)
                weights = np.asarray(sample_weight, dtype=wtype).reshape(-1)
                if weights.shape != (0,):
                    raise ValueError(f"sample_weight.shape == {weights.shape}, expected (0,)!")
            else:
                weights = np.ascontiguousarray(_check_sample_weight(sample_weight, np.empty((n, 0)), dtype=wtype))
        return metric, rows, weights, self._initial_centroids(d), options, labels_out

    def _options(self, dtype):
        c = _kkmeans.choices
        return {
            "n_clusters": _checks.integer("n_clusters", self.n_clusters, 1),
            "init": "auto" if not isinstance(self.init, str) else _checks.choice("init", self.init, c["init"]),
            "n_init": _checks.integer("n_init", self.n_init, 1),
            "max_iter": _checks.integer("max_iter", self.max_iter, 1),
            "tol": self._tol(),
            "seed": _checks.seed_of(self.random_state),
            "batch_size": _checks.batch_rows(self.batch_size),
            "device_memory": _checks.device_memory(self.device_memory),
            "data_in": _checks.choice("data_in", self.data_in, c["data_in"]),
            "empty": _checks.choice("empty-cluster policy", self.empty, c["empty"]),
            "mode": _checks.choice("mode", self.mode, c["mode"]),
            "assign": _checks.choice("assign path", self.assign, c["assign"]),
            "precision": self.precision,
            "iou_column": 0,
        }

    def _tol(self):
        if isinstance(self.tol, bool) or not isinstance(self.tol, (int, float, np.floating, np.integer)):
            raise TypeError(f"tol must be a number, got {self.tol!r}")
        if not self.tol >= 0:
            raise ValueError(f"tol must be ≥ 0, got {self.tol}")
        return float(self.tol)

    def _iou_column(self, d):
        if self.iou_column is None:
            return 2 if d >= 4 else 0
        return _checks.integer("iou_column", self.iou_column, 0)

    def _initial_centroids(self, d):
        """init as an array: the k × d starting centroids, flattened (float64), else None."""
        if isinstance(self.init, str):
            return None
        c = check_array(self.init, dtype=np.float64, order="C", copy=True)
        if c.shape != (self.n_clusters, d):
            raise ValueError(f"init: expected k × d = {self.n_clusters} × {d} centroids, got {c.shape[0]} × {c.shape[1]}")
        return c.ravel()

    # --- use -------------------------------------------------------------------------------------

    def _rows(self, X):
        """X checked against the fit and converted to its dtype (in place when it has it already)."""
        check_is_fitted(self)
        dtype = _checks.working_dtype(self._fit_precision())
        if _checks.is_cuda_array(X):
            rows, _ = _checks.device_rows(X, dtype)
            if rows[3] != self.n_features_in_:
                raise ValueError(f"X has {rows[3]} features, but KMeans is expecting {self.n_features_in_} features "
                                 "as input")
            return rows
        return _validate_data(self, _checks.narrowed(X, dtype), dtype=dtype, order="C", reset=False)

    def _fit_precision(self):
        """The precision of the fit (of a model from before it was kept: its centroids' dtype's)."""
        return getattr(self, "_precision", "float" if self.cluster_centers_.dtype == np.float32 else "double")

    def _use_options(self):
        return {"precision": self._fit_precision(), "iou_column": self._iou_column(self.n_features_in_)}

    def predict(self, X):
        """The index of each row's nearest centroid (ties: the lowest index)."""
        rows = self._rows(X)
        metric = _checks.metric_object(self.metric)
        if isinstance(rows, tuple):
            out = _checks.empty_like_device(X, rows[2], np.int32)
            metric.predict(rows, self.cluster_centers_, self._use_options(),
                           _checks.device_rows(out, np.int32, "labels")[0][1])
            return out
        return metric.predict(rows, self.cluster_centers_, self._use_options())["labels"]

    def transform(self, X):
        """Distances of each row to every centroid, n_samples × n_clusters: Euclidean for metric
        "sqeuclidean" (as scikit-learn's KMeans), otherwise the metric's own distance."""
        rows = self._rows(X)
        metric = _checks.metric_object(self.metric)
        out = metric.transform(rows, self.cluster_centers_, self._use_options())
        if metric.name == "sqeuclidean":
            out = np.sqrt(np.maximum(out, 0))
        if isinstance(rows, tuple):
            return _checks.as_device_like(X, out)
        dtype = X.dtype if isinstance(X, np.ndarray) and X.dtype in (np.float32, np.float64) else np.float64
        if self._fit_precision() in ("half", "bfloat16"):
            dtype = np.float32  # (the distances of 16-bit rows to float32 centroids)
        return out.astype(dtype, copy=False)

    def score(self, X, y=None, sample_weight=None):
        """Minus the (weighted) sum of each row's distance to its nearest centroid (the inertia)."""
        rows = self._rows(X)
        if isinstance(rows, tuple):
            raise TypeError("score needs host rows: pass a numpy array")
        metric = _checks.metric_object(self.metric)
        res = metric.predict(rows, self.cluster_centers_, self._use_options(), 0, sample_weight is not None)
        if sample_weight is None:
            return -float(res["inertia"])
        w = _check_sample_weight(sample_weight, rows, dtype=np.float64)
        return -float(np.dot(w, res["distances"]))

    # The scikit-learn checks that cannot pass, with the reason; the names the check has had over
    # scikit-learn's versions (up to 1.5 the estimator declares them in its tags; from 1.6 the caller
    # passes them to check_estimator as expected_failed_checks).
    _WEIGHTS_ARE_NOT_ROWS = ("zero or integer sample_weight is not equivalent to removing or repeating samples: "
                             "the random draws of the initialisation follow the rows' global index (as in "
                             "scikit-learn's KMeans)")
    expected_failed_checks = dict.fromkeys((
        "check_sample_weights_invariance", "check_sample_weight_equivalence",
        "check_sample_weight_equivalence_on_dense_data", "check_sample_weight_equivalence_on_sparse_data"),
        _WEIGHTS_ARE_NOT_ROWS)

    def _more_tags(self):  # scikit-learn up to 1.5
        return {"preserves_dtype": [np.float64, np.float32],
                "_xfail_checks": {"check_sample_weights_invariance": self._WEIGHTS_ARE_NOT_ROWS}}

    def __sklearn_tags__(self):  # scikit-learn 1.6 and later
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
