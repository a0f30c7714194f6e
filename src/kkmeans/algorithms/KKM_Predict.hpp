#pragma once
/// \file KKM_Predict.hpp
/// \brief kkm::predict (labels for given centroids), kkm::assigned_distances and kkm::transform.
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/core/KKM_CheckCentroids.hpp>
#include <kkmeans/core/KKM_Error.hpp>
#include <kkmeans/kernels/KKM_Assign.hpp>
#include <kkmeans/kernels/KKM_RowDistances.hpp>
#include <kkmeans/metrics/KKM_Metrics.hpp>
#include <kkmeans/metrics/detail/KKM_MetricTraits.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <string>
#include <type_traits>

namespace kkm {

/// Labels of the rows of `data` for given centroids (k × d, host): the nearest centroid by the
/// metric, ties → lowest index. If `inertia` is given it receives the local sum of distances.
template <class ExecSpace, class T, class... P, class Metric>
Kokkos::View<int*, typename ExecSpace::memory_space> predict(
    ExecSpace const& space, Kokkos::View<T**, P...> const& data,
    Kokkos::View<std::remove_const_t<T>**, Kokkos::LayoutRight, Kokkos::HostSpace> const& centroids,
    Metric const& metric, double* inertia = nullptr, std::int64_t batch_size = 0) {
  using V = std::remove_const_t<T>;
  using mem = typename ExecSpace::memory_space;
  detail::check_metric<Metric, V>();
  int const d = data.extent(1);
  KKM_REQUIRE(int(centroids.extent(1)) == d, "the model has " + std::to_string(centroids.extent(1)) +
                                                 " columns but the data has " + std::to_string(d));
  KKM_REQUIRE(centroids.extent(0) >= 1, "the model has no centroids");
  detail::check_centroid_values<V>(
      centroids.extent(0), d, [&](std::int64_t q, int j) { return static_cast<double>(centroids(q, j)); },
      "model centroid");
  detail::check_metric_dimensions(metric, d);
  detail::DeviceMatrix<ExecSpace, V> x = data;
  Kokkos::View<V**, Kokkos::LayoutRight, mem> c("kkm::centroids", centroids.extent(0), d);
  Kokkos::deep_copy(space, c, centroids);
  Kokkos::View<int*, mem> labels(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::labels"), x.extent(0));
  Kokkos::View<double*, mem> scale("kkm::scale", d);
  detail::AssignWorkspace<ExecSpace, V> ws;
  double const s = detail::assign_rows<false>(space, x, detail::DeviceMatrix<ExecSpace, V>(c), scale,
                                              Kokkos::View<detail::fixed_t*, mem>(), labels, metric, detail::GemmKind::none,
                                              batch_size, ws);
  if (inertia) *inertia = s;
  return labels;
}


/// Distance of each row of `data` to the centroid its label names (e.g. the labels from predict).
template <class ExecSpace, class T, class... P, class Metric>
Kokkos::View<double*, typename ExecSpace::memory_space> assigned_distances(
    ExecSpace const& space, Kokkos::View<T**, P...> const& data,
    Kokkos::View<std::remove_const_t<T>**, Kokkos::LayoutRight, Kokkos::HostSpace> const& centroids,
    Kokkos::View<int*, typename ExecSpace::memory_space> const& labels, Metric const& metric) {
  using V = std::remove_const_t<T>;
  detail::check_metric<Metric, V>();
  int const d = data.extent(1);
  KKM_REQUIRE(int(centroids.extent(1)) == d, "the model's d differs from the data's");
  Kokkos::View<V**, Kokkos::LayoutRight, typename ExecSpace::memory_space> c("kkm::centroids", centroids.extent(0), d);
  Kokkos::deep_copy(space, c, centroids);
  return detail::assigned_distances_impl(space, detail::DeviceMatrix<ExecSpace, V>(data), c, labels, metric);
}

/// Distances of every row of `data` to every centroid (n × k): scikit-learn's transform. This is
/// an n × k array by design; use predict when only labels are needed.
template <class ExecSpace, class T, class... P, class Metric>
Kokkos::View<std::remove_const_t<T>**, Kokkos::LayoutRight, typename ExecSpace::memory_space> transform(
    ExecSpace const& space, Kokkos::View<T**, P...> const& data,
    Kokkos::View<std::remove_const_t<T>**, Kokkos::LayoutRight, Kokkos::HostSpace> const& centroids,
    Metric const& metric) {
  using V = std::remove_const_t<T>;
  using mem = typename ExecSpace::memory_space;
  detail::check_metric<Metric, V>();
  int const d = data.extent(1);
  int const k = centroids.extent(0);
  KKM_REQUIRE(int(centroids.extent(1)) == d, "the model has " + std::to_string(centroids.extent(1)) +
                                                 " columns but the data has " + std::to_string(d));
  detail::check_metric_dimensions(metric, d);
  Kokkos::View<V**, Kokkos::LayoutRight, mem> c("kkm::centroids", k, d);
  Kokkos::deep_copy(space, c, centroids);
  return detail::transform_impl(space, detail::DeviceMatrix<ExecSpace, V>(data), c, metric);
}

}  // namespace kkm
