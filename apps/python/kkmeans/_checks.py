"""Checks and conversions of the estimator's parameters and inputs, with the command line's messages.

The compiled module checks names again (kkm::parse_name); these run first so that a wrong type is a
TypeError and a wrong value a ValueError before any work.
"""
import numbers

import numpy as np

from . import _kkmeans

# bfloat16 rows travel as their bits in uint16 (numpy has no bfloat16): never a caller's own uint16
# array, which is integers to be rounded (narrowed below).
_DTYPES = {"float": np.float32, "double": np.float64, "half": np.float16, "bfloat16": np.uint16}


def choice(what, value, allowed):
    """`value` if it is one of `allowed`, else ValueError "unknown <what> 'v' (use one of: a, b)"."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"unknown {what} '{value}' (use one of: {', '.join(allowed)})")
    return value


INT_MAX = 2**31 - 1  # the library's int parameters (k, epochs, restarts, columns)


def integer(name, value, minimum, maximum=INT_MAX):
    """An int in [minimum, maximum] (numpy integers too; bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
    return int(value)


def working_dtype(precision):
    """The rows' dtype of a precision."""
    return _DTYPES[choice("precision", precision, list(_DTYPES))]


def compute_dtype(precision):
    """The dtype of the centroids and weights of a precision: float32 for 16-bit rows."""
    return np.float32 if np.dtype(working_dtype(precision)).itemsize == 2 else working_dtype(precision)


def dtype_name(dtype):
    """The name of a working dtype as users know it (bfloat16 for its bits)."""
    return "bfloat16" if np.dtype(dtype) == np.uint16 else np.dtype(dtype).name


def bfloat16_bits(a):
    """The bits of float64 values rounded once to bfloat16, to nearest with ties to even. (Through
    float32 rounded to odd: float32's 16 more mantissa bits keep the one rounding exact.)"""
    t = a.astype(np.float32)
    with np.errstate(invalid="ignore"):
        t = np.where(np.abs(t) > np.abs(a), np.nextafter(t, np.float32(0)), t)  # toward zero
        u = t.view(np.uint32) | (t != a).astype(np.uint32)  # inexact: the last bit set (odd)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def narrowed(x, dtype, what="X"):
    """x itself, or for 16-bit rows a numpy x of another dtype rounded once to them (ties to even):
    float16 values, or bfloat16's bits (ml_dtypes' bfloat16 arrays are their bits already); a finite
    value beyond the type's range is a ValueError naming it."""
    dtype = np.dtype(dtype)
    if dtype.itemsize != 2 or is_cuda_array(x):
        return x
    a = np.asarray(x)
    if dtype == np.float16:
        if a.dtype == np.float16 or a.dtype.kind not in "fiu":
            return x
        with np.errstate(over="ignore"):
            h = a.astype(np.float16)
        beyond, largest = np.isinf(h), "±65504"
    else:
        if a.dtype.name == "bfloat16":
            return a.view(np.uint16)
        from sklearn.utils import assert_all_finite

        a = np.asarray(a, dtype=np.float64)  # (the bits cannot say NaN to the checks that follow)
        assert_all_finite(a, input_name=what)
        h = bfloat16_bits(a)
        beyond, largest = (h & 0x7FFF) == 0x7F80, "±3.39e38"
    beyond &= np.isfinite(a)
    if beyond.any():
        at = np.argwhere(beyond)[0]
        where = f"row {at[0]}, column {at[1]}" if a.ndim == 2 else f"element {at[0]}"
        raise ValueError(f"{what}: value {a[tuple(at)]:.9g} in {where} is beyond {dtype_name(dtype)}'s range "
                         f"({largest}): use precision 'float'")
    return h


def metric_object(metric):
    """The compiled Metric for a built-in name or a Metric object (kkm::python::export_metric)."""
    if isinstance(metric, _kkmeans.Metric):
        return metric
    return _kkmeans.metrics[choice("metric", metric, list(_kkmeans.metrics))]


def device_memory(value):
    """Bytes of a device-memory budget: "auto" (0: the device's free memory), a positive integer, or a
    size such as "8G" read as the command line reads it."""
    if isinstance(value, str):
        return 0 if value == "auto" else _kkmeans.byte_size("device memory", value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 < value <= 2**62:
        raise ValueError(f"device memory must be a number of bytes, optionally with K, M, G or T (powers of 1024), "
                         f"or auto; got '{value}'")
    return int(value)


def batch_rows(batch_size):
    """Rows per batch for the library: "auto" is 0."""
    if isinstance(batch_size, str) and batch_size == "auto":
        return 0
    if (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0
            or batch_size > 2**63 - 1):
        raise ValueError(f"batch size must be a positive integer or auto, got '{batch_size}'")
    return int(batch_size)


def seed_of(random_state):
    """The library's seed: an int ≥ 0 as given (0 is the command line's default); None or a
    numpy RandomState/Generator draws one, as scikit-learn's estimators do."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if not 0 <= random_state < 2**64:
            raise ValueError(f"random_state must be an integer in [0, 2^64), got {random_state}")
        return int(random_state)
    from sklearn.utils import check_random_state

    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int32).max))
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def comm_handle(comm):
    """The MPI handle of an mpi4py communicator (None: no communicator, one process; note that
    MPI_COMM_WORLD's handle is 0)."""
    if comm is None:
        return None
    if not hasattr(comm, "py2f"):
        raise TypeError(f"comm must be an mpi4py communicator (e.g. MPI.COMM_WORLD), got {type(comm).__name__}")
    if not _kkmeans.with_mpi:
        raise ValueError("this kkmeans module was built without MPI (KKMEANS_ENABLE_MPI=OFF): comm= is not available")
    return int(comm.py2f())


# --- CUDA arrays (PyTorch, CuPy, anything with __cuda_array_interface__) ----------------------------


def _torch_cuda_bfloat16(x):
    """Whether x is a PyTorch bfloat16 tensor on a GPU (whose __cuda_array_interface__ raises)."""
    return type(x).__module__.split(".")[0] == "torch" and getattr(x, "is_cuda", False) and \
        str(getattr(x, "dtype", "")) == "torch.bfloat16"


def is_cuda_array(x):
    return _torch_cuda_bfloat16(x) or hasattr(x, "__cuda_array_interface__")


def _cuda_array_layout(x):
    """(pointer, shape, dtype name, C-contiguous) of a CUDA array."""
    if _torch_cuda_bfloat16(x):
        return x.data_ptr(), tuple(x.shape), "bfloat16", x.is_contiguous()
    cai = x.__cuda_array_interface__
    shape, got = tuple(cai["shape"]), np.dtype(cai["typestr"])
    c_strides = (shape[1] * got.itemsize, got.itemsize) if len(shape) == 2 else (got.itemsize,)
    return int(cai["data"][0]), shape, got.name, cai.get("strides") in (None, c_strides)


def device_rows(x, dtype, what="X"):
    """("device", pointer, n, d) of a C-contiguous CUDA array of `dtype`, for the compiled module."""
    if _kkmeans.host_rows_in_place:
        raise TypeError(f"{what} is a CUDA array but this kkmeans module was built for {_kkmeans.device}: "
                        "pass a numpy array")
    pointer, shape, got, contiguous = _cuda_array_layout(x)
    if len(shape) not in (1, 2):
        raise ValueError(f"{what} must be 1-D or 2-D, got shape {shape}")
    want = dtype_name(dtype)
    if got != want or not contiguous:
        raise TypeError(f"{what} must be a C-contiguous CUDA array of {want} (got {got}"
                        f"{'' if contiguous else ', strided'}): convert it on the GPU "
                        f"first, e.g. x.to(torch.{want}).contiguous()")
    d = shape[1] if len(shape) == 2 else 1
    return ("device", pointer, int(shape[0]), int(d)), shape


def empty_like_device(x, n, dtype):
    """A new CUDA array of n values from the library x comes from (labels written in place)."""
    module = type(x).__module__.split(".")[0]
    if module == "torch":
        import torch

        return torch.empty(n, dtype=getattr(torch, np.dtype(dtype).name), device=x.device)
    import cupy

    return cupy.empty(n, dtype=dtype)


def as_device_like(x, values):
    """A host numpy result as an array of x's library on x's device."""
    module = type(x).__module__.split(".")[0]
    if module == "torch":
        import torch

        return torch.as_tensor(values, device=x.device)
    import cupy

    return cupy.asarray(values)
