"""kkmeans.KMeans as a scikit-learn estimator: scikit-learn's own checks, the library's results, quality
against scikit-learn, zero-copy input, errors. Run by ctest (python_estimator) with PYTHONPATH set to
the build's python folder; KKMEANS_APP names the kkmeans executable, KKMEANS_SIPU_DIR the data sets."""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pytest

import kkmeans
from kkmeans import KMeans


def blobs(n=3000, d=4, k=5, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10, 10, (k, d))
    x = centers[np.arange(n) % k] + rng.normal(0, 1, (n, d))
    return np.ascontiguousarray(x, dtype=dtype)


# --- scikit-learn's estimator checks -----------------------------------------------------------------


def test_passes_scikit_learns_estimator_checks():
    import inspect

    from sklearn.exceptions import SkipTestWarning
    from sklearn.utils.estimator_checks import check_estimator

    if "expected_failed_checks" in inspect.signature(check_estimator).parameters:  # scikit-learn >= 1.6
        check_estimator(KMeans(), expected_failed_checks=KMeans.expected_failed_checks)  # raises on a failure
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_estimator(KMeans())  # raises on the first failing check
    skipped = {str(w.message) for w in caught if issubclass(w.category, SkipTestWarning)}
    # The one check declared as not applicable (README, "Python"); nothing else may be skipped.
    assert skipped and all("check_sample_weights_invariance" in s for s in skipped), skipped


# --- the library's results ---------------------------------------------------------------------------


def test_same_centroids_and_labels_as_the_application():
    """The same data, seed and options through `kkmeans fit` and through Python: identical results."""
    h5py = pytest.importorskip("h5py")
    app = os.environ["KKMEANS_APP"]
    x = blobs(5000, 6, 7, seed=3)
    with tempfile.TemporaryDirectory() as tmp:
        with h5py.File(f"{tmp}/x.h5", "w") as f:
            f["points"] = x
        for i, init in enumerate(("kmeans++", "kmeans||", "random")):
            subprocess.run([app, "fit", "--input", f"{tmp}/x.h5:/points", "--k", "7", "--seed", "11", "--init", init,
                            "--assign", "fused", "--output", f"{tmp}/m{i}.h5", "--quiet"], check=True,
                           env=dict(os.environ, OMP_PROC_BIND="false"))
            km = KMeans(7, init=init, random_state=11, assign="fused").fit(x)
            with h5py.File(f"{tmp}/m{i}.h5") as f:
                np.testing.assert_array_equal(km.cluster_centers_, f["centroids"][...].astype(np.float32))
                np.testing.assert_array_equal(km.labels_, f["labels"][...])
                assert km.inertia_ == pytest.approx(float(f.attrs["inertia"]), rel=1e-12)


def test_repeated_fits_and_batch_sizes_agree():
    x = blobs(4000, 3, 6, seed=5)
    a = KMeans(6, random_state=2).fit(x)
    for batch in (1, 97, 4000):
        b = KMeans(6, random_state=2, batch_size=batch).fit(x)
        np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
        np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.labels_.dtype == np.int32 and a.n_iter_ >= 1 and a.stop_reason_


def test_predict_transform_score_fit_predict():
    x = blobs(2000, 4, 5, seed=1)
    km = KMeans(5).fit(x)
    np.testing.assert_array_equal(km.predict(x), km.labels_)
    np.testing.assert_array_equal(KMeans(5).fit_predict(x), km.labels_)
    d = km.transform(x)
    assert d.shape == (2000, 5) and d.dtype == np.float32
    brute = np.sqrt(((x[:, None, :].astype(np.float64) - km.cluster_centers_[None].astype(np.float64)) ** 2).sum(-1))
    np.testing.assert_allclose(d, brute, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(d.argmin(1), km.labels_)
    assert km.score(x) == pytest.approx(-km.inertia_, rel=1e-6)
    w = np.linspace(0, 2, 2000)
    assert km.score(x, sample_weight=w) == pytest.approx(-(w * (brute.min(1) ** 2)).sum(), rel=1e-4)


def test_given_initial_centroids_and_weights():
    x = blobs(1500, 2, 3, seed=4)
    c0 = x[[0, 1, 2]].astype(np.float64)
    km = KMeans(3, init=c0, max_iter=1, tol=0).fit(x)
    assert km.init_ == "given"
    labels0 = ((x[:, None, :] - c0[None]) ** 2).sum(-1).argmin(1)
    means = np.array([x[labels0 == q].mean(0) for q in range(3)])
    np.testing.assert_allclose(km.cluster_centers_, means, rtol=1e-5)
    w = np.ones(1500)
    w[::2] = 0  # rows with weight 0 do not move the centroids
    kw = KMeans(3, init=c0, max_iter=1, tol=0).fit(x, sample_weight=w)
    means_w = np.array([x[(labels0 == q) & (w > 0)].mean(0) for q in range(3)])
    np.testing.assert_allclose(kw.cluster_centers_, means_w, rtol=1e-5)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan"])
def test_other_metrics_label_rows_by_their_distance(metric):
    from scipy.spatial.distance import cdist

    x = blobs(1200, 5, 4, seed=7, dtype=np.float64) + 20  # cosine wants rows away from the origin
    km = KMeans(4, metric=metric, precision="double").fit(x)
    name = {"euclidean": "euclidean", "cosine": "cosine", "manhattan": "cityblock"}[metric]
    dist = cdist(x, km.cluster_centers_, metric=name)
    np.testing.assert_array_equal(dist.argmin(1), km.labels_)
    np.testing.assert_allclose(km.transform(x), dist, rtol=1e-9, atol=1e-9)


def test_quality_within_one_percent_of_scikit_learn_on_the_golden_sets():
    folder = os.environ.get("KKMEANS_SIPU_DIR", "")
    golden = os.environ.get("KKMEANS_GOLDEN_DIR", "")
    if not os.path.isdir(folder):
        if os.environ.get("KKMEANS_REQUIRE_SIPU"):
            pytest.fail(f"sipu data missing in {folder}")
        pytest.skip(f"sipu data not found in {folder}")
    with open(f"{golden}/sipu_sklearn.json") as f:
        ref = json.load(f)
    for name, s in ref["sets"].items():
        if s["n"] > 50000:
            continue  # birch1 (1e5 rows, k = 100): the C++ quality test covers it
        with gzip.open(f"{folder}/{name}.data.gz", "rt") as f:
            x = np.loadtxt(f, dtype=np.float64)
        km = KMeans(s["k"], init="kmeans++", n_init=ref["n_init"], precision="double").fit(x)
        assert km.inertia_ <= 1.01 * s["inertia"], (name, km.inertia_, s["inertia"])


# --- zero copy ---------------------------------------------------------------------------------------


def test_rows_of_the_working_dtype_are_used_in_place():
    if not kkmeans._kkmeans.host_rows_in_place:
        pytest.skip(f"{kkmeans.device}: host rows are copied to the device")
    x32 = blobs(1000, 3, 4)
    assert KMeans(4).fit(x32)._rows_address == x32.ctypes.data
    x64 = x32.astype(np.float64)
    assert KMeans(4, precision="double").fit(x64)._rows_address == x64.ctypes.data
    ro = x32.copy()
    ro.flags.writeable = False  # read-only (e.g. a memory map) is used in place too
    assert KMeans(4).fit(ro)._rows_address == ro.ctypes.data
    # Other dtypes and layouts are converted once, and the caller's array is left as it was.
    for other, precision in ((x64, "float"), (np.asfortranarray(x32), "float"), (x32[:, :2], "float")):
        before = other.copy()
        assert KMeans(4, precision=precision).fit(other)._rows_address != other.ctypes.data
        np.testing.assert_array_equal(other, before)


def expect_fit_of_float_values(precision, rows, x, f, w):
    """KMeans(precision) fitted on `rows` (and used on x) gives the float fit of f, their values as
    float32, for each metric's update rule: centroids, labels, inertia, predict, transform, score."""
    for metric in ("sqeuclidean", "cosine", "manhattan"):
        a = KMeans(5, metric=metric, precision=precision, random_state=3).fit(rows, sample_weight=w)
        b = KMeans(5, metric=metric, random_state=3).fit(f, sample_weight=w)
        assert a.cluster_centers_.dtype == np.float32
        np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
        np.testing.assert_array_equal(a.labels_, b.labels_)
        assert a.inertia_ == b.inertia_
        np.testing.assert_array_equal(a.predict(x), b.predict(f))  # (x rounded to 16 bits first)
        np.testing.assert_array_equal(a.transform(rows), b.transform(f))
        assert a.transform(rows).dtype == np.float32
        assert a.score(rows) == b.score(f)


def test_half_rows_fit_as_their_values_in_float():
    """precision "half" keeps the rows as float16 (float16 arrays in place on host backends, others
    rounded once); centroids, labels, inertia, predict and transform are those of the float fit of the
    same float16 values, with weights and with every metric's update rule."""
    x = blobs(2000, 6, 5, seed=3, dtype=np.float64)
    h = x.astype(np.float16)
    f = h.astype(np.float32)
    w = np.random.default_rng(4).uniform(0.5, 2.0, len(x))
    expect_fit_of_float_values("half", h, x, f, w)
    c = KMeans(5, precision="half", random_state=3).fit(x)  # float64 rounded once to float16
    np.testing.assert_array_equal(c.cluster_centers_, KMeans(5, random_state=3).fit(f).cluster_centers_)
    if kkmeans._kkmeans.host_rows_in_place:
        assert KMeans(5, precision="half").fit(h)._rows_address == h.ctypes.data


def test_half_rows_beyond_float16s_range_are_refused_by_name():
    x = blobs(100, 3, 2, dtype=np.float64)
    x[7, 2] = 70000.0
    with pytest.raises(ValueError, match=r"X: value 70000 in row 7, column 2 is beyond float16's range \(±65504\): "
                                         r"use precision 'float'"):
        KMeans(2, precision="half").fit(x)
    x[7, 2] = 65519.0  # rounds to 65504: in range
    KMeans(2, precision="half").fit(x)
    km = KMeans(2, precision="half").fit(blobs(100, 3, 2))
    with pytest.raises(ValueError, match="beyond float16's range"):
        km.predict(np.full((4, 3), -1e6))


def bfloat16_reference(v):
    """v (a float64) rounded to bfloat16 by exact rational arithmetic: the nearest of the two bfloat16
    values around it, ties to the even bit pattern; as float64 (every bfloat16 value is one)."""
    from fractions import Fraction

    if v == 0:
        return v
    m, e = np.frexp(abs(v))  # |v| = m · 2^e, 0.5 ≤ m < 1
    e = max(int(e), -125)  # below bfloat16's (float32's) least normal exponent: its subnormal spacing
    step = Fraction(2) ** (e - 8)  # 8 significant bits
    q, r = divmod(Fraction(abs(v)), step)
    q += 1 if r > step / 2 or (r == step / 2 and q % 2 == 1) else 0
    return float(q * step) * (1 if v > 0 else -1)


def test_bfloat16_rows_are_rounded_once_to_nearest_even():
    """float64 values rounded once (not through float32's nearest: near bfloat16's ties that double
    rounding moves), float32 and integers, subnormals and signs, against exact arithmetic."""
    from kkmeans import _checks

    tie = 1 + 2.0**-8  # 1 + half a bfloat16 step: a tie, to even (1.0)
    vals = [tie, tie + 2.0**-40, tie - 2.0**-40, -(tie + 2.0**-40), 1 + 3 * 2.0**-8, 3.0e38, 1e-40, -1e-42, 2.0**-140,
            0.1, -7.3, 65504.0, 123456789.0]
    vals += list(np.random.default_rng(7).normal(0, 1e3, 400))
    x = np.array(vals, dtype=np.float64)
    bits = _checks.narrowed(x, np.uint16)
    got = (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    want = np.array([bfloat16_reference(v) for v in vals])
    np.testing.assert_array_equal(got, want)
    assert got[1] == 1 + 2.0**-7  # above the tie: up (through float32's nearest it would be the tie, then 1.0)
    f = x.astype(np.float32)
    np.testing.assert_array_equal(_checks.narrowed(f, np.uint16),
                                  _checks.narrowed(f.astype(np.float64), np.uint16))
    np.testing.assert_array_equal(_checks.narrowed(np.array([3, -200, 257]), np.uint16), [0x4040, 0xC348, 0x4380])


def test_bfloat16_rows_fit_as_their_values_in_float():
    """precision "bfloat16": the fit, predict, transform and score of the float32 fit of the same
    bfloat16 values, with weights, for each metric's update rule."""
    x = blobs(2000, 6, 5, seed=5, dtype=np.float64)
    from kkmeans import _checks

    f = (_checks.narrowed(x, np.uint16).astype(np.uint32) << 16).view(np.float32)
    w = np.random.default_rng(6).uniform(0.5, 2.0, len(x))
    expect_fit_of_float_values("bfloat16", x, x, f, w)
    # The caller's uint16 array is integers, rounded like any other numbers, not taken for bits.
    u = np.arange(1, 401, dtype=np.uint16).reshape(200, 2)
    c = KMeans(3, precision="bfloat16", random_state=1).fit(u)
    d = KMeans(3, random_state=1).fit((_checks.narrowed(u, np.uint16).astype(np.uint32) << 16).view(np.float32))
    np.testing.assert_array_equal(c.cluster_centers_, d.cluster_centers_)


def test_bfloat16_rows_beyond_range_or_not_finite_are_refused_by_name():
    x = blobs(100, 3, 2, dtype=np.float64)
    x[4, 1] = -3.4e38
    with pytest.raises(ValueError, match=r"X: value -3.4e\+38 in row 4, column 1 is beyond bfloat16's range "
                                         r"\(±3.39e38\): use precision 'float'"):
        KMeans(2, precision="bfloat16").fit(x)
    x[4, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        KMeans(2, precision="bfloat16").fit(x)


# --- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("params, kind, message", [
    ({"metric": "chebyshev"}, ValueError,
     "unknown metric 'chebyshev' (use one of: sqeuclidean, euclidean, cosine, manhattan, iou)"),
    ({"empty": "spill"}, ValueError, "unknown empty-cluster policy 'spill' (use one of: drop, split, farthest, keep)"),
    ({"init": "k-means++"}, ValueError, "unknown init 'k-means++' (use one of: auto, kmeans++, kmeans||, random)"),
    ({"mode": "online"}, ValueError, "unknown mode 'online' (use one of: lloyd, minibatch, seed)"),
    ({"assign": "tensor"}, ValueError, "unknown assign path 'tensor'"),
    ({"precision": "float8"}, ValueError, "unknown precision 'float8' (use one of: float, double, half, bfloat16)"),
    ({"batch_size": 0}, ValueError, "batch size must be a positive integer or auto, got '0'"),
    ({"n_clusters": 0}, ValueError, "n_clusters must be at least 1, got 0"),
    ({"n_clusters": 2.5}, TypeError, "n_clusters must be an integer, got 2.5"),
    ({"tol": -1.0}, ValueError, "tol must be ≥ 0, got -1.0"),
    ({"random_state": -1}, ValueError, "random_state must be an integer in [0, 2^64), got -1"),
    # integers beyond the library's types are refused by name, not by a failed conversion
    ({"random_state": 2**64}, ValueError, "random_state must be an integer in [0, 2^64)"),
    ({"max_iter": 2**31}, ValueError, "max_iter must be at most 2147483647, got 2147483648"),
    ({"n_init": 2**40}, ValueError, "n_init must be at most 2147483647"),
    ({"n_clusters": 2**31}, ValueError, "n_clusters must be at most 2147483647"),
    ({"batch_size": 2**63}, ValueError, "batch size must be a positive integer or auto"),
    ({"n_clusters": 3000}, ValueError, "k = 3000 exceeds the number of rows (n_samples = 100)"),
    ({"assign": "gemm", "metric": "cosine"}, ValueError, "the GEMM assignment path needs a squared-Euclidean metric"),
])
def test_bad_parameters_raise_the_applications_message(params, kind, message):
    with pytest.raises(kind) as e:
        KMeans(**{"n_clusters": 3, **params}).fit(blobs(100, 2, 3))
    assert message in str(e.value)


def test_bad_data_raises_value_error_and_leaves_the_interpreter_alive():
    x = blobs(100, 2, 3)
    bad = x.copy()
    bad[7, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KMeans(3).fit(bad)
    with pytest.raises(ValueError, match="negative, NaN or infinite"):  # the library's message
        KMeans(3).fit(x, sample_weight=np.r_[-1.0, np.ones(99)])
    with pytest.raises(ValueError, match="metric iou needs box width and height"):
        KMeans(3, metric="iou", iou_column=1).fit(x)
    with pytest.raises(ValueError, match="beyond the range of float32"):
        KMeans(3, init=np.array([[1e300, 0], [0, 0], [1, 1]])).fit(x)
    with pytest.raises(ValueError, match="beyond float32's range"):  # squared distances would overflow
        KMeans(3).fit(x * np.float32(1e19))
    with pytest.raises(ValueError, match="sample weights span too wide a range"):
        KMeans(3).fit(x, sample_weight=np.r_[1e30, np.ones(99)])
    km = KMeans(3).fit(x)
    with pytest.raises(ValueError, match="X has 3 features, but KMeans is expecting 2"):
        km.predict(blobs(10, 3, 2))
    assert KMeans(3).fit(x).n_iter_ >= 1  # still working


# --- the seed's interface and the examples -----------------------------------------------------------


def test_kmeans_core_is_the_seed_mode():
    x = blobs(6000, 4, 8, seed=9)
    core = kkmeans.kmeans_core(8, x, batch_size=1000, epochs=5)
    idx = core.run()
    km = KMeans(8, init="random", mode="seed", batch_size=1000, max_iter=5).fit(x)
    np.testing.assert_array_equal(idx, km.labels_)
    np.testing.assert_array_equal(core.cent, km.cluster_centers_)
    assert core.k == km.cluster_centers_.shape[0] and idx is core.idx


def test_anchor_box_example_recovers_the_planted_anchors():
    example = os.path.join(os.path.dirname(__file__), "..", "..", "apps", "python", "examples", "anchor_boxes.py")
    out = subprocess.run([sys.executable, example, "20000", "2"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "k = 9" in out.stdout


def test_a_metric_compiled_from_cpp():
    folder = os.environ.get("KKMEANS_EXAMPLE_METRICS")
    if not folder:
        pytest.skip("the custom-metric example was not built")
    sys.path.insert(0, folder)
    import my_metrics

    x = blobs(3000, 3, 5, seed=6, dtype=np.float64)
    km = KMeans(5, metric=my_metrics.chebyshev, precision="double").fit(x)
    cheb = np.abs(x[:, None, :] - km.cluster_centers_[None]).max(-1)
    np.testing.assert_array_equal(cheb.argmin(1), km.labels_)
    np.testing.assert_allclose(km.transform(x), cheb, rtol=1e-12)
    assert repr(my_metrics.chebyshev) == "<kkmeans metric 'chebyshev'>"


def test_data_in_host_streams_the_rows_and_changes_nothing():
    """data_in="host" as --data-in host: the rows stay in host memory and each epoch streams them through
    device chunks within device_memory; the labels and centroids are those of data_in="device"."""
    x = blobs(6000, 8, 5, seed=3)
    w = np.linspace(0.5, 2.0, len(x))
    for kw in ({}, {"metric": "manhattan"}):
        a = KMeans(7, random_state=3, data_in="device", **kw).fit(x, sample_weight=w)
        b = KMeans(7, random_state=3, data_in="host", device_memory="200K", **kw).fit(x, sample_weight=w)
        assert (a.data_in_, b.data_in_) == ("device", "host")
        np.testing.assert_array_equal(a.labels_, b.labels_)
        np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    with pytest.raises(ValueError, match="unknown data_in 'disk' \\(use one of: auto, device, host\\)"):
        KMeans(4, data_in="disk").fit(x)
    with pytest.raises(ValueError, match="two chunk buffers"):
        KMeans(4, init="random", data_in="host", device_memory="30K").fit(x)


def test_checked_paths_give_the_fused_kernels_fit():
    """assign="gemm-checked" and "fused-checked" rank centroids by a product and measure every one it
    cannot rule out exactly: the fused kernel's labels and centroids, bit for bit."""
    x = blobs(3000, 40, 12, seed=3)
    fused = KMeans(64, assign="fused", max_iter=5, random_state=4).fit(x)
    for path in ("gemm-checked", "fused-checked"):
        other = KMeans(64, assign=path, max_iter=5, random_state=4).fit(x)
        np.testing.assert_array_equal(fused.labels_, other.labels_)
        np.testing.assert_array_equal(fused.cluster_centers_, other.cluster_centers_)


def test_device_memory_budget_bounds_the_work_and_changes_nothing():
    """device_memory as --device-memory: a budget the checked GEMM path's batches fit into gives the
    labels and centroids of a fit without one; too small a budget, or a malformed one, is a ValueError
    with the command line's message."""
    x = blobs(4000, 8, 5, seed=2)
    free = KMeans(64, assign="gemm-checked", max_iter=5, random_state=4).fit(x)
    tight = KMeans(64, assign="gemm-checked", max_iter=5, random_state=4, device_memory="600K").fit(x)
    np.testing.assert_array_equal(free.labels_, tight.labels_)
    np.testing.assert_array_equal(free.cluster_centers_, tight.cluster_centers_)
    assert KMeans(64, assign="gemm-checked", max_iter=5, random_state=4, device_memory=2**20).fit(x).inertia_ == \
        pytest.approx(free.inertia_, rel=1e-12)
    with pytest.raises(ValueError, match="budget of 300.00 KiB leaves .* allow at least 471.63 KiB"):
        KMeans(64, assign="gemm-checked", device_memory="300K").fit(x)
    for bad in ("12Q", "-1", 0, 1.5, True):
        with pytest.raises(ValueError, match="device memory must be a number of bytes"):
            KMeans(4, device_memory=bad).fit(x)
