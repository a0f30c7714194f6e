#pragma once
// The built-in metrics (kkm::metric_names) as Python's Metric objects: each call picks the metric
// type by name, so one instantiation per precision serves all five. The precisions compile in
// separate files (PyBuiltinFloat.cpp, PyBuiltinDouble.cpp, PyBuiltinHalf.cpp, PyBuiltinBfloat16.cpp), in
// parallel.
#include <kkmeans/metrics/KKM_MetricByName.hpp>
#include <kkmeans/python/KKM_PyMetric.hpp>

#include <string>

namespace kkm::python {

template <class T>
MetricOps<T> builtin_ops(std::string const& name) {
  using C = compute_t<T>;
  auto iou_column = [](py::dict const& o) { return o["iou_column"].cast<int>(); };
  MetricOps<T> ops;
  ops.fit = [=](Rows<T> const& x, Rows<C> const& w, py::object const& init, py::dict const& o,
                py::object const& comm, std::intptr_t labels_out) {
    return with_metric(name, iou_column(o), [&](auto m) { return fit_rows<T>(m, x, w, init, o, comm, labels_out); });
  };
  ops.predict = [=](Rows<T> const& x, py::array_t<C> const& c, py::dict const& o, std::intptr_t labels_out,
                    bool with_distances) {
    return with_metric(name, iou_column(o),
                       [&](auto m) { return predict_rows<T>(m, x, c, labels_out, with_distances); });
  };
  ops.transform = [=](Rows<T> const& x, py::array_t<C> const& c, py::dict const& o) {
    return with_metric(name, iou_column(o), [&](auto m) { return transform_rows<T>(m, x, c); });
  };
  return ops;
}

extern template MetricOps<float> builtin_ops<float>(std::string const&);
extern template MetricOps<double> builtin_ops<double>(std::string const&);
extern template MetricOps<float16> builtin_ops<float16>(std::string const&);
extern template MetricOps<bfloat16> builtin_ops<bfloat16>(std::string const&);

}  // namespace kkm::python
