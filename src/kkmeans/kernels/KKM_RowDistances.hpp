#pragma once
/// \file KKM_RowDistances.hpp
/// \brief Distances by the metric outside the assignment: of each row to the centroid its label
/// names, and of every row to every centroid (scikit-learn's transform, an n × k result by design).
#include <kkmeans/core/KKM_Backend.hpp>
#include <kkmeans/metrics/KKM_Metrics.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace kkm::detail {

// Kernels of predict-side helpers are functors, not lambdas: these templates are instantiated with
// the same arguments in several translation units (fit and predict), and nvcc's device lambdas
// there can leave the host-side launch of one instantiation calling a null function pointer.
template <class V, class Mem, class Metric>
struct AssignedDistance {
  Kokkos::View<V const**, Kokkos::LayoutRight, Mem> x;
  Kokkos::View<compute_t<V>**, Kokkos::LayoutRight, Mem> c;
  Kokkos::View<int*, Mem> labels;
  Kokkos::View<double*, Mem> out;
  Metric metric;
  int d;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i) const {
    out(i) = static_cast<double>(metric(VectorRef<V>{&x(i, 0), d}, VectorRef<compute_t<V>>{&c(labels(i), 0), d}));
  }
};

template <class V, class Mem, class Metric>
struct AllDistances {
  Kokkos::View<V const**, Kokkos::LayoutRight, Mem> x;
  Kokkos::View<compute_t<V>**, Kokkos::LayoutRight, Mem> c;
  Kokkos::View<compute_t<V>**, Kokkos::LayoutRight, Mem> out;
  Metric metric;
  int d;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, std::int64_t j) const {
    out(i, j) = static_cast<compute_t<V>>(metric(VectorRef<V>{&x(i, 0), d}, VectorRef<compute_t<V>>{&c(j, 0), d}));
  }
};

template <class ExecSpace, class V, class Metric>
Kokkos::View<double*, typename ExecSpace::memory_space> assigned_distances_impl(
    ExecSpace const& space, DeviceMatrix<ExecSpace, V> x,
    Kokkos::View<compute_t<V>**, Kokkos::LayoutRight, typename ExecSpace::memory_space> c,
    Kokkos::View<int*, typename ExecSpace::memory_space> labels, Metric metric) {
  using mem = typename ExecSpace::memory_space;
  Kokkos::View<double*, mem> out(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::assigned_distances"),
                                 x.extent(0));
  Kokkos::parallel_for(
      "kkm::assigned_distances", Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, x.extent(0)),
      AssignedDistance<V, mem, Metric>{x, c, labels, out, metric, static_cast<int>(x.extent(1))});
  return out;
}

template <class ExecSpace, class V, class Metric>
Kokkos::View<compute_t<V>**, Kokkos::LayoutRight, typename ExecSpace::memory_space> transform_impl(
    ExecSpace const& space, DeviceMatrix<ExecSpace, V> x,
    Kokkos::View<compute_t<V>**, Kokkos::LayoutRight, typename ExecSpace::memory_space> c, Metric metric) {
  using mem = typename ExecSpace::memory_space;
  std::int64_t const n = x.extent(0), k = c.extent(0);
  Kokkos::View<compute_t<V>**, Kokkos::LayoutRight, mem> out(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "kkm::distances"), n, k);
  Kokkos::parallel_for("kkm::transform", Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>(space, {0, 0}, {n, k}),
                       AllDistances<V, mem, Metric>{x, c, out, metric, static_cast<int>(x.extent(1))});
  return out;
}

}  // namespace kkm::detail
