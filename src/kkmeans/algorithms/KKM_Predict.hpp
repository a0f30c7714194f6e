#pragma once
/// \file KKM_Predict.hpp
/// \brief kkm::predict (labels for given centroids), kkm::assigned_distances and kkm::transform.
#include <kkmeans/algorithms/detail/KKM_Memory.hpp>
#include <kkmeans/algorithms/detail/KKM_RowStream.hpp>
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_CheckCentroids.hpp>
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/core/KKM_HostRows.hpp>
#include <kkmeans/core/KKM_Parameters.hpp>
#include <kkmeans/core/KKM_RowSource.hpp>
#include <kkmeans/kernels/KKM_Assign.hpp>
#include <kkmeans/kernels/KKM_RowDistances.hpp>
#include <kkmeans/metrics/KKM_Metrics.hpp>
#include <kkmeans/metrics/detail/KKM_MetricTraits.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <string>
#include <type_traits>

namespace kkm {

namespace detail {

/// The model's centroids on the device, checked against the data's d and the metric.
template <class ExecSpace, class C, class Metric>
Kokkos::View<C**, Kokkos::LayoutRight, typename ExecSpace::memory_space> model_on_device(
    ExecSpace const& space, Kokkos::View<C**, Kokkos::LayoutRight, Kokkos::HostSpace> const& centroids,
    Metric const& metric, int d) {
  check_metric<Metric, C>();
  KKM_REQUIRE(int(centroids.extent(1)) == d, "the model has " + std::to_string(centroids.extent(1)) +
                                                 " columns but the data has " + std::to_string(d));
  KKM_REQUIRE(centroids.extent(0) >= 1, "the model has no centroids");
  check_centroid_values<C>(
      centroids.extent(0), d, [&](std::int64_t q, int j) { return static_cast<double>(centroids(q, j)); },
      "model centroid");
  check_metric_dimensions(metric, d);
  Kokkos::View<C**, Kokkos::LayoutRight, typename ExecSpace::memory_space> c("kkm::centroids", centroids.extent(0), d);
  Kokkos::deep_copy(space, c, centroids);
  return c;
}

/// The labels of predict over rows x (host_rows: where the host reads them, to stream them in
/// chunks that fit `device_memory` bytes beside the labels, 0: the free memory; none: read in
/// place) for centroids c on the device; the local sum of distances into `inertia`.
template <class ExecSpace, class V, class Metric>
Kokkos::View<int*, typename ExecSpace::memory_space> predict_rows(ExecSpace const& space, DeviceMatrix<ExecSpace, V> x,
                                                                  RowsOnHost<V> const& host_rows,
                                                                  DeviceMatrix<ExecSpace, compute_t<V>> c,
                                                                  Metric const& metric, double& inertia,
                                                                  std::int64_t batch_size, std::size_t device_memory) {
  using mem = typename ExecSpace::memory_space;
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  Kokkos::View<int*, mem> labels(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::labels"), n);
  Kokkos::View<double*, mem> scale("kkm::scale", d);
  AssignWorkspace<ExecSpace, V> ws;
  auto assign = [&](DeviceMatrix<ExecSpace, V> rows, Kokkos::View<int*, mem> out) {
    return assign_rows<false>(space, rows, c, scale, Kokkos::View<fixed_t*, mem>(), out, metric, GemmKind::none,
                              batch_size, ws);
  };
  if (!host_rows) {
    inertia = assign(x, labels);
    return labels;
  }
  RowStream<ExecSpace, V> stream(space, host_rows, n, d,
                                 fused_chunk_rows<ExecSpace, V, Metric>(device_memory, n, d, int(c.extent(0))));
  inertia = 0;
  stream.for_each_chunk([&](DeviceMatrix<ExecSpace, V> rows, std::int64_t r0, std::int64_t r1) {
    inertia += assign(rows, Kokkos::subview(labels, std::make_pair(r0, r1)));
  });
  return labels;
}

/// assigned_distances over all rows of x, brought chunk by chunk by `stream` where there is one.
template <class ExecSpace, class V, class Metric>
Kokkos::View<double*, typename ExecSpace::memory_space> distances_of_rows(
    ExecSpace const& space, DeviceMatrix<ExecSpace, V> x, RowStream<ExecSpace, V>* stream,
    Kokkos::View<compute_t<V>**, Kokkos::LayoutRight, typename ExecSpace::memory_space> c,
    Kokkos::View<int*, typename ExecSpace::memory_space> const& labels, Metric const& metric) {
  if (!stream) return assigned_distances_impl(space, x, c, labels, metric);
  Kokkos::View<double*, typename ExecSpace::memory_space> out(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::assigned_distances"), x.extent(0));
  stream->for_each_chunk([&](DeviceMatrix<ExecSpace, V> rows, std::int64_t r0, std::int64_t r1) {
    auto const part = std::make_pair(r0, r1);
    Kokkos::deep_copy(space, Kokkos::subview(out, part),
                      assigned_distances_impl(space, rows, c, Kokkos::subview(labels, part), metric));
  });
  return out;
}

/// assigned_distances over rows x, streamed from host_rows where there are any (as predict_rows).
template <class ExecSpace, class V, class Metric>
Kokkos::View<double*, typename ExecSpace::memory_space> distances_of_rows(
    ExecSpace const& space, DeviceMatrix<ExecSpace, V> x, RowsOnHost<V> const& host_rows,
    Kokkos::View<compute_t<V>**, Kokkos::LayoutRight, typename ExecSpace::memory_space> c,
    Kokkos::View<int*, typename ExecSpace::memory_space> const& labels, Metric const& metric,
    std::size_t device_memory) {
  if (!host_rows) return assigned_distances_impl(space, x, c, labels, metric);
  std::int64_t const n = x.extent(0);
  int const d = x.extent(1);
  RowStream<ExecSpace, V> stream(space, host_rows, n, d,
                                 fused_chunk_rows<ExecSpace, V, Metric>(device_memory, n, d, int(c.extent(0))));
  return distances_of_rows(space, x, &stream, c, labels, metric);
}

}  // namespace detail

/// Labels of the rows of `data` for given centroids (k × d, host): the nearest centroid by the
/// metric, ties → lowest index. If `inertia` is given it receives the local sum of distances. Rows
/// in host memory a device reaches across a link (or with data_in = host, any host memory) are
/// streamed to the device in chunks within `device_memory` bytes (0: its free memory), as a fit's.
template <class ExecSpace, class T, class... P, class Metric>
Kokkos::View<int*, typename ExecSpace::memory_space> predict(
    ExecSpace const& space, Kokkos::View<T**, P...> const& data,
    Kokkos::View<compute_t<T>**, Kokkos::LayoutRight, Kokkos::HostSpace> const& centroids,
    Metric const& metric, double* inertia = nullptr, std::int64_t batch_size = 0, DataIn data_in = DataIn::automatic,
    std::size_t device_memory = 0) {
  using V = std::remove_const_t<T>;
  using DataMem = typename Kokkos::View<T**, P...>::memory_space;
  auto const c = detail::model_on_device(space, centroids, metric, int(data.extent(1)));
  detail::require_streamable(data_in, Kokkos::SpaceAccessibility<Kokkos::HostSpace, DataMem>::accessible);
  bool const streamed = detail::streams_rows<ExecSpace, DataMem>(data_in);
  double s = 0;
  auto labels = detail::predict_rows(space, detail::device_rows<ExecSpace>(data),
                                     detail::RowsOnHost<V>(streamed ? data.data() : nullptr),
                                     detail::DeviceMatrix<ExecSpace, compute_t<V>>(c), metric, s, batch_size, device_memory);
  if (inertia) *inertia = s;
  return labels;
}

/// predict over rows a RowSource reads a range at a time, streamed through the device's memory as
/// kkm::fit of a source streams them.
template <class ExecSpace, class V, class Metric>
Kokkos::View<int*, typename ExecSpace::memory_space> predict(
    ExecSpace const& space, RowSource<V>& rows,
    Kokkos::View<compute_t<V>**, Kokkos::LayoutRight, Kokkos::HostSpace> const& centroids, Metric const& metric,
    double* inertia = nullptr, std::int64_t batch_size = 0, std::size_t device_memory = 0) {
  auto const c = detail::model_on_device(space, centroids, metric, rows.cols());
  double s = 0;
  auto labels = detail::predict_rows(space, detail::DeviceMatrix<ExecSpace, V>(nullptr, rows.rows(), rows.cols()),
                                     detail::RowsOnHost<V>(rows), detail::DeviceMatrix<ExecSpace, compute_t<V>>(c),
                                     metric, s, batch_size, device_memory);
  if (inertia) *inertia = s;
  return labels;
}

/// Distance of each row of `data` to the centroid its label names (e.g. the labels from predict).
/// Rows in host memory are streamed as predict streams them (data_in, device_memory as there).
template <class ExecSpace, class T, class... P, class Metric>
Kokkos::View<double*, typename ExecSpace::memory_space> assigned_distances(
    ExecSpace const& space, Kokkos::View<T**, P...> const& data,
    Kokkos::View<compute_t<T>**, Kokkos::LayoutRight, Kokkos::HostSpace> const& centroids,
    Kokkos::View<int*, typename ExecSpace::memory_space> const& labels, Metric const& metric,
    DataIn data_in = DataIn::automatic, std::size_t device_memory = 0) {
  using V = std::remove_const_t<T>;
  using DataMem = typename Kokkos::View<T**, P...>::memory_space;
  detail::check_metric<Metric, compute_t<V>>();
  int const d = data.extent(1);
  KKM_REQUIRE(int(centroids.extent(1)) == d, "the model's d differs from the data's");
  detail::require_streamable(data_in, Kokkos::SpaceAccessibility<Kokkos::HostSpace, DataMem>::accessible);
  Kokkos::View<compute_t<V>**, Kokkos::LayoutRight, typename ExecSpace::memory_space> c("kkm::centroids",
                                                                                       centroids.extent(0), d);
  Kokkos::deep_copy(space, c, centroids);
  bool const streamed = detail::streams_rows<ExecSpace, DataMem>(data_in);
  return detail::distances_of_rows(space, detail::device_rows<ExecSpace>(data),
                                   detail::RowsOnHost<V>(streamed ? data.data() : nullptr), c, labels, metric,
                                   device_memory);
}

/// assigned_distances over rows a RowSource reads, streamed as predict of a source streams them.
template <class ExecSpace, class V, class Metric>
Kokkos::View<double*, typename ExecSpace::memory_space> assigned_distances(
    ExecSpace const& space, RowSource<V>& rows,
    Kokkos::View<compute_t<V>**, Kokkos::LayoutRight, Kokkos::HostSpace> const& centroids,
    Kokkos::View<int*, typename ExecSpace::memory_space> const& labels, Metric const& metric,
    std::size_t device_memory = 0) {
  detail::check_metric<Metric, compute_t<V>>();
  KKM_REQUIRE(int(centroids.extent(1)) == rows.cols(), "the model's d differs from the data's");
  Kokkos::View<compute_t<V>**, Kokkos::LayoutRight, typename ExecSpace::memory_space> c(
      "kkm::centroids", centroids.extent(0), rows.cols());
  Kokkos::deep_copy(space, c, centroids);
  return detail::distances_of_rows(space, detail::DeviceMatrix<ExecSpace, V>(nullptr, rows.rows(), rows.cols()),
                                   detail::RowsOnHost<V>(rows), c, labels, metric, device_memory);
}

/// Distances of every row of `data` to every centroid (n × k): scikit-learn's transform. This is
/// an n × k array by design; use predict when only labels are needed.
template <class ExecSpace, class T, class... P, class Metric>
Kokkos::View<compute_t<T>**, Kokkos::LayoutRight, typename ExecSpace::memory_space> transform(
    ExecSpace const& space, Kokkos::View<T**, P...> const& data,
    Kokkos::View<compute_t<T>**, Kokkos::LayoutRight, Kokkos::HostSpace> const& centroids,
    Metric const& metric) {
  using V = std::remove_const_t<T>;
  using mem = typename ExecSpace::memory_space;
  detail::check_metric<Metric, compute_t<V>>();
  int const d = data.extent(1);
  int const k = centroids.extent(0);
  KKM_REQUIRE(int(centroids.extent(1)) == d, "the model has " + std::to_string(centroids.extent(1)) +
                                                 " columns but the data has " + std::to_string(d));
  detail::check_metric_dimensions(metric, d);
  Kokkos::View<compute_t<V>**, Kokkos::LayoutRight, mem> c("kkm::centroids", k, d);
  Kokkos::deep_copy(space, c, centroids);
  return detail::transform_impl(space, detail::device_rows<ExecSpace>(data), c, metric);
}

}  // namespace kkm
