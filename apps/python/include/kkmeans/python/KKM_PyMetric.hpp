#pragma once
/// \file KKM_PyMetric.hpp
/// \brief A metric as Python sees it: a `kkmeans._kkmeans.Metric` object whose fit, predict and
/// transform run the library's kernels with that metric, in float32, float64, float16 or bfloat16
/// (16-bit rows; centroids and weights float32) by the precision the options name.
/// The built-in metrics are such objects; a C++ metric of your own becomes one with
///
/// \code
/// #include <kkmeans/python/KKM_PyMetric.hpp>
/// struct Chebyshev { ... };                      // a kkmeans metric (see KKM_Metrics.hpp)
/// PYBIND11_MODULE(my_metrics, m) { kkm::python::export_metric<Chebyshev>(m, "chebyshev"); }
/// \endcode
///
/// built by the CMake function kkmeans_add_python_metrics (apps/python/CMakeLists.txt), then
/// `kkmeans.KMeans(metric=my_metrics.chebyshev)`. Python hands rows over as C-contiguous numpy
/// arrays of the working precision (used in place: no copy on host backends) or, in CUDA builds, as
/// device pointers of CUDA arrays (__cuda_array_interface__: no host round trip).
#include <kkmeans/python/KKM_PyFit.hpp>

#include <pybind11/pybind11.h>

#include <functional>
#include <string>
#include <utility>

namespace kkm::python {

/// What a metric offers Python, for rows of T (weights, centroids and distances in C: T, or float for
/// 16-bit rows). Each call takes the metric's options (for the built-in IoU: its box columns), so one
/// object serves every fit.
template <class T>
struct MetricOps {
  using value_type = T;
  using C = compute_t<T>;
  std::function<py::dict(Rows<T> const&, Rows<C> const&, py::object const&, py::dict const&, py::object const&,
                         std::intptr_t)>
      fit;  ///< (rows, weights, initial centroids or None, options, MPI handle or None, labels out or 0)
  std::function<py::dict(Rows<T> const&, py::array_t<C> const&, py::dict const&, std::intptr_t, bool)>
      predict;  ///< (rows, centroids, options, labels out or 0, with_distances)
  std::function<py::array_t<C>(Rows<T> const&, py::array_t<C> const&, py::dict const&)> transform;
};

/// The Python object: a name and the operations in each precision.
struct Metric {
  std::string name;
  MetricOps<float> f32;
  MetricOps<double> f64;
  MetricOps<float16> f16;
  MetricOps<bfloat16> bf16;
};

/// MetricOps of the metric make(options) returns, in precision T.
template <class T, class Make>
MetricOps<T> metric_ops(Make make) {
  using C = compute_t<T>;
  MetricOps<T> ops;
  ops.fit = [make](Rows<T> const& x, Rows<C> const& w, py::object const& init, py::dict const& o,
                   py::object const& comm, std::intptr_t labels_out) {
    return fit_rows<T>(make(o), x, w, init, o, comm, labels_out);
  };
  ops.predict = [make](Rows<T> const& x, py::array_t<C> const& c, py::dict const& o, std::intptr_t labels_out,
                       bool with_distances) { return predict_rows<T>(make(o), x, c, labels_out, with_distances); };
  ops.transform = [make](Rows<T> const& x, py::array_t<C> const& c, py::dict const& o) {
    return transform_rows<T>(make(o), x, c);
  };
  return ops;
}

/// Adds `m.<name>`: the Metric object of MetricType (default-constructed for every call).
template <class MetricType>
void export_metric(py::module_& m, char const* name) {
  py::module_::import("kkmeans._kkmeans");  // registers the Metric type this object is
  auto make = [](py::dict const&) { return MetricType{}; };
  m.attr(name) = Metric{name, metric_ops<float>(make), metric_ops<double>(make), metric_ops<float16>(make),
                       metric_ops<bfloat16>(make)};
}

}  // namespace kkm::python
