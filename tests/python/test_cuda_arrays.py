"""CUDA builds: CUDA arrays (PyTorch tensors; CuPy the same way) are fitted where they are, labels come
back as tensors on their device, and the results equal those of the same rows from numpy. Skipped
(with the reason) where the module is a host build or PyTorch has no GPU."""
import numpy as np
import pytest

import kkmeans
from kkmeans import KMeans

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(kkmeans._kkmeans.host_rows_in_place or not torch.cuda.is_available(),
                                reason=f"module built for {kkmeans.device}, or no CUDA device for PyTorch")


def test_cuda_tensors_are_fitted_in_place_and_labels_come_back_on_the_gpu():
    rng = np.random.default_rng(1)
    x = (rng.uniform(-10, 10, (8, 16))[np.arange(20000) % 8] + rng.normal(0, 1, (20000, 16))).astype(np.float32)
    xt = torch.from_numpy(x).cuda()
    a = KMeans(8, assign="fused", init="kmeans++").fit(xt)
    b = KMeans(8, assign="fused", init="kmeans++").fit(x)
    assert a._rows_address == xt.data_ptr()  # the tensor's own memory, no copy
    assert isinstance(a.labels_, torch.Tensor) and a.labels_.is_cuda and a.labels_.dtype == torch.int32
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_.cpu().numpy(), b.labels_)
    p = a.predict(xt)
    assert p.is_cuda
    np.testing.assert_array_equal(p.cpu().numpy(), b.labels_)
    w = torch.rand(20000, device="cuda", dtype=torch.float32) + 0.5
    c = KMeans(8, assign="fused").fit(xt, sample_weight=w)
    d = KMeans(8, assign="fused").fit(x, sample_weight=w.cpu().numpy())
    np.testing.assert_array_equal(c.cluster_centers_, d.cluster_centers_)


def test_float16_tensors_fit_in_place_as_the_numpy_half_fit():
    rng = np.random.default_rng(2)
    x = (rng.uniform(-10, 10, (8, 64))[np.arange(20000) % 8] + rng.normal(0, 1, (20000, 64))).astype(np.float16)
    xt = torch.from_numpy(x).cuda()
    w = torch.rand(20000, device="cuda", dtype=torch.float32) + 0.5
    a = KMeans(8, precision="half").fit(xt, sample_weight=w)
    b = KMeans(8, precision="half").fit(x, sample_weight=w.cpu().numpy())
    assert a._rows_address == xt.data_ptr()
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_.cpu().numpy(), b.labels_)


def test_bfloat16_tensors_fit_in_place_as_the_numpy_bfloat16_fit():
    rng = np.random.default_rng(3)
    x = (rng.uniform(-10, 10, (8, 64))[np.arange(20000) % 8] + rng.normal(0, 1, (20000, 64))).astype(np.float32)
    xt = torch.from_numpy(x).cuda().to(torch.bfloat16)
    a = KMeans(8, precision="bfloat16").fit(xt)
    b = KMeans(8, precision="bfloat16").fit(xt.float().cpu().numpy())  # the same values, rounded again: unchanged
    assert a._rows_address == xt.data_ptr()
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_.cpu().numpy(), b.labels_)
    with pytest.raises(TypeError, match="C-contiguous CUDA array of float32 \\(got bfloat16\\)"):
        KMeans(2).fit(xt)


def test_wrong_dtype_or_layout_is_a_type_error_naming_the_remedy():
    xt = torch.zeros((100, 4), dtype=torch.float64, device="cuda")
    with pytest.raises(TypeError, match="C-contiguous CUDA array of float32"):
        KMeans(2).fit(xt)
    with pytest.raises(TypeError, match="strided"):
        KMeans(2, precision="double").fit(xt.t())


def test_kmeans_core_with_a_cuda_tensor_returns_tensors_on_its_device():
    xt = torch.randn(5000, 4, device="cuda")
    core = kkmeans.kmeans_core(5, xt, batch_size=1000, epochs=3)
    idx = core.run()
    assert idx.is_cuda and core.cent.is_cuda and idx.shape == (5000,)
